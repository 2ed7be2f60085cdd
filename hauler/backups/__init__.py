"""Database backups: make, verify, restore, prune and vacuum Hauler's own database."""
