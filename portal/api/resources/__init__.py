"""One module per resource; ``BLUEPRINTS`` lists them in the order the document shows them."""

from __future__ import annotations

from portal.api.resources import (
    catalogue,
    clients,
    envelopes,
    invoices,
    payments,
    quotes,
    recurring,
    reports,
    webhooks,
)

BLUEPRINTS = [
    clients.bp,
    catalogue.products_bp,
    catalogue.tax_rates_bp,
    invoices.bp,
    quotes.quotes_bp,
    quotes.notes_bp,
    payments.payments_bp,
    payments.refunds_bp,
    recurring.bp,
    envelopes.bp,
    reports.bp,
    webhooks.endpoints_bp,
    webhooks.events_bp,
]
