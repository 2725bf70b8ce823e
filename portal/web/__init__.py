"""Blueprints and the request-wide wiring: security headers, errors, the current actor."""

from __future__ import annotations

from flask import Flask

from portal.web import (
    access,
    analytics,
    audit,
    auth,
    branding,
    catalogue,
    client_portal,
    clients,
    credit_notes,
    dashboard,
    delivery,
    developers,
    einvoices,
    email_templates,
    envelopes,
    errors,
    experiments,
    filters,
    gdpr,
    hooks,
    invoices,
    jobs,
    notifications,
    oauth,
    online_payments,
    operations,
    payment_settings,
    pdfs,
    quotes,
    reports,
    security,
    security_settings,
    settings,
    sharing,
    team,
    webhooks,
)


def register(app: Flask) -> None:
    # The outbox's handlers, wherever the app runs (web, worker, CLI).
    import portal.jobs.delivery
    import portal.jobs.notifications
    import portal.jobs.payments
    import portal.jobs.webhooks  # noqa: F401  (also registers the audit listener)

    # Sessions first: a revoked or timed-out session must not load an actor.
    auth.init_app(app)
    access.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    filters.init_app(app)
    for bp in (
        auth.bp,
        dashboard.bp,
        clients.bp,
        invoices.bp,
        quotes.bp,
        credit_notes.bp,
        pdfs.bp,
        jobs.bp,
        reports.bp,
        branding.bp,
        email_templates.bp,
        einvoices.bp,
        envelopes.bp,
        delivery.bp,
        notifications.bp,
        operations.bp,
        client_portal.bp,
        payment_settings.bp,
        experiments.bp,
        analytics.bp,
        hooks.bp,
        online_payments.bp,
        sharing.bp,
        catalogue.bp,
        team.bp,
        security_settings.bp,
        developers.bp,
        oauth.bp,
        settings.bp,
        webhooks.bp,
        audit.bp,
        gdpr.bp,
    ):
        app.register_blueprint(bp)
    from portal.api.app import init_api

    init_api(app)
    from portal.cli import register_commands

    register_commands(app)
