"""Recovery of failed downloads: ordered strategies per category, scheduled with backoff."""
