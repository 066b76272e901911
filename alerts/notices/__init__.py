"""Notices: what agencies submit, operators decide, and the lifecycle every output follows."""
