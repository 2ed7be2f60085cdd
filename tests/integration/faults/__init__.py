"""Fault tests: real processes, real servers, killed on purpose."""
