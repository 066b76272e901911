"""Shared plumbing for hexcast: settings, database, ORM models, Celery app, logging."""
