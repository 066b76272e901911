"""Expansion: an active notice's circle widening by planned steps."""
