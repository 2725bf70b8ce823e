"""Secrets at rest: encrypted with the key ring, rotated, migrated."""
