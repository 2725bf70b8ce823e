"""Settings, read from the environment in this one place.

Every variable carries the ``INVOICE_LITE_`` prefix, except the conventional
``DATABASE_URL`` and ``REDIS_URL``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PREFIX = "INVOICE_LITE_"


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(PREFIX + name, default)


def _flag(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def database_url(instance_path: Path) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{instance_path / 'invoice-lite.sqlite3'}"
    # Both spellings reach the psycopg 3 driver.
    for old in ("postgres://", "postgresql://"):
        if url.startswith(old):
            return "postgresql+psycopg://" + url[len(old) :]
    return url


def instance_path(root: Path) -> Path:
    """Where the SQLite database and local files live (``instance/`` by default)."""
    return Path(_env("INSTANCE_PATH") or root / "instance")


def from_environment(
    instance_path: Path, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Build the configuration mapping for ``create_app``.

    ``overrides`` (from tests or the caller) win over the environment, and a
    secret key given there means the environment need not hold one.
    """
    overrides = overrides or {}
    env = str(overrides.get("ENV_NAME") or _env("ENV", "production"))
    development = env in {"development", "testing"}
    secret = overrides.get("SECRET_KEY") or _env("SECRET_KEY")
    if not secret:
        if not development:
            raise RuntimeError(
                "INVOICE_LITE_SECRET_KEY is not set; set it to a long random value "
                "(or INVOICE_LITE_ENV=development for a local demo)"
            )
        secret = _dev_secret(instance_path)
    return {
        "ENV_NAME": env,
        "SECRET_KEY": secret,
        "SQLALCHEMY_DATABASE_URI": database_url(instance_path),
        "REDIS_URL": os.environ.get("REDIS_URL"),
        "SESSION_COOKIE_SECURE": _flag("SECURE_COOKIES", not development),
        "REMEMBER_COOKIE_SECURE": _flag("SECURE_COOKIES", not development),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "ARGON2_PROFILE": _env("ARGON2_PROFILE", "RFC_9106_LOW_MEMORY"),
        "PASSWORD_RESET_MAX_AGE": int(_env("PASSWORD_RESET_MAX_AGE", "3600") or 3600),
        "INVITATION_MAX_AGE_DAYS": int(_env("INVITATION_MAX_AGE_DAYS", "7") or 7),
        "PUBLIC_URL": _env("PUBLIC_URL", "http://127.0.0.1:5000"),
        # Security keys (WebAuthn): the relying party id is the domain keys are bound to (unset:
        # the host of PUBLIC_URL; a key registered for one domain never works on another), and
        # the name authenticators show. The expected origin is PUBLIC_URL itself.
        "WEBAUTHN_RP_ID": _env("WEBAUTHN_RP_ID"),
        "WEBAUTHN_RP_NAME": _env("WEBAUTHN_RP_NAME", "Invoice Lite"),
        "MAIL_SENDER": _env("MAIL_SENDER", "Invoice Lite <no-reply@invoice-lite.example>"),
        "SMTP_HOST": _env("SMTP_HOST"),
        "SMTP_PORT": int(_env("SMTP_PORT", "587") or 587),
        "SMTP_USERNAME": _env("SMTP_USERNAME"),
        "SMTP_PASSWORD": _env("SMTP_PASSWORD"),
        "SMTP_SECURITY": _env("SMTP_SECURITY", "starttls"),
        # A Maildir the mail server delivers bounces to (the Return-Path's mailbox); the
        # scheduler reads what is new there every few minutes.
        "BOUNCE_MAILDIR": _env("BOUNCE_MAILDIR"),
        "PAGE_SIZE": int(_env("PAGE_SIZE", "50") or 50),
        "RATELIMIT_STORAGE_URI": os.environ.get("REDIS_URL") or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        # Requests per client address to the public portal pages: guessing links stays slow.
        "PORTAL_RATE_LIMIT": _env("PORTAL_RATE_LIMIT", "60 per minute"),
        # Sessions end after this long without a request, and this long after logging in.
        "SESSION_IDLE_MINUTES": int(_env("SESSION_IDLE_MINUTES", "30") or 30),
        "SESSION_MAX_HOURS": int(_env("SESSION_MAX_HOURS", "12") or 12),
        # Login throttling: this many failures for an account (or from one address) within the
        # window lock it for the lockout time.
        "LOGIN_MAX_FAILURES": int(_env("LOGIN_MAX_FAILURES", "5") or 5),
        "LOGIN_MAX_FAILURES_PER_IP": int(_env("LOGIN_MAX_FAILURES_PER_IP", "20") or 20),
        "LOGIN_FAILURE_WINDOW_MINUTES": int(_env("LOGIN_FAILURE_WINDOW_MINUTES", "15") or 15),
        "LOGIN_LOCKOUT_MINUTES": int(_env("LOGIN_LOCKOUT_MINUTES", "15") or 15),
        # REST API limits, counted per API key or OAuth token: a short burst and a sustained
        # rate; and per client address, whoever calls (unauthenticated guessing included).
        "API_RATE_LIMIT_BURST": _env("API_RATE_LIMIT_BURST", "20 per second"),
        "API_RATE_LIMIT_SUSTAINED": _env("API_RATE_LIMIT_SUSTAINED", "1000 per hour"),
        "API_RATE_LIMIT_PER_IP": _env("API_RATE_LIMIT_PER_IP", "50 per second"),
        # Signed API requests: how far a request's timestamp may be from our clock (seconds);
        # nonces are kept this long too, so a replay within the window is caught.
        "API_SIGNATURE_WINDOW_SECONDS": int(_env("API_SIGNATURE_WINDOW_SECONDS", "300") or 300),
        # OAuth 2.0: lifetimes of access tokens and authorization codes (seconds) and of
        # refresh tokens (days; each use of one gives a new one).
        "OAUTH_ACCESS_TOKEN_SECONDS": int(_env("OAUTH_ACCESS_TOKEN_SECONDS", "3600") or 3600),
        "OAUTH_CODE_SECONDS": int(_env("OAUTH_CODE_SECONDS", "600") or 600),
        "OAUTH_REFRESH_TOKEN_DAYS": int(_env("OAUTH_REFRESH_TOKEN_DAYS", "30") or 30),
        # Chat notifications: Slack's Web API base, the timeout, and (tests, self-hosted chat)
        # webhook URLs on any host instead of the providers' own.
        "SLACK_API_BASE": _env("SLACK_API_BASE", "https://slack.com/api/"),
        "NOTIFY_TIMEOUT": float(_env("NOTIFY_TIMEOUT", "10") or 10),
        "NOTIFY_ANY_HOST": _flag("NOTIFY_ANY_HOST", False),
        # A business's own SMTP server may resolve to a private or loopback address (a relay on
        # the installation's own network); off, so a tenant cannot probe the platform's network.
        "SMTP_ALLOW_PRIVATE_HOSTS": _flag("SMTP_ALLOW_PRIVATE_HOSTS", False),
        # Outgoing webhooks: seconds to wait for an endpoint's answer, and whether endpoints may
        # be on this machine (http://127.0.0.1, ::1). Only for tests and local development: on a
        # server it would let anyone with the admin role reach services listening on loopback.
        "WEBHOOKS_TIMEOUT": float(_env("WEBHOOKS_TIMEOUT", "10") or 10),
        "WEBHOOKS_ALLOW_LOOPBACK": _flag("WEBHOOKS_ALLOW_LOOPBACK", False),
        # Payment providers' API roots. A provider is offered to businesses only once its root
        # is set (https://api.stripe.com, https://api-m.paypal.com, https://connect.squareup.com,
        # or their sandboxes); tests point them at fakes on 127.0.0.1.
        "STRIPE_API_BASE": _env("STRIPE_API_BASE"),
        "PAYPAL_API_BASE": _env("PAYPAL_API_BASE"),
        "SQUARE_API_BASE": _env("SQUARE_API_BASE"),
        # Hosts of the providers' hosted payment pages, which the portal's forms may lead to.
        "PAYMENT_PAGE_ORIGINS": (
            _env(
                "PAYMENT_PAGE_ORIGINS",
                "https://checkout.stripe.com https://www.paypal.com https://www.sandbox.paypal.com"
                " https://square.link https://sandbox.square.link https://checkout.square.site",
            )
            or ""
        ).split(),
        "PAYMENTS_TIMEOUT": float(_env("PAYMENTS_TIMEOUT", "20") or 20),
        # Stripe Connect: the platform's cut of each payment to a connected account, in basis
        # points (100 = 1%).
        "STRIPE_APPLICATION_FEE_BPS": int(_env("STRIPE_APPLICATION_FEE_BPS", "0") or 0),
        # The platform's own Stripe keys: with them, a business may connect its Stripe account
        # (Connect onboarding) instead of pasting its keys.
        "STRIPE_PLATFORM_SECRET_KEY": _env("STRIPE_PLATFORM_SECRET_KEY"),
        "STRIPE_PLATFORM_WEBHOOK_SECRET": _env("STRIPE_PLATFORM_WEBHOOK_SECRET"),
        # The key ring for secrets at rest (Fernet keys, newest first): portal/secrets_at_rest.py.
        "SECRET_KEYS": [k for k in re.split(r"[\s,]+", _env("SECRET_KEYS", "") or "") if k],
        # Keys that sign ShareEnvelopes: {"key id": "hmac:<base64>" | "ed25519:<base64 public>"}.
        "ENVELOPE_KEYS": _json_env("ENVELOPE_KEYS"),
        # Keys that encrypt backups, newest first (spaces or commas between them): new backups
        # use the first; older keys stay listed so the backups they wrote can still be restored.
        "BACKUP_KEYS": (_env("BACKUP_KEYS") or "").replace(",", " ").split(),
        # Uploads (logos, e-invoices, envelopes) larger than this are refused with 413.
        "MAX_CONTENT_LENGTH": int(_env("MAX_UPLOAD_BYTES", str(20 * 1024 * 1024)) or 0),
    }


def _json_env(name: str) -> dict[str, Any]:
    raw = _env(name)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise RuntimeError(f"{PREFIX}{name} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise RuntimeError(f"{PREFIX}{name} must be a JSON object of key id to key")
    return value


def _dev_secret(instance_path: Path) -> str:
    """A per-checkout key for the local demo, kept so sessions survive a restart."""
    path = instance_path / "dev-secret-key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    return key
