"""CLI command groups beyond the core ones in portal/cli.py, one module per area."""
