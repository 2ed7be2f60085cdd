"""Uploads: send a local file to a destination URL (file, HTTP(S), S3) and verify it."""
