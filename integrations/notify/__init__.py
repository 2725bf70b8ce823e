"""Notifiers: email and chat."""
