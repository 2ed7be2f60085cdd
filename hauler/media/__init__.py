"""Thumbnails and video sprite sheets with a WebVTT index, cached by content."""
