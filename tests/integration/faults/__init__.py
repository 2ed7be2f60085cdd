"""Fault tests: the promises of the foundation, against real processes under faults."""
