"""Helpers both test tiers share."""
