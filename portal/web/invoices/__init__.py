"""The invoices area: list, editor, detail and the actions on an invoice."""

from portal.web.invoices.routes import bp

__all__ = ["bp"]
