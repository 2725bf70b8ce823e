"""Adapters to the outside world; this package never imports ``portal``."""
