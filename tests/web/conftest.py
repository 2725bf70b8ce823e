"""Web tests use the fixtures of tests/conftest.py."""
