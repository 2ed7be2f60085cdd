"""The recorder: Celery events → activity rows in batches, and Prometheus metrics."""
