"""Hauler: a Celery-centric distributed task platform for moving and processing files."""

__version__ = "0.1.0"
