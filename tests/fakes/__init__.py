"""Servers on 127.0.0.1 that speak a provider's documented API for the tests."""
