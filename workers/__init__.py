"""The Celery app, the one task decorator every Hauler task uses, and worker signals."""
