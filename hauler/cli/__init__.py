"""The ``hauler`` command line: one module per command group."""
