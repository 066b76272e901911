"""Webhooks: signed events agencies receive about their notices."""
