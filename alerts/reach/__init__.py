"""Reach: how many devices an area would reach, before anything is sent."""
