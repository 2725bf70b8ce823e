"""One module per resource; ``BLUEPRINTS`` lists them in the order the document shows them."""

from __future__ import annotations

from portal.api.resources import clients, invoices

BLUEPRINTS = [clients.bp, invoices.bp]
