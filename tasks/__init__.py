"""Celery task entry points: thin wrappers that validate a payload and call one service."""
