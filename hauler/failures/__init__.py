"""Failure classification: the clients' own texts and codes mapped to categories, as data."""
