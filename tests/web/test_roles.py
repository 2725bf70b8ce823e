"""Who may open what: every route in the app, every role, and strangers from another business."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from integrations.notify.email import OutgoingEmail
from portal.extensions import db
from portal.models import (
    AuditEvent,
    Checkout,
    Dispute,
    DocumentKind,
    NotificationChannel,
    OutboxMessage,
    PaymentAccount,
    ReceivedDocument,
    Role,
    SavedPaymentMethod,
)
from portal.services import (
    api_keys,
    auth,
    catalogue,
    client_portal,
    clients,
    credit_notes,
    delivery,
    documents,
    experiments,
    gdpr,
    jobs,
    mail,
    oauth,
    payments,
    quotes,
    webhooks,
)
from portal.services import team as team_service
from portal.services.catalogue import ProductData, TaxRateData
from portal.services.clients import ClientData
from portal.services.documents import DraftData, LineData
from tests.conftest import PASSWORD, Team, make_team
from tests.web.helpers import count, heading, text_of

PUBLIC = "public"
LOGIN_ONLY = "login only"
ROLES = [Role.OWNER, Role.ADMIN, Role.ACCOUNTANT, Role.STAFF, Role.VIEWER]
# What an allowed request may answer; anything else (403, 404, 405, 500, 400) is a failure.
ALLOWED = {200, 204, 286, 302, 303, 422}
API_ANONYMOUS = frozenset({401})


@dataclass(frozen=True)
class Access:
    endpoint: str
    need: Role | str
    url: str  # formatted with the ids of the business's objects
    data: dict[str, str] | None = None
    # What an allowed call answers, where it is not one of ALLOWED (a webhook without a body).
    statuses: frozenset[int] | None = None


# An app's consent screen, as an app sends people to it (PKCE S256, a registered redirect URI).
AUTHORIZE = (
    "/oauth/authorize?response_type=code&client_id={oauth_client_id}&scope=clients:read"
    "&redirect_uri=https://app.example/cb&state=s&code_challenge_method=S256"
    "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

# (method, rule) -> who may call it, and how to call it with real ids.
ACCESS: dict[tuple[str, str], Access] = {
    ("GET", "/"): Access("dashboard.root", PUBLIC, "/"),
    ("GET", "/signup"): Access("auth.signup", PUBLIC, "/signup"),
    ("POST", "/signup"): Access("auth.signup", PUBLIC, "/signup", {}),
    ("GET", "/login"): Access("auth.login", PUBLIC, "/login"),
    ("POST", "/login"): Access("auth.login", PUBLIC, "/login", {}),
    ("POST", "/logout"): Access("auth.logout", LOGIN_ONLY, "/logout", {}),
    ("GET", "/password/forgot"): Access("auth.forgot_password", PUBLIC, "/password/forgot"),
    ("POST", "/password/forgot"): Access("auth.forgot_password", PUBLIC, "/password/forgot", {}),
    ("GET", "/password/reset/<token>"): Access(
        "auth.reset_password", PUBLIC, "/password/reset/{reset_token}"
    ),
    ("POST", "/password/reset/<token>"): Access(
        "auth.reset_password", PUBLIC, "/password/reset/{reset_token}", {}
    ),
    ("GET", "/no-business"): Access("auth.no_business", LOGIN_ONLY, "/no-business"),
    ("GET", "/login/two-factor"): Access("auth.second_step", PUBLIC, "/login/two-factor"),
    ("POST", "/login/two-factor"): Access("auth.second_step", PUBLIC, "/login/two-factor", {}),
    ("POST", "/login/two-factor/key/options"): Access(
        "auth.security_key_options", PUBLIC, "/login/two-factor/key/options", {}
    ),
    ("POST", "/login/two-factor/key"): Access(
        "auth.second_step_key", PUBLIC, "/login/two-factor/key", {}
    ),
    ("GET", "/app/account/security/"): Access(
        "security_settings.index", LOGIN_ONLY, "/app/account/security/"
    ),
    ("GET", "/app/account/security/two-factor"): Access(
        "security_settings.setup", LOGIN_ONLY, "/app/account/security/two-factor"
    ),
    ("POST", "/app/account/security/two-factor"): Access(
        "security_settings.setup", LOGIN_ONLY, "/app/account/security/two-factor", {}
    ),
    ("POST", "/app/account/security/two-factor/recovery-codes"): Access(
        "security_settings.regenerate_codes",
        LOGIN_ONLY,
        "/app/account/security/two-factor/recovery-codes",
        {},
    ),
    ("POST", "/app/account/security/two-factor/disable"): Access(
        "security_settings.disable", LOGIN_ONLY, "/app/account/security/two-factor/disable", {}
    ),
    ("POST", "/app/account/security/keys/options"): Access(
        "security_settings.key_options", LOGIN_ONLY, "/app/account/security/keys/options", {}
    ),
    ("POST", "/app/account/security/keys"): Access(
        "security_settings.add_key", LOGIN_ONLY, "/app/account/security/keys", {}
    ),
    # A key, device or session of nobody: every member may ask, and finds nothing to change.
    ("POST", "/app/account/security/keys/<public_id>/rename"): Access(
        "security_settings.rename_key",
        LOGIN_ONLY,
        "/app/account/security/keys/not-a-key/rename",
        {"name": "Mine"},
        frozenset({404}),
    ),
    ("POST", "/app/account/security/keys/<public_id>/remove"): Access(
        "security_settings.remove_key",
        LOGIN_ONLY,
        "/app/account/security/keys/not-a-key/remove",
        {},
        frozenset({404}),
    ),
    ("POST", "/app/account/security/devices/<public_id>/forget"): Access(
        "security_settings.forget_device",
        LOGIN_ONLY,
        "/app/account/security/devices/not-a-device/forget",
        {},
        frozenset({404}),
    ),
    ("POST", "/app/account/security/devices/forget-all"): Access(
        "security_settings.forget_all_devices",
        LOGIN_ONLY,
        "/app/account/security/devices/forget-all",
        {},
    ),
    ("GET", "/app/account/security/sessions"): Access(
        "security_settings.sessions_page", LOGIN_ONLY, "/app/account/security/sessions"
    ),
    ("POST", "/app/account/security/sessions/<public_id>/revoke"): Access(
        "security_settings.revoke_session",
        LOGIN_ONLY,
        "/app/account/security/sessions/not-a-session/revoke",
        {},
        frozenset({404}),
    ),
    ("POST", "/app/account/security/sessions/revoke-others"): Access(
        "security_settings.revoke_other_sessions",
        LOGIN_ONLY,
        "/app/account/security/sessions/revoke-others",
        {},
    ),
    ("GET", "/app/account/security/password"): Access(
        "security_settings.password", LOGIN_ONLY, "/app/account/security/password"
    ),
    ("POST", "/app/account/security/password"): Access(
        "security_settings.password", LOGIN_ONLY, "/app/account/security/password", {}
    ),
    ("POST", "/app/account/security/business"): Access(
        "security_settings.business_requirement",
        Role.OWNER,
        "/app/account/security/business",
        {},
    ),
    ("GET", "/app/"): Access("dashboard.home", Role.VIEWER, "/app/"),
    ("GET", "/app/clients/"): Access("clients.index", Role.VIEWER, "/app/clients/?q=blue"),
    ("GET", "/app/clients/new"): Access("clients.new", Role.STAFF, "/app/clients/new"),
    ("POST", "/app/clients/new"): Access("clients.new", Role.STAFF, "/app/clients/new", {}),
    ("GET", "/app/clients/contact-row"): Access(
        "clients.contact_row", Role.STAFF, "/app/clients/contact-row?index=2"
    ),
    ("GET", "/app/clients/<public_id>"): Access(
        "clients.detail", Role.VIEWER, "/app/clients/{client}"
    ),
    ("GET", "/app/clients/<public_id>/edit"): Access(
        "clients.edit", Role.STAFF, "/app/clients/{client}/edit"
    ),
    ("POST", "/app/clients/<public_id>/edit"): Access(
        "clients.edit", Role.STAFF, "/app/clients/{client}/edit", {}
    ),
    ("POST", "/app/clients/<public_id>/archive"): Access(
        "clients.archive", Role.STAFF, "/app/clients/{client}/archive", {}
    ),
    ("POST", "/app/clients/<public_id>/restore"): Access(
        "clients.restore", Role.STAFF, "/app/clients/{client}/restore", {}
    ),
    ("GET", "/app/tax-rates"): Access("catalogue.tax_rates", Role.VIEWER, "/app/tax-rates"),
    ("GET", "/app/tax-rates/new"): Access(
        "catalogue.tax_rate_form", Role.ACCOUNTANT, "/app/tax-rates/new"
    ),
    ("POST", "/app/tax-rates/new"): Access(
        "catalogue.tax_rate_form", Role.ACCOUNTANT, "/app/tax-rates/new", {}
    ),
    ("GET", "/app/tax-rates/<public_id>/edit"): Access(
        "catalogue.tax_rate_form", Role.ACCOUNTANT, "/app/tax-rates/{tax_rate}/edit"
    ),
    ("POST", "/app/tax-rates/<public_id>/edit"): Access(
        "catalogue.tax_rate_form", Role.ACCOUNTANT, "/app/tax-rates/{tax_rate}/edit", {}
    ),
    ("POST", "/app/tax-rates/<public_id>/archive"): Access(
        "catalogue.tax_rate_archive", Role.ACCOUNTANT, "/app/tax-rates/{tax_rate}/archive", {}
    ),
    ("POST", "/app/tax-rates/<public_id>/restore"): Access(
        "catalogue.tax_rate_restore", Role.ACCOUNTANT, "/app/tax-rates/{tax_rate}/restore", {}
    ),
    ("GET", "/app/products"): Access("catalogue.products", Role.VIEWER, "/app/products"),
    ("GET", "/app/products/new"): Access(
        "catalogue.product_form", Role.ACCOUNTANT, "/app/products/new"
    ),
    ("POST", "/app/products/new"): Access(
        "catalogue.product_form", Role.ACCOUNTANT, "/app/products/new", {}
    ),
    ("GET", "/app/products/<public_id>/edit"): Access(
        "catalogue.product_form", Role.ACCOUNTANT, "/app/products/{product}/edit"
    ),
    ("POST", "/app/products/<public_id>/edit"): Access(
        "catalogue.product_form", Role.ACCOUNTANT, "/app/products/{product}/edit", {}
    ),
    ("POST", "/app/products/<public_id>/archive"): Access(
        "catalogue.product_archive", Role.ACCOUNTANT, "/app/products/{product}/archive", {}
    ),
    ("POST", "/app/products/<public_id>/restore"): Access(
        "catalogue.product_restore", Role.ACCOUNTANT, "/app/products/{product}/restore", {}
    ),
    ("GET", "/app/team"): Access("team.index", Role.VIEWER, "/app/team"),
    ("POST", "/app/team/invite"): Access("team.invite", Role.ADMIN, "/app/team/invite", {}),
    ("POST", "/app/team/invitations/<public_id>/revoke"): Access(
        "team.revoke", Role.ADMIN, "/app/team/invitations/{invitation}/revoke", {}
    ),
    ("POST", "/app/team/members/<public_id>/role"): Access(
        "team.change_role", Role.ADMIN, "/app/team/members/{member}/role", {"role": "staff"}
    ),
    ("POST", "/app/team/members/<public_id>/remove"): Access(
        "team.remove", Role.ADMIN, "/app/team/members/{member}/remove", {}
    ),
    ("POST", "/app/clients/<public_id>/portal-links"): Access(
        "sharing.create", Role.STAFF, "/app/clients/{client}/portal-links", {}
    ),
    ("POST", "/app/portal-links/<link_public_id>/revoke"): Access(
        "sharing.revoke", Role.STAFF, "/app/portal-links/{portal_link}/revoke", {}
    ),
    ("GET", "/app/audit/"): Access("audit.index", Role.ACCOUNTANT, "/app/audit/?tab=changes"),
    ("GET", "/app/audit/export.csv"): Access(
        "audit.export_csv", Role.ACCOUNTANT, "/app/audit/export.csv?tab=sign-ins"
    ),
    ("POST", "/app/audit/verify"): Access("audit.verify", Role.OWNER, "/app/audit/verify", {}),
    ("POST", "/app/clients/<public_id>/privacy/export"): Access(
        "gdpr.export", Role.ACCOUNTANT, "/app/clients/{client}/privacy/export", {}
    ),
    ("GET", "/app/privacy/exports/<job_id>"): Access(
        "gdpr.export_job", Role.ACCOUNTANT, "/app/privacy/exports/{privacy_export}"
    ),
    ("GET", "/app/privacy/exports/<job_id>/status"): Access(
        "gdpr.export_status",
        Role.ACCOUNTANT,
        "/app/privacy/exports/{privacy_export}/status",
    ),
    ("GET", "/app/privacy/exports/<job_id>/download"): Access(
        "gdpr.export_download",
        Role.ACCOUNTANT,
        "/app/privacy/exports/{privacy_export}/download",
    ),
    # Without the typed name nothing is erased: the page answers 422.
    ("GET", "/app/clients/<public_id>/privacy/erase"): Access(
        "gdpr.erase", Role.ADMIN, "/app/clients/{client}/privacy/erase"
    ),
    ("POST", "/app/clients/<public_id>/privacy/erase"): Access(
        "gdpr.erase", Role.ADMIN, "/app/clients/{client}/privacy/erase", {}
    ),
    ("POST", "/app/clients/<public_id>/privacy/tracking"): Access(
        "gdpr.tracking", Role.STAFF, "/app/clients/{client}/privacy/tracking", {"opt_out": "1"}
    ),
    ("GET", "/app/settings/privacy"): Access("gdpr.retention", Role.ADMIN, "/app/settings/privacy"),
    ("POST", "/app/settings/privacy"): Access(
        "gdpr.retention", Role.ADMIN, "/app/settings/privacy", {}
    ),
    ("GET", "/pay/<token>"): Access("client_portal.home", PUBLIC, "/pay/{portal_token}"),
    ("GET", "/pay/<token>/pdf"): Access("client_portal.pdf", PUBLIC, "/pay/{invoice_link}/pdf"),
    ("GET", "/pay/<token>/documents/<public_id>"): Access(
        "client_portal.document", PUBLIC, "/pay/{portal_token}/documents/{portal_invoice}"
    ),
    ("GET", "/pay/<token>/documents/<public_id>/pdf"): Access(
        "client_portal.document_pdf", PUBLIC, "/pay/{portal_token}/documents/{portal_invoice}/pdf"
    ),
    ("POST", "/pay/<token>/accept"): Access(
        "client_portal.accept", PUBLIC, "/pay/{quote_link}/accept", {}
    ),
    ("POST", "/pay/<token>/decline"): Access(
        "client_portal.decline", PUBLIC, "/pay/{quote_link}/decline", {}
    ),
    ("POST", "/pay/<token>/documents/<public_id>/accept"): Access(
        "client_portal.accept_document",
        PUBLIC,
        "/pay/{portal_token}/documents/{portal_quote}/accept",
        {},
    ),
    ("POST", "/pay/<token>/documents/<public_id>/decline"): Access(
        "client_portal.decline_document",
        PUBLIC,
        "/pay/{portal_token}/documents/{portal_quote}/decline",
        {},
    ),
    ("GET", "/pay/<token>/statement"): Access(
        "client_portal.statement", PUBLIC, "/pay/{portal_token}/statement"
    ),
    ("GET", "/pay/<token>/statement.pdf"): Access(
        "client_portal.statement_pdf", PUBLIC, "/pay/{portal_token}/statement.pdf"
    ),
    ("GET", "/pay/<token>/statement.csv"): Access(
        "client_portal.statement_csv", PUBLIC, "/pay/{portal_token}/statement.csv"
    ),
    ("GET", "/pay/<token>/payments"): Access(
        "client_portal.payments", PUBLIC, "/pay/{portal_token}/payments"
    ),
    ("GET", "/pay/<token>/brand.css"): Access(
        "client_portal.brand_css", PUBLIC, "/pay/{portal_token}/brand.css"
    ),
    ("POST", "/pay/<token>/checkout"): Access(
        "client_portal.checkout", PUBLIC, "/pay/{invoice_link}/checkout", {"provider": "stripe"}
    ),
    ("POST", "/pay/<token>/documents/<public_id>/checkout"): Access(
        "client_portal.document_checkout",
        PUBLIC,
        "/pay/{portal_token}/documents/{portal_invoice}/checkout",
        {"provider": "stripe"},
    ),
    ("GET", "/pay/<token>/checkouts/<cid>/return"): Access(
        "client_portal.checkout_return", PUBLIC, "/pay/{portal_token}/checkouts/{checkout}/return"
    ),
    ("GET", "/pay/<token>/checkouts/<cid>/status"): Access(
        "client_portal.checkout_status", PUBLIC, "/pay/{portal_token}/checkouts/{checkout}/status"
    ),
    ("GET", "/pay/<token>/checkouts/<cid>/cancel"): Access(
        "client_portal.checkout_cancel", PUBLIC, "/pay/{portal_token}/checkouts/{checkout}/cancel"
    ),
    ("POST", "/hooks/payments/<provider>/<account_id>"): Access(
        "hooks.payment_webhook",
        PUBLIC,
        "/hooks/payments/stripe/{payment_account}",
        {},
        statuses=frozenset({400}),
    ),
    ("GET", "/app/settings/payments"): Access(
        "payment_settings.index", Role.ADMIN, "/app/settings/payments"
    ),
    ("GET", "/app/settings/payments/<provider>"): Access(
        "payment_settings.edit", Role.ADMIN, "/app/settings/payments/stripe"
    ),
    ("POST", "/app/settings/payments/<provider>"): Access(
        "payment_settings.edit", Role.ADMIN, "/app/settings/payments/stripe", {}
    ),
    ("POST", "/app/settings/payments/<provider>/<action>"): Access(
        "payment_settings.toggle", Role.ADMIN, "/app/settings/payments/stripe/enable", {}
    ),
    ("POST", "/app/payments/<public_id>/refund"): Access(
        "online_payments.refund", Role.ACCOUNTANT, "/app/payments/{payment}/refund", {}
    ),
    ("POST", "/app/disputes/<public_id>/evidence"): Access(
        "online_payments.evidence", Role.ACCOUNTANT, "/app/disputes/{dispute}/evidence", {}
    ),
    ("POST", "/pay/<token>/cards"): Access(
        "client_portal.save_card", PUBLIC, "/pay/{portal_token}/cards", {}
    ),
    ("GET", "/pay/<token>/cards/<cid>/return"): Access(
        "client_portal.card_return", PUBLIC, "/pay/{portal_token}/cards/{setup_checkout}/return"
    ),
    ("POST", "/app/cards/<public_id>/recurring"): Access(
        "online_payments.card_recurring",
        Role.ACCOUNTANT,
        "/app/cards/{card}/recurring",
        {"use": "1"},
    ),
    ("POST", "/app/cards/<public_id>/remove"): Access(
        "online_payments.card_remove", Role.ACCOUNTANT, "/app/cards/{card}/remove", {}
    ),
    ("POST", "/app/settings/stripe-connect"): Access(
        "payment_settings.stripe_connect", Role.OWNER, "/app/settings/stripe-connect", {}
    ),
    ("GET", "/app/settings/stripe-connect/return"): Access(
        "payment_settings.stripe_connected", Role.OWNER, "/app/settings/stripe-connect/return"
    ),
    ("GET", "/app/settings/stripe-payouts"): Access(
        "payment_settings.stripe_payouts", Role.ADMIN, "/app/settings/stripe-payouts"
    ),
    ("POST", "/hooks/stripe-connect"): Access(
        "hooks.stripe_connect_webhook",
        PUBLIC,
        "/hooks/stripe-connect",
        {},
        statuses=frozenset({404}),  # this server offers no Stripe Connect
    ),
    ("GET", "/app/experiments"): Access("experiments.index", Role.ACCOUNTANT, "/app/experiments"),
    ("POST", "/app/experiments"): Access("experiments.create", Role.ADMIN, "/app/experiments", {}),
    ("GET", "/app/experiments/<public_id>"): Access(
        "experiments.show", Role.ACCOUNTANT, "/app/experiments/{experiment}"
    ),
    ("POST", "/app/experiments/<public_id>/<action>"): Access(
        "experiments.change", Role.ADMIN, "/app/experiments/{experiment}/pause", {}
    ),
    ("GET", "/invitations/<token>"): Access("team.accept", PUBLIC, "/invitations/{invite_token}"),
    ("POST", "/invitations/<token>"): Access(
        "team.accept", PUBLIC, "/invitations/{invite_token}", {}
    ),
    ("GET", "/app/settings/"): Access("settings.business", Role.ADMIN, "/app/settings/"),
    ("POST", "/app/settings/"): Access("settings.business", Role.ADMIN, "/app/settings/", {}),
    ("POST", "/app/settings/switch"): Access(
        "settings.switch", LOGIN_ONLY, "/app/settings/switch", {"business": "{business}"}
    ),
    ("GET", "/app/invoices/"): Access("invoices.index", Role.VIEWER, "/app/invoices/?overdue=1"),
    ("GET", "/app/invoices/new"): Access("invoices.new", Role.STAFF, "/app/invoices/new"),
    ("POST", "/app/invoices/new"): Access("invoices.new", Role.STAFF, "/app/invoices/new", {}),
    ("POST", "/app/invoices/editor"): Access(
        "invoices.editor", Role.STAFF, "/app/invoices/editor", {"op": "add"}
    ),
    ("GET", "/app/invoices/<public_id>"): Access(
        "invoices.detail", Role.VIEWER, "/app/invoices/{invoice}"
    ),
    ("GET", "/app/invoices/<public_id>/edit"): Access(
        "invoices.edit", Role.STAFF, "/app/invoices/{draft}/edit"
    ),
    ("POST", "/app/invoices/<public_id>/edit"): Access(
        "invoices.edit", Role.STAFF, "/app/invoices/{draft}/edit", {}
    ),
    ("POST", "/app/invoices/<public_id>/issue"): Access(
        "invoices.issue", Role.STAFF, "/app/invoices/{draft}/issue", {}
    ),
    ("POST", "/app/invoices/<public_id>/delete"): Access(
        "invoices.delete", Role.STAFF, "/app/invoices/{draft}/delete", {}
    ),
    ("POST", "/app/invoices/<public_id>/void"): Access(
        "invoices.void", Role.ACCOUNTANT, "/app/invoices/{invoice}/void", {"reason": "Duplicate"}
    ),
    ("POST", "/app/invoices/<public_id>/write-off"): Access(
        "invoices.write_off",
        Role.ACCOUNTANT,
        "/app/invoices/{invoice}/write-off",
        {"reason": "Client closed"},
    ),
    ("POST", "/app/invoices/<public_id>/payments"): Access(
        "invoices.record_payment",
        Role.ACCOUNTANT,
        "/app/invoices/{invoice}/payments",
        {"amount": "10", "received_on": "2026-01-05", "method": "cash"},
    ),
    ("GET", "/app/quotes/"): Access("quotes.index", Role.VIEWER, "/app/quotes/?status=sent"),
    ("GET", "/app/quotes/new"): Access("quotes.new", Role.STAFF, "/app/quotes/new"),
    ("POST", "/app/quotes/new"): Access("quotes.new", Role.STAFF, "/app/quotes/new", {}),
    ("GET", "/app/quotes/<public_id>"): Access("quotes.detail", Role.VIEWER, "/app/quotes/{quote}"),
    ("GET", "/app/quotes/<public_id>/edit"): Access(
        "quotes.edit", Role.STAFF, "/app/quotes/{quote}/edit"
    ),
    ("POST", "/app/quotes/<public_id>/edit"): Access(
        "quotes.edit", Role.STAFF, "/app/quotes/{quote}/edit", {}
    ),
    ("POST", "/app/quotes/<public_id>/send"): Access(
        "quotes.send", Role.STAFF, "/app/quotes/{quote}/send", {}
    ),
    ("POST", "/app/quotes/<public_id>/accept"): Access(
        "quotes.accept", Role.STAFF, "/app/quotes/{quote}/accept", {"accepted_by": "Ana"}
    ),
    ("POST", "/app/quotes/<public_id>/decline"): Access(
        "quotes.decline", Role.STAFF, "/app/quotes/{quote}/decline", {}
    ),
    ("POST", "/app/quotes/<public_id>/convert"): Access(
        "quotes.convert", Role.STAFF, "/app/quotes/{quote}/convert", {}
    ),
    ("POST", "/app/quotes/<public_id>/final-invoice"): Access(
        "quotes.final_invoice", Role.STAFF, "/app/quotes/{quote}/final-invoice", {}
    ),
    ("POST", "/app/invoices/<public_id>/instalments"): Access(
        "invoices.split",
        Role.ACCOUNTANT,
        "/app/invoices/{invoice}/instalments",
        {"count": "3", "first_due": "2030-01-31"},
    ),
    ("POST", "/app/invoices/export.zip"): Access(
        "jobs.export_invoices", Role.VIEWER, "/app/invoices/export.zip", {"status": "issued"}
    ),
    ("GET", "/app/jobs/<public_id>"): Access("jobs.detail", Role.VIEWER, "/app/jobs/{job}"),
    ("GET", "/app/jobs/<public_id>/status"): Access(
        "jobs.status", Role.VIEWER, "/app/jobs/{job}/status"
    ),
    ("GET", "/app/jobs/<public_id>/download"): Access(
        "jobs.download", Role.VIEWER, "/app/jobs/{job}/download"
    ),
    ("GET", "/app/reports/"): Access("reports.index", Role.ACCOUNTANT, "/app/reports/"),
    ("GET", "/app/reports/<slug>"): Access(
        "reports.show", Role.ACCOUNTANT, "/app/reports/invoice-register"
    ),
    ("POST", "/app/reports/<slug>/export"): Access(
        "reports.export", Role.ACCOUNTANT, "/app/reports/invoice-register/export", {}
    ),
    ("GET", "/app/reports/exports/<public_id>"): Access(
        "reports.job", Role.ACCOUNTANT, "/app/reports/exports/{report_job}"
    ),
    ("GET", "/app/reports/exports/<public_id>/status"): Access(
        "reports.job_status", Role.ACCOUNTANT, "/app/reports/exports/{report_job}/status"
    ),
    ("GET", "/app/reports/exports/<public_id>/download"): Access(
        "reports.job_download", Role.ACCOUNTANT, "/app/reports/exports/{report_job}/download"
    ),
    ("GET", "/schemas/share-envelope/v1.json"): Access(
        "envelopes.schema", PUBLIC, "/schemas/share-envelope/v1.json"
    ),
    ("GET", "/app/envelopes/import"): Access(
        "envelopes.import_page", Role.ACCOUNTANT, "/app/envelopes/import"
    ),
    ("POST", "/app/envelopes/import"): Access(
        "envelopes.import_page", Role.ACCOUNTANT, "/app/envelopes/import", {}
    ),
    ("GET", "/app/envelopes/invoices/<public_id>.json"): Access(
        "envelopes.invoice", Role.VIEWER, "/app/envelopes/invoices/{invoice}.json"
    ),
    ("GET", "/app/envelopes/clients/<public_id>.json"): Access(
        "envelopes.client", Role.VIEWER, "/app/envelopes/clients/{client}.json"
    ),
    ("GET", "/app/envelopes/payments.json"): Access(
        "envelopes.payments", Role.VIEWER, "/app/envelopes/payments.json"
    ),
    ("GET", "/app/einvoices/<public_id>/ubl.xml"): Access(
        "einvoices.ubl", Role.VIEWER, "/app/einvoices/{invoice}/ubl.xml"
    ),
    ("GET", "/app/einvoices/<public_id>/xrechnung.xml"): Access(
        "einvoices.xrechnung", Role.VIEWER, "/app/einvoices/{invoice}/xrechnung.xml"
    ),
    ("GET", "/app/einvoices/<public_id>/cii.xml"): Access(
        "einvoices.cii", Role.VIEWER, "/app/einvoices/{invoice}/cii.xml"
    ),
    ("GET", "/app/einvoices/import"): Access(
        "einvoices.upload", Role.ACCOUNTANT, "/app/einvoices/import"
    ),
    ("POST", "/app/einvoices/import"): Access(
        "einvoices.upload", Role.ACCOUNTANT, "/app/einvoices/import", {}
    ),
    ("GET", "/app/einvoices/received"): Access(
        "einvoices.received", Role.VIEWER, "/app/einvoices/received"
    ),
    ("GET", "/app/einvoices/received/<public_id>"): Access(
        "einvoices.received_detail", Role.VIEWER, "/app/einvoices/received/{received}"
    ),
    ("GET", "/app/einvoices/received/<public_id>/source"): Access(
        "einvoices.received_source", Role.VIEWER, "/app/einvoices/received/{received}/source"
    ),
    ("GET", "/app/invoices/<public_id>/pdf"): Access(
        "pdfs.invoice", Role.VIEWER, "/app/invoices/{invoice}/pdf"
    ),
    ("GET", "/app/quotes/<public_id>/pdf"): Access(
        "pdfs.quote", Role.VIEWER, "/app/quotes/{quote}/pdf"
    ),
    ("GET", "/app/credit-notes/<public_id>/pdf"): Access(
        "pdfs.credit_note", Role.VIEWER, "/app/credit-notes/{credit_note}/pdf"
    ),
    ("GET", "/app/clients/<public_id>/statement.pdf"): Access(
        "pdfs.statement", Role.VIEWER, "/app/clients/{client}/statement.pdf"
    ),
    ("GET", "/app/settings/branding/"): Access(
        "branding.index", Role.ADMIN, "/app/settings/branding/"
    ),
    ("POST", "/app/settings/branding/"): Access(
        "branding.index", Role.ADMIN, "/app/settings/branding/", {}
    ),
    ("POST", "/app/settings/branding/logo"): Access(
        "branding.logo", Role.ADMIN, "/app/settings/branding/logo", {}
    ),
    ("POST", "/app/settings/branding/logo/delete"): Access(
        "branding.remove_logo", Role.ADMIN, "/app/settings/branding/logo/delete", {}
    ),
    ("GET", "/app/settings/branding/templates/<kind>"): Access(
        "branding.template", Role.ADMIN, "/app/settings/branding/templates/invoice"
    ),
    ("POST", "/app/settings/branding/templates/<kind>"): Access(
        "branding.template", Role.ADMIN, "/app/settings/branding/templates/invoice", {}
    ),
    ("POST", "/app/settings/branding/templates/<kind>/preview"): Access(
        "branding.preview", Role.ADMIN, "/app/settings/branding/templates/invoice/preview", {}
    ),
    ("POST", "/app/settings/branding/templates/<kind>/reset"): Access(
        "branding.reset", Role.ADMIN, "/app/settings/branding/templates/invoice/reset", {}
    ),
    ("GET", "/app/settings/email-templates/"): Access(
        "email_templates.index", Role.ADMIN, "/app/settings/email-templates/"
    ),
    ("GET", "/app/settings/email-templates/<kind>"): Access(
        "email_templates.edit", Role.ADMIN, "/app/settings/email-templates/invoice"
    ),
    ("POST", "/app/settings/email-templates/<kind>"): Access(
        "email_templates.edit", Role.ADMIN, "/app/settings/email-templates/invoice", {}
    ),
    ("POST", "/app/settings/email-templates/<kind>/preview"): Access(
        "email_templates.preview",
        Role.ADMIN,
        "/app/settings/email-templates/invoice/preview",
        {},
    ),
    ("POST", "/app/settings/email-templates/<kind>/reset"): Access(
        "email_templates.reset", Role.ADMIN, "/app/settings/email-templates/invoice/reset", {}
    ),
    ("GET", "/app/settings/notifications"): Access(
        "notifications.index", Role.ADMIN, "/app/settings/notifications"
    ),
    ("POST", "/app/settings/notifications"): Access(
        "notifications.add", Role.ADMIN, "/app/settings/notifications", {}
    ),
    ("GET", "/app/settings/notifications/<public_id>/edit"): Access(
        "notifications.edit", Role.ADMIN, "/app/settings/notifications/{channel}/edit"
    ),
    ("POST", "/app/settings/notifications/<public_id>/edit"): Access(
        "notifications.edit", Role.ADMIN, "/app/settings/notifications/{channel}/edit", {}
    ),
    ("POST", "/app/settings/notifications/<public_id>/remove"): Access(
        "notifications.remove", Role.ADMIN, "/app/settings/notifications/{channel}/remove", {}
    ),
    ("POST", "/app/settings/notifications/<public_id>/test"): Access(
        "notifications.send_test", Role.ADMIN, "/app/settings/notifications/{channel}/test", {}
    ),
    ("GET", "/app/settings/webhooks"): Access(
        "webhooks.index", Role.ADMIN, "/app/settings/webhooks"
    ),
    ("POST", "/app/settings/webhooks"): Access(
        "webhooks.add", Role.ADMIN, "/app/settings/webhooks", {"url": "http://127.0.0.1:9/in"}
    ),
    ("GET", "/app/settings/webhooks/<public_id>"): Access(
        "webhooks.detail", Role.ADMIN, "/app/settings/webhooks/{webhook}"
    ),
    ("GET", "/app/settings/webhooks/<public_id>/edit"): Access(
        "webhooks.edit", Role.ADMIN, "/app/settings/webhooks/{webhook}/edit"
    ),
    ("POST", "/app/settings/webhooks/<public_id>/edit"): Access(
        "webhooks.edit", Role.ADMIN, "/app/settings/webhooks/{webhook}/edit", {}
    ),
    ("POST", "/app/settings/webhooks/<public_id>/delete"): Access(
        "webhooks.delete", Role.ADMIN, "/app/settings/webhooks/{webhook}/delete", {}
    ),
    ("POST", "/app/settings/webhooks/<public_id>/test"): Access(
        "webhooks.send_test", Role.ADMIN, "/app/settings/webhooks/{webhook}/test", {}
    ),
    ("POST", "/app/settings/webhooks/<public_id>/rotate"): Access(
        "webhooks.rotate", Role.ADMIN, "/app/settings/webhooks/{webhook}/rotate", {}
    ),
    ("POST", "/app/settings/webhooks/<public_id>/enable"): Access(
        "webhooks.enable", Role.ADMIN, "/app/settings/webhooks/{webhook}/enable", {}
    ),
    ("GET", "/app/settings/webhooks/<public_id>/deliveries/<delivery_id>"): Access(
        "webhooks.delivery",
        Role.ADMIN,
        "/app/settings/webhooks/{webhook}/deliveries/{webhook_delivery}",
    ),
    ("POST", "/app/settings/webhooks/<public_id>/deliveries/<delivery_id>/resend"): Access(
        "webhooks.resend",
        Role.ADMIN,
        "/app/settings/webhooks/{webhook}/deliveries/{webhook_delivery}/resend",
        {},
    ),
    ("GET", "/app/settings/developers/"): Access(
        "developers.keys", Role.ADMIN, "/app/settings/developers/"
    ),
    ("POST", "/app/settings/developers/"): Access(
        "developers.create_key", Role.ADMIN, "/app/settings/developers/", {}
    ),
    ("GET", "/app/settings/developers/keys/<public_id>"): Access(
        "developers.key", Role.ADMIN, "/app/settings/developers/keys/{api_key}"
    ),
    ("POST", "/app/settings/developers/keys/<public_id>/rotate"): Access(
        "developers.rotate",
        Role.ADMIN,
        "/app/settings/developers/keys/{api_key}/rotate",
        {"overlap": "1"},
    ),
    ("POST", "/app/settings/developers/keys/<public_id>/revoke"): Access(
        "developers.revoke", Role.ADMIN, "/app/settings/developers/keys/{api_key}/revoke", {}
    ),
    ("GET", "/app/settings/developers/apps"): Access(
        "developers.apps", Role.ADMIN, "/app/settings/developers/apps"
    ),
    ("POST", "/app/settings/developers/apps"): Access(
        "developers.register_app", Role.ADMIN, "/app/settings/developers/apps", {}
    ),
    ("POST", "/app/settings/developers/apps/<public_id>/revoke"): Access(
        "developers.revoke_app", Role.ADMIN, "/app/settings/developers/apps/{oauth_app}/revoke", {}
    ),
    ("GET", "/app/settings/developers/log"): Access(
        "developers.log", Role.ADMIN, "/app/settings/developers/log"
    ),
    ("GET", "/oauth/authorize"): Access("oauth.authorize", Role.VIEWER, AUTHORIZE),
    ("POST", "/oauth/authorize"): Access(
        "oauth.decide", Role.VIEWER, AUTHORIZE, {"decision": "deny"}, frozenset({302})
    ),
    # Apps authenticate to these, not people: no client credentials is 400 or 401.
    ("POST", "/oauth/token"): Access("oauth.token", PUBLIC, "/oauth/token", {}, frozenset({400})),
    ("POST", "/oauth/revoke"): Access(
        "oauth.revoke", PUBLIC, "/oauth/revoke", {}, frozenset({401})
    ),
    ("POST", "/oauth/introspect"): Access(
        "oauth.introspect", PUBLIC, "/oauth/introspect", {}, frozenset({401})
    ),
    ("GET", "/app/invoices/<public_id>/email"): Access(
        "delivery.send_invoice", Role.STAFF, "/app/invoices/{invoice}/email"
    ),
    ("POST", "/app/invoices/<public_id>/email"): Access(
        "delivery.send_invoice", Role.STAFF, "/app/invoices/{invoice}/email", {}
    ),
    ("GET", "/app/quotes/<public_id>/email"): Access(
        "delivery.send_quote", Role.STAFF, "/app/quotes/{quote}/email"
    ),
    ("POST", "/app/quotes/<public_id>/email"): Access(
        "delivery.send_quote", Role.STAFF, "/app/quotes/{quote}/email", {}
    ),
    ("GET", "/app/documents/<public_id>/deliveries"): Access(
        "delivery.deliveries", Role.VIEWER, "/app/documents/{invoice}/deliveries"
    ),
    ("GET", "/t/<token>.gif"): Access("delivery.pixel", PUBLIC, "/t/not-a-token.gif"),
    ("GET", "/calendar/<token>.ics"): Access(
        "delivery.calendar", PUBLIC, "/calendar/{calendar_token}.ics"
    ),
    ("GET", "/app/settings/delivery"): Access(
        "delivery.settings", Role.ADMIN, "/app/settings/delivery"
    ),
    ("POST", "/app/settings/delivery"): Access(
        "delivery.settings", Role.ADMIN, "/app/settings/delivery", {}
    ),
    ("POST", "/app/settings/delivery/email"): Access(
        "delivery.mail_settings_save", Role.ADMIN, "/app/settings/delivery/email", {}
    ),
    ("POST", "/app/settings/delivery/email/test"): Access(
        "delivery.mail_test", Role.ADMIN, "/app/settings/delivery/email/test", {}
    ),
    ("GET", "/healthz"): Access("operations.healthz", PUBLIC, "/healthz"),
    ("GET", "/app/status"): Access("operations.status", Role.ADMIN, "/app/status"),
    ("GET", "/app/outbox"): Access("operations.outbox", Role.ADMIN, "/app/outbox"),
    ("POST", "/app/outbox/<public_id>/retry"): Access(
        "operations.retry", Role.ADMIN, "/app/outbox/{outbox}/retry", {}
    ),
    ("POST", "/app/invoices/<public_id>/credit-notes"): Access(
        "credit_notes.create", Role.ACCOUNTANT, "/app/invoices/{invoice}/credit-notes", {}
    ),
    ("GET", "/app/credit-notes/"): Access("credit_notes.index", Role.VIEWER, "/app/credit-notes/"),
    ("GET", "/app/credit-notes/<public_id>"): Access(
        "credit_notes.detail", Role.VIEWER, "/app/credit-notes/{credit_note}"
    ),
    ("POST", "/app/credit-notes/<public_id>/issue"): Access(
        "credit_notes.issue", Role.ACCOUNTANT, "/app/credit-notes/{credit_note}/issue", {}
    ),
    ("POST", "/app/credit-notes/<public_id>/refund"): Access(
        "credit_notes.refund",
        Role.ACCOUNTANT,
        "/app/credit-notes/{credit_note}/refund",
        {"amount": "1", "refunded_on": "2026-02-01"},
    ),
    ("POST", "/app/credit-notes/<public_id>/delete"): Access(
        "credit_notes.delete", Role.ACCOUNTANT, "/app/credit-notes/{credit_note}/delete", {}
    ),
    ("GET", "/app/analytics/"): Access("analytics.overview", Role.VIEWER, "/app/analytics/"),
    ("GET", "/app/analytics/riskiest"): Access(
        "analytics.riskiest_panel", Role.VIEWER, "/app/analytics/riskiest"
    ),
    ("GET", "/app/analytics/forecast"): Access(
        "analytics.forecast", Role.VIEWER, "/app/analytics/forecast"
    ),
    ("GET", "/app/analytics/cohorts"): Access(
        "analytics.cohorts", Role.VIEWER, "/app/analytics/cohorts"
    ),
    ("GET", "/app/analytics/seasonality"): Access(
        "analytics.seasonality", Role.VIEWER, "/app/analytics/seasonality"
    ),
    ("GET", "/app/analytics/risk"): Access("analytics.risk", Role.VIEWER, "/app/analytics/risk"),
    ("POST", "/app/analytics/risk/train"): Access(
        "analytics.train", Role.ACCOUNTANT, "/app/analytics/risk/train", {}
    ),
    ("GET", "/app/analytics/risk/training/<public_id>"): Access(
        "analytics.training", Role.VIEWER, "/app/analytics/risk/training/{job}"
    ),
    ("GET", "/app/analytics/risk/training/<public_id>/status"): Access(
        "analytics.training_status", Role.VIEWER, "/app/analytics/risk/training/{job}/status"
    ),
    # The REST API: an anonymous call (a session cookie is no credential there) is a 401
    # problem; the document and its docs page are public.
    ("DELETE", "/api/v1/<path:rest>"): Access(
        "api.fallback", PUBLIC, "/api/v1/no-such-thing", {}, statuses=API_ANONYMOUS
    ),
    ("GET", "/api/v1/<path:rest>"): Access(
        "api.fallback", PUBLIC, "/api/v1/no-such-thing", statuses=API_ANONYMOUS
    ),
    ("PATCH", "/api/v1/<path:rest>"): Access(
        "api.fallback", PUBLIC, "/api/v1/no-such-thing", {}, statuses=API_ANONYMOUS
    ),
    ("POST", "/api/v1/<path:rest>"): Access(
        "api.fallback", PUBLIC, "/api/v1/no-such-thing", {}, statuses=API_ANONYMOUS
    ),
    ("PUT", "/api/v1/<path:rest>"): Access(
        "api.fallback", PUBLIC, "/api/v1/no-such-thing", {}, statuses=API_ANONYMOUS
    ),
    ("GET", "/api/v1/clients"): Access(
        "api_clients.list_clients", PUBLIC, "/api/v1/clients", statuses=API_ANONYMOUS
    ),
    ("POST", "/api/v1/clients"): Access(
        "api_clients.create_client", PUBLIC, "/api/v1/clients", {}, statuses=API_ANONYMOUS
    ),
    ("GET", "/api/v1/webhook-endpoints"): Access(
        "api_webhook_endpoints.list_endpoints",
        PUBLIC,
        "/api/v1/webhook-endpoints",
        statuses=API_ANONYMOUS,
    ),
    ("POST", "/api/v1/webhook-endpoints"): Access(
        "api_webhook_endpoints.create_endpoint",
        PUBLIC,
        "/api/v1/webhook-endpoints",
        {},
        statuses=API_ANONYMOUS,
    ),
    ("GET", "/api/v1/webhook-endpoints/<pid:public_id>"): Access(
        "api_webhook_endpoints.get_endpoint",
        PUBLIC,
        "/api/v1/webhook-endpoints/01JAAAAAAAAAAAAAAAAAAAAAAA",
        statuses=API_ANONYMOUS,
    ),
    ("PATCH", "/api/v1/webhook-endpoints/<pid:public_id>"): Access(
        "api_webhook_endpoints.update_endpoint",
        PUBLIC,
        "/api/v1/webhook-endpoints/01JAAAAAAAAAAAAAAAAAAAAAAA",
        {},
        statuses=API_ANONYMOUS,
    ),
    ("DELETE", "/api/v1/webhook-endpoints/<pid:public_id>"): Access(
        "api_webhook_endpoints.delete_endpoint",
        PUBLIC,
        "/api/v1/webhook-endpoints/01JAAAAAAAAAAAAAAAAAAAAAAA",
        {},
        statuses=API_ANONYMOUS,
    ),
    ("POST", "/api/v1/webhook-endpoints/<pid:public_id>/rotate-secret"): Access(
        "api_webhook_endpoints.rotate_secret",
        PUBLIC,
        "/api/v1/webhook-endpoints/01JAAAAAAAAAAAAAAAAAAAAAAA/rotate-secret",
        {},
        statuses=API_ANONYMOUS,
    ),
    ("POST", "/api/v1/webhook-endpoints/<pid:public_id>/test"): Access(
        "api_webhook_endpoints.send_test",
        PUBLIC,
        "/api/v1/webhook-endpoints/01JAAAAAAAAAAAAAAAAAAAAAAA/test",
        {},
        statuses=API_ANONYMOUS,
    ),
    ("GET", "/api/v1/events"): Access(
        "api_events.list_events",
        PUBLIC,
        "/api/v1/events",
        statuses=API_ANONYMOUS,
    ),
    ("GET", "/api/v1/events/<pid:public_id>"): Access(
        "api_events.get_event",
        PUBLIC,
        "/api/v1/events/01JAAAAAAAAAAAAAAAAAAAAAAA",
        statuses=API_ANONYMOUS,
    ),
    ("GET", "/api/v1/clients/<pid:public_id>"): Access(
        "api_clients.get_client",
        PUBLIC,
        "/api/v1/clients/01JAAAAAAAAAAAAAAAAAAAAAAA",
        statuses=API_ANONYMOUS,
    ),
    ("PATCH", "/api/v1/clients/<pid:public_id>"): Access(
        "api_clients.update_client",
        PUBLIC,
        "/api/v1/clients/01JAAAAAAAAAAAAAAAAAAAAAAA",
        {},
        statuses=API_ANONYMOUS,
    ),
    ("POST", "/api/v1/clients/<pid:public_id>/archive"): Access(
        "api_clients.archive_client",
        PUBLIC,
        "/api/v1/clients/01JAAAAAAAAAAAAAAAAAAAAAAA/archive",
        {},
        statuses=API_ANONYMOUS,
    ),
    ("GET", "/api/v1/clients/<pid:public_id>/contacts"): Access(
        "api_clients.list_contacts",
        PUBLIC,
        "/api/v1/clients/01JAAAAAAAAAAAAAAAAAAAAAAA/contacts",
        statuses=API_ANONYMOUS,
    ),
    ("POST", "/api/v1/clients/<pid:public_id>/restore"): Access(
        "api_clients.restore_client",
        PUBLIC,
        "/api/v1/clients/01JAAAAAAAAAAAAAAAAAAAAAAA/restore",
        {},
        statuses=API_ANONYMOUS,
    ),
    ("GET", "/api/v1/credit-notes"): Access(
        "api_credit_notes.list_credit_notes", PUBLIC, "/api/v1/credit-notes", statuses=API_ANONYMOUS
    ),
    ("POST", "/api/v1/credit-notes"): Access(
        "api_credit_notes.create_credit_note",
        PUBLIC,
        "/api/v1/credit-notes",
        {},
        statuses=API_ANONYMOUS,
    ),
    ("GET", "/api/v1/credit-notes/<pid:public_id>"): Access(
        "api_credit_notes.get_credit_note",
        PUBLIC,
        "/api/v1/credit-notes/01JAAAAAAAAAAAAAAAAAAAAAAA",
        statuses=API_ANONYMOUS,
    ),
    ("POST", "/api/v1/credit-notes/<pid:public_id>/issue"): Access(
        "api_credit_notes.issue_credit_note",
        PUBLIC,
        "/api/v1/credit-notes/01JAAAAAAAAAAAAAAAAAAAAAAA/issue",
        {},
        statuses=API_ANONYMOUS,
    ),
    ("POST", "/api/v1/credit-notes/<pid:public_id>/refunds"): Access(
        "api_credit_notes.refund_credit_note",
        PUBLIC,
        "/api/v1/credit-notes/01JAAAAAAAAAAAAAAAAAAAAAAA/refunds",
        {},
        statuses=API_ANONYMOUS,
    ),
    ("GET", "/api/v1/docs"): Access("api.docs", PUBLIC, "/api/v1/docs"),
    ("GET", "/api/v1/docs.js"): Access("api.docs_script", PUBLIC, "/api/v1/docs.js"),
    ("GET", "/api/v1/envelopes/clients/<pid:public_id>"): Access(
        "api_envelopes.export_client",
        PUBLIC,
        "/api/v1/envelopes/clients/01JAAAAAAAAAAAAAAAAAAAAAAA",
        statuses=API_ANONYMOUS,
    ),
    ("POST", "/api/v1/envelopes/import"): Access(
        "api_envelopes.import_envelope",
        PUBLIC,
        "/api/v1/envelopes/import",
        {},
        statuses=API_ANONYMOUS,
    ),
    ("GET", "/api/v1/envelopes/invoices/<pid:public_id>"): Access(
        "api_envelopes.export_invoice",
        PUBLIC,
        "/api/v1/envelopes/invoices/01JAAAAAAAAAAAAAAAAAAAAAAA",
        statuses=API_ANONYMOUS,
    ),
    ("GET", "/api/v1/envelopes/payments"): Access(
        "api_envelopes.export_payments",
        PUBLIC,
        "/api/v1/envelopes/payments",
        statuses=API_ANONYMOUS,
    ),
    ("GET", "/api/v1/invoices"): Access(
        "api_invoices.list_invoices", PUBLIC, "/api/v1/invoices", statuses=API_ANONYMOUS
    ),
    ("POST", "/api/v1/invoices"): Access(
        "api_invoices.create_invoice", PUBLIC, "/api/v1/invoices", {}, statuses=API_ANONYMOUS
    ),
    ("GET", "/api/v1/invoices/<pid:public_id>"): Access(
        "api_invoices.get_invoice",
        PUBLIC,
        "/api/v1/invoices/01JAAAAAAAAAAAAAAAAAAAAAAA",
        statuses=API_ANONYMOUS,
    ),
    ("PUT", "/api/v1/invoices/<pid:public_id>"): Access(
        "api_invoices.replace_draft",
        PUBLIC,
        "/api/v1/invoices/01JAAAAAAAAAAAAAAAAAAAAAAA",
        {},
        statuses=API_ANONYMOUS,
    ),
    ("DELETE", "/api/v1/invoices/<pid:public_id>"): Access(
        "api_invoices.delete_draft",
        PUBLIC,
        "/api/v1/invoices/01JAAAAAAAAAAAAAAAAAAAAAAA",
        {},
        statuses=API_ANONYMOUS,
    ),
    ("GET", "/api/v1/invoices/<pid:public_id>/einvoice/<any(ubl, xrechnung, cii):fmt>"): Access(
        "api_invoices.einvoice",
        PUBLIC,
        "/api/v1/invoices/01JAAAAAAAAAAAAAAAAAAAAAAA/einvoice/ubl",
        statuses=API_ANONYMOUS,
    ),
    ("POST", "/api/v1/invoices/<pid:public_id>/issue"): Access(
        "api_invoices.issue",
        PUBLIC,
        "/api/v1/invoices/01JAAAAAAAAAAAAAAAAAAAAAAA/issue",
        {},
        statuses=API_ANONYMOUS,
    ),
    ("GET", "/api/v1/invoices/<pid:public_id>/pdf"): Access(
        "api_invoices.pdf",
        PUBLIC,
        "/api/v1/invoices/01JAAAAAAAAAAAAAAAAAAAAAAA/pdf",
        statuses=API_ANONYMOUS,
    ),
    ("POST", "/api/v1/invoices/<pid:public_id>/send"): Access(
        "api_invoices.send",
        PUBLIC,
        "/api/v1/invoices/01JAAAAAAAAAAAAAAAAAAAAAAA/send",
        {},
        statuses=API_ANONYMOUS,
    ),
    ("POST", "/api/v1/invoices/<pid:public_id>/void"): Access(
        "api_invoices.void",
        PUBLIC,
        "/api/v1/invoices/01JAAAAAAAAAAAAAAAAAAAAAAA/void",
        {},
        statuses=API_ANONYMOUS,
    ),
    ("GET", "/api/v1/openapi.json"): Access("api.openapi", PUBLIC, "/api/v1/openapi.json"),
    ("GET", "/api/v1/payments"): Access(
        "api_payments.list_payments", PUBLIC, "/api/v1/payments", statuses=API_ANONYMOUS
    ),
    ("POST", "/api/v1/payments"): Access(
        "api_payments.record_payment", PUBLIC, "/api/v1/payments", {}, statuses=API_ANONYMOUS
    ),
    ("GET", "/api/v1/payments/<pid:public_id>"): Access(
        "api_payments.get_payment",
        PUBLIC,
        "/api/v1/payments/01JAAAAAAAAAAAAAAAAAAAAAAA",
        statuses=API_ANONYMOUS,
    ),
    ("POST", "/api/v1/payments/<pid:public_id>/refunds"): Access(
        "api_payments.refund_payment",
        PUBLIC,
        "/api/v1/payments/01JAAAAAAAAAAAAAAAAAAAAAAA/refunds",
        {},
        statuses=API_ANONYMOUS,
    ),
    ("GET", "/api/v1/products"): Access(
        "api_products.list_products", PUBLIC, "/api/v1/products", statuses=API_ANONYMOUS
    ),
    ("POST", "/api/v1/products"): Access(
        "api_products.create_product", PUBLIC, "/api/v1/products", {}, statuses=API_ANONYMOUS
    ),
    ("GET", "/api/v1/products/<pid:public_id>"): Access(
        "api_products.get_product",
        PUBLIC,
        "/api/v1/products/01JAAAAAAAAAAAAAAAAAAAAAAA",
        statuses=API_ANONYMOUS,
    ),
    ("PATCH", "/api/v1/products/<pid:public_id>"): Access(
        "api_products.update_product",
        PUBLIC,
        "/api/v1/products/01JAAAAAAAAAAAAAAAAAAAAAAA",
        {},
        statuses=API_ANONYMOUS,
    ),
    ("GET", "/api/v1/quotes"): Access(
        "api_quotes.list_quotes", PUBLIC, "/api/v1/quotes", statuses=API_ANONYMOUS
    ),
    ("POST", "/api/v1/quotes"): Access(
        "api_quotes.create_quote", PUBLIC, "/api/v1/quotes", {}, statuses=API_ANONYMOUS
    ),
    ("GET", "/api/v1/quotes/<pid:public_id>"): Access(
        "api_quotes.get_quote",
        PUBLIC,
        "/api/v1/quotes/01JAAAAAAAAAAAAAAAAAAAAAAA",
        statuses=API_ANONYMOUS,
    ),
    ("POST", "/api/v1/quotes/<pid:public_id>/accept"): Access(
        "api_quotes.accept_quote",
        PUBLIC,
        "/api/v1/quotes/01JAAAAAAAAAAAAAAAAAAAAAAA/accept",
        {},
        statuses=API_ANONYMOUS,
    ),
    ("POST", "/api/v1/quotes/<pid:public_id>/convert"): Access(
        "api_quotes.convert_quote",
        PUBLIC,
        "/api/v1/quotes/01JAAAAAAAAAAAAAAAAAAAAAAA/convert",
        {},
        statuses=API_ANONYMOUS,
    ),
    ("POST", "/api/v1/quotes/<pid:public_id>/decline"): Access(
        "api_quotes.decline_quote",
        PUBLIC,
        "/api/v1/quotes/01JAAAAAAAAAAAAAAAAAAAAAAA/decline",
        {},
        statuses=API_ANONYMOUS,
    ),
    ("POST", "/api/v1/quotes/<pid:public_id>/send"): Access(
        "api_quotes.send_quote",
        PUBLIC,
        "/api/v1/quotes/01JAAAAAAAAAAAAAAAAAAAAAAA/send",
        {},
        statuses=API_ANONYMOUS,
    ),
    ("GET", "/api/v1/recurring-schedules"): Access(
        "api_recurring.list_schedules",
        PUBLIC,
        "/api/v1/recurring-schedules",
        statuses=API_ANONYMOUS,
    ),
    ("POST", "/api/v1/recurring-schedules"): Access(
        "api_recurring.create_schedule",
        PUBLIC,
        "/api/v1/recurring-schedules",
        {},
        statuses=API_ANONYMOUS,
    ),
    ("GET", "/api/v1/recurring-schedules/<pid:public_id>"): Access(
        "api_recurring.get_schedule",
        PUBLIC,
        "/api/v1/recurring-schedules/01JAAAAAAAAAAAAAAAAAAAAAAA",
        statuses=API_ANONYMOUS,
    ),
    ("POST", "/api/v1/recurring-schedules/<pid:public_id>/pause"): Access(
        "api_recurring.pause_schedule",
        PUBLIC,
        "/api/v1/recurring-schedules/01JAAAAAAAAAAAAAAAAAAAAAAA/pause",
        {},
        statuses=API_ANONYMOUS,
    ),
    ("POST", "/api/v1/recurring-schedules/<pid:public_id>/resume"): Access(
        "api_recurring.resume_schedule",
        PUBLIC,
        "/api/v1/recurring-schedules/01JAAAAAAAAAAAAAAAAAAAAAAA/resume",
        {},
        statuses=API_ANONYMOUS,
    ),
    ("GET", "/api/v1/refunds"): Access(
        "api_refunds.list_refunds", PUBLIC, "/api/v1/refunds", statuses=API_ANONYMOUS
    ),
    ("GET", "/api/v1/refunds/<pid:public_id>"): Access(
        "api_refunds.get_refund",
        PUBLIC,
        "/api/v1/refunds/01JAAAAAAAAAAAAAAAAAAAAAAA",
        statuses=API_ANONYMOUS,
    ),
    ("GET", "/api/v1/reports/ageing"): Access(
        "api_reports.ageing_report", PUBLIC, "/api/v1/reports/ageing", statuses=API_ANONYMOUS
    ),
    ("GET", "/api/v1/reports/revenue"): Access(
        "api_reports.revenue_report", PUBLIC, "/api/v1/reports/revenue", statuses=API_ANONYMOUS
    ),
    ("GET", "/api/v1/tax-rates"): Access(
        "api_tax_rates.list_tax_rates", PUBLIC, "/api/v1/tax-rates", statuses=API_ANONYMOUS
    ),
    ("POST", "/api/v1/tax-rates"): Access(
        "api_tax_rates.create_tax_rate", PUBLIC, "/api/v1/tax-rates", {}, statuses=API_ANONYMOUS
    ),
    ("GET", "/api/v1/tax-rates/<pid:public_id>"): Access(
        "api_tax_rates.get_tax_rate",
        PUBLIC,
        "/api/v1/tax-rates/01JAAAAAAAAAAAAAAAAAAAAAAA",
        statuses=API_ANONYMOUS,
    ),
    ("PATCH", "/api/v1/tax-rates/<pid:public_id>"): Access(
        "api_tax_rates.update_tax_rate",
        PUBLIC,
        "/api/v1/tax-rates/01JAAAAAAAAAAAAAAAAAAAAAAA",
        {},
        statuses=API_ANONYMOUS,
    ),
}

# Ids that name one business's objects; a member of another business must get 404 for them.
OWNED_IDS = (
    "{client}",
    "{tax_rate}",
    "{product}",
    "{invitation}",
    "{member}",
    "{business}",
    "{invoice}",
    "{draft}",
    "{quote}",
    "{credit_note}",
    "{portal_link}",
    "{job}",
    "{report_job}",
    "{privacy_export}",
    "{received}",
    "{channel}",
    "{api_key}",
    "{oauth_app}",
    "{webhook}",
    "{webhook_delivery}",
    "{outbox}",
    "{experiment}",
    "{payment}",
    "{dispute}",
    "{card}",
)


def _id(key: tuple[str, str]) -> str:
    return f"{key[0]} {key[1]}"


def _allowed(need: Role | str, role: Role) -> bool:
    return need in (PUBLIC, LOGIN_ONLY) or role.at_least(Role(need))


def _owned(access: Access) -> bool:
    text = access.url + "".join((access.data or {}).values())
    return any(placeholder in text for placeholder in OWNED_IDS)


def _call(client: FlaskClient, method: str, access: Access, ids: dict[str, str]) -> Any:
    url = access.url.format(**ids)
    data = {k: v.format(**ids) for k, v in (access.data or {}).items()}
    response = client.get(url) if method == "GET" else client.post(url, data=data)
    # Read file downloads whole and let go of the file they stream from.
    response.get_data()
    response.close()
    return response


@pytest.fixture
def ids(app: Flask, team: Team, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """One of each object the routes name, made through the services, and their ids."""
    # Invitation links arrive by email only; catch them here (test_auth sends through SMTP).
    sent: list[OutgoingEmail] = []
    monkeypatch.setattr(mail, "send", lambda message: sent.append(message) or "<id@test>")
    owner = team.actor()
    # Stripe is offered (its webhook route verifies signatures without calling out).
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", "http://127.0.0.1:9")
    with app.test_request_context():
        team.business.country = "DE"
        client = clients.create_client(
            owner,
            ClientData(
                name="Blue Harbor", currency="EUR", email="ap@blue.example", billing_country="DE"
            ),
        )
        rate = catalogue.create_tax_rate(owner, TaxRateData(name="VAT", rate=Decimal("20")))
        product = catalogue.create_product(
            owner,
            ProductData(
                name="Design",
                unit_price=Decimal("100"),
                currency="EUR",
                tax_rate_ids=(rate.public_id,),
            ),
        )
        team_service.invite_member(owner, "second@acme-ltd.example", Role.VIEWER)
        member = team_service.accept_invitation(
            _token(sent[-1]),
            None,
            team_service.NewAccount(name="Second", password=PASSWORD),
        )
        invitation = team_service.invite_member(owner, "pending@acme-ltd.example", Role.STAFF)
        invite_token = _token(sent[-1])
        reset_token = auth.password_reset_token(team.users[Role.VIEWER])
        lines = (LineData("Design", Decimal(2), Decimal(100), tax_rate_ids=(rate.public_id,)),)
        draft = documents.create_draft(
            owner, DocumentKind.INVOICE, DraftData(client_id=client.public_id, lines=lines)
        )
        invoice = documents.create_draft(
            owner,
            DocumentKind.INVOICE,
            DraftData(client_id=client.public_id, lines=lines, po_number="04011000-12345-67"),
        )
        documents.issue_invoice(owner, invoice.public_id)
        quote = documents.create_draft(
            owner, DocumentKind.QUOTE, DraftData(client_id=client.public_id, lines=lines)
        )
        credit_note = credit_notes.create_credit_note(owner, invoice.public_id)
        job = jobs.start_job(owner, "invoices-zip", {"document_ids": []})
        result = tmp_path / "export.zip"
        result.write_bytes(b"PK\x05\x06" + bytes(18))
        jobs.finish(job.id, str(result))
        privacy_export = gdpr.start_export(owner, client.public_id)
        gdpr.export_client_job(privacy_export.id)
        report_job = jobs.start_job(
            owner, "report-export", {"report": "invoice-register", "format": "csv"}
        )
        report_file = tmp_path / "report.csv"
        report_file.write_text("Number\r\n")
        jobs.finish(report_job.id, str(report_file))
        received = ReceivedDocument(
            business_id=team.business.id,
            source_format="ubl",
            supplier_name="Supplier GmbH",
            currency="EUR",
            source=b"<Invoice/>",
        )
        db.session.add(received)
        db.session.commit()
        channel = NotificationChannel(
            business_id=team.business.id,
            provider="discord",
            name="Team",
            target="http://127.0.0.1:9/api/webhooks/1/x",
            events=["invoice.paid"],
            active=False,
        )
        db.session.add(channel)
        db.session.commit()
        webhook = webhooks.create_endpoint(
            owner, webhooks.EndpointData(url="http://127.0.0.1:9/in", events=("invoice.paid",))
        )
        webhook_delivery = webhooks.send_test(owner, webhook.public_id)
        api_key, _ = api_keys.create_key(
            owner, api_keys.KeyData(name="Role matrix", scopes=("clients:read",))
        )
        oauth_app, _ = oauth.register_app(
            owner,
            oauth.AppData(
                name="Role matrix",
                redirect_uris=("https://app.example/cb",),
                confidential=False,
                grant_types=("authorization_code",),
                scopes=("clients:read",),
            ),
        )
        message = OutboxMessage(
            business_id=team.business.id,
            kind="test.nothing",
            key="role-matrix-failed",
            status="failed",
            last_error="550 no such user",
        )
        db.session.add(message)
        db.session.commit()
        calendar = delivery.calendar_token(team.business)
        sent_quote = documents.create_draft(
            owner, DocumentKind.QUOTE, DraftData(client_id=client.public_id, lines=lines)
        )
        quotes.send_quote(owner, sent_quote.public_id)
        portal_link, portal_token = client_portal.create_link(owner, client.public_id)
        _, invoice_link = client_portal.create_link(owner, client.public_id, invoice.public_id)
        _, quote_link = client_portal.create_link(owner, client.public_id, sent_quote.public_id)
        account = PaymentAccount(
            business_id=team.business.id,
            provider="stripe",
            enabled=False,
            credentials='{"secret_key": "sk_test_x", "webhook_secret": "whsec_x"}',
            connected_account_id="acct_role_matrix",
        )
        db.session.add(account)
        db.session.flush()
        checkout = Checkout(
            business_id=team.business.id,
            account_id=account.id,
            document_id=invoice.id,
            client_id=client.id,
            provider="stripe",
            amount_minor=100,
            currency="EUR",
            status="cancelled",
        )
        setup = Checkout(
            business_id=team.business.id,
            account_id=account.id,
            client_id=client.id,
            provider="stripe",
            purpose="setup",
            provider_checkout_id="cs_role_matrix",
            amount_minor=0,
            currency="EUR",
        )
        card = SavedPaymentMethod(
            business_id=team.business.id,
            client_id=client.id,
            provider="stripe",
            customer_id="cus_role_matrix",
            payment_method_id="pm_role_matrix",
            label="Visa •••• 4242",
        )
        db.session.add_all([checkout, setup, card])
        db.session.commit()
        payment = payments.pay_invoice(owner, invoice.public_id, Decimal("10"), date(2026, 1, 5))
        dispute = Dispute(
            business_id=team.business.id,
            payment_id=payment.id,
            provider="stripe",
            provider_dispute_id="dp_role_matrix",
            amount_minor=1000,
            currency="EUR",
            closed=True,
        )
        db.session.add(dispute)
        db.session.commit()
        experiment = experiments.create_experiment(
            owner,
            "Wording",
            [experiments.VariantData("Control", 50), experiments.VariantData("Short", 50)],
        )
    return {
        "api_key": api_key.public_id,
        "oauth_app": oauth_app.public_id,
        "oauth_client_id": oauth_app.client_id,
        "experiment": experiment.public_id,
        "payment": payment.public_id,
        "card": card.public_id,
        "setup_checkout": setup.public_id,
        "dispute": dispute.public_id,
        "payment_account": account.public_id,
        "checkout": checkout.public_id,
        "outbox": message.public_id,
        "calendar_token": calendar,
        "portal_token": portal_token,
        "invoice_link": invoice_link,
        "portal_link": portal_link.public_id,
        "quote_link": quote_link,
        "portal_invoice": invoice.public_id,
        "portal_quote": sent_quote.public_id,
        "channel": channel.public_id,
        "webhook": webhook.public_id,
        "webhook_delivery": webhook_delivery.public_id,
        "received": received.public_id,
        "job": job.public_id,
        "report_job": report_job.public_id,
        "privacy_export": privacy_export.public_id,
        "credit_note": credit_note.public_id,
        "quote": quote.public_id,
        "invoice": invoice.public_id,
        "draft": draft.public_id,
        "client": client.public_id,
        "tax_rate": rate.public_id,
        "product": product.public_id,
        "member": member.public_id,
        "invitation": invitation.public_id,
        "invite_token": invite_token,
        "reset_token": reset_token,
        "business": team.business.public_id,
    }


def _token(message: OutgoingEmail) -> str:
    (link,) = re.findall(r"https?://\S+", message.text)
    return link.rsplit("/", 1)[1]


def test_the_table_covers_every_route(app: Flask) -> None:
    routes = {
        (method, rule.rule): rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    table = {key: access.endpoint for key, access in ACCESS.items()}
    assert sorted(set(routes) - set(table)) == [], "routes without an entry in ACCESS"
    assert sorted(set(table) - set(routes)) == [], "entries in ACCESS for no route"
    assert routes == table


MATRIX = [
    pytest.param(key, role, id=f"{_id(key)} as {role.value}") for key in ACCESS for role in ROLES
]


@pytest.mark.parametrize(("key", "role"), MATRIX)
def test_role_matrix(
    key: tuple[str, str], role: Role, ids: dict[str, str], login: Any, db: Any
) -> None:
    method, _ = key
    access = ACCESS[key]
    client = login(role)
    events = count(AuditEvent)
    response = _call(client, method, access, ids)
    if _allowed(access.need, role):
        assert response.status_code in (access.statuses or ALLOWED), text_of(response)
    else:
        assert response.status_code == 403, text_of(response)
        assert heading(text_of(response)) == "Not allowed"
        assert count(AuditEvent) == events


APP_ROUTES = [pytest.param(key, id=_id(key)) for key in ACCESS if key[1].startswith("/app/")]


@pytest.mark.parametrize("key", APP_ROUTES)
def test_anonymous_visitors_are_sent_to_log_in(
    key: tuple[str, str], ids: dict[str, str], client: FlaskClient
) -> None:
    method, _ = key
    access = ACCESS[key]
    events = count(AuditEvent)
    response = _call(client, method, access, ids)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query) == {"next": [access.url.format(**ids)]}
    assert count(AuditEvent) == events


def test_an_anonymous_htmx_request_is_redirected_by_htmx(client: FlaskClient, db: Any) -> None:
    response = client.get("/app/clients/?q=blue", headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/login?next=/app/clients/?q%3Dblue"


FOREIGN = [pytest.param(key, id=_id(key)) for key, access in ACCESS.items() if _owned(access)]


@pytest.mark.parametrize("key", FOREIGN)
def test_the_owner_of_another_business_finds_nothing(
    key: tuple[str, str], ids: dict[str, str], login: Any, db: Any
) -> None:
    method, _ = key
    stranger = make_team("Other Co")
    client = login(Role.OWNER, who=stranger)
    events = count(AuditEvent)
    response = _call(client, method, ACCESS[key], ids)
    assert response.status_code == 404, text_of(response)
    assert heading(text_of(response)) == "Not found"
    assert count(AuditEvent) == events


def test_the_foreign_ids_are_real(ids: dict[str, str], login: Any) -> None:
    """The 404s above mean something only if the owner of the business does find them."""
    client = login(Role.OWNER)
    for key in (
        ("GET", "/app/clients/<public_id>/edit"),
        ("GET", "/app/tax-rates/<public_id>/edit"),
        ("GET", "/app/products/<public_id>/edit"),
    ):
        assert _call(client, "GET", ACCESS[key], ids).status_code == 200
