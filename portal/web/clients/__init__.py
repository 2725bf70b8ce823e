"""The clients area."""

from portal.web.clients.routes import bp

__all__ = ["bp"]
