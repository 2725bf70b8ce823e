"""A business's accounts at payment providers: what to store, how to reach the adapter."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from time import monotonic
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from flask import current_app, url_for
from sqlalchemy import select

from integrations.payments import registry
from integrations.payments.base import GatewayConfig, GatewayError, PaymentGateway
from portal.extensions import db
from portal.models import Business, PaymentAccount, Role
from portal.services import audit
from portal.services.actors import Actor
from portal.services.errors import InvalidInput, NotFound
from portal.services.mail import absolute_url

if TYPE_CHECKING:  # the Stripe SDK is imported only when Stripe is used
    from integrations.payments.stripe import Payout, StripeGateway


@dataclass(frozen=True, slots=True)
class Credential:
    name: str
    label: str
    secret: bool  # shown as a password field; left blank on an edit keeps the stored value


CREDENTIALS: dict[str, tuple[Credential, ...]] = {
    "stripe": (
        Credential("secret_key", "Secret key (sk_live_… or sk_test_…)", True),
        Credential("webhook_secret", "Webhook signing secret (whsec_…)", True),
    ),
    "paypal": (
        Credential("client_id", "Client ID", False),
        Credential("client_secret", "Client secret", True),
        Credential("webhook_id", "Webhook ID", False),
    ),
    "square": (
        Credential("access_token", "Access token", True),
        Credential("location_id", "Location ID", False),
        Credential("webhook_signature_key", "Webhook signature key", True),
    ),
}

#: Payment methods a business may offer, by provider (the provider's own names).
METHODS: dict[str, dict[str, str]] = {
    "stripe": {
        "card": "Cards",
        "sepa_debit": "SEPA Direct Debit",
        "us_bank_account": "ACH bank debit",
        "bacs_debit": "Bacs Direct Debit",
        "link": "Link",
    },
    "paypal": {"paypal": "PayPal"},
    "square": {"card": "Cards"},
}

PUBLISHABLE_KEY_GIVEN = "That is the publishable key; paste the secret key (sk_…)."

_CONFIG_KEYS = {
    "stripe": "STRIPE_API_BASE",
    "paypal": "PAYPAL_API_BASE",
    "square": "SQUARE_API_BASE",
}


@dataclass(frozen=True, slots=True)
class AccountData:
    credentials: dict[str, str] = field(default_factory=dict)
    payment_methods: tuple[str, ...] = ()
    allow_partial: bool = False
    minimum_partial_minor: int = 0
    connected_account_id: str = ""


def label(provider: str) -> str:
    return registry.label(provider)


def api_base(provider: str) -> str | None:
    value = current_app.config.get(_CONFIG_KEYS[provider])
    return str(value).rstrip("/") if value else None


def page_origins() -> list[str]:
    """Where the providers' hosted payment pages live: their API origins (a sandbox or a test
    server may serve both) and the hosts they document for hosted checkout."""
    origins = [str(o) for o in current_app.config.get("PAYMENT_PAGE_ORIGINS") or ()]
    for provider in available():
        parts = urlsplit(api_base(provider) or "")
        origins.append(f"{parts.scheme}://{parts.netloc}")
    return sorted(set(origins))


def available() -> list[str]:
    """Providers the operator has configured, in a fixed order."""
    return [p for p in CREDENTIALS if api_base(p)]


def accounts(actor: Actor) -> dict[str, PaymentAccount]:
    rows = db.session.scalars(
        select(PaymentAccount).where(PaymentAccount.business_id == actor.business.id)
    )
    return {row.provider: row for row in rows}


def enabled_accounts(business: Business) -> list[PaymentAccount]:
    rows = db.session.scalars(
        select(PaymentAccount).where(
            PaymentAccount.business_id == business.id, PaymentAccount.enabled.is_(True)
        )
    )
    offered = available()
    return sorted(
        (r for r in rows if r.provider in offered), key=lambda r: offered.index(r.provider)
    )


@dataclass(frozen=True, slots=True)
class Offered:
    """What the payment form needs of an account, kept between page views."""

    provider: str
    payment_methods: str
    allow_partial: bool
    minimum_partial_minor: int


OFFERED_SECONDS = 30.0
_offered: dict[int, tuple[float, tuple[Offered, ...]]] = {}


def offered(business: Business) -> tuple[Offered, ...]:
    """The business's enabled accounts as the payment form shows them. Kept for a few seconds
    in this process (the portal page is read far more often than settings change); a change
    through this module forgets it at once, other processes within ``OFFERED_SECONDS``."""
    now = monotonic()
    kept = _offered.get(business.id)
    if kept is not None and now - kept[0] < OFFERED_SECONDS:
        return kept[1]
    found = tuple(
        Offered(a.provider, a.payment_methods, a.allow_partial, a.minimum_partial_minor)
        for a in enabled_accounts(business)
    )
    _offered[business.id] = (now, found)
    return found


def forget_offered(business_id: int | None = None) -> None:
    if business_id is None:
        _offered.clear()
    else:
        _offered.pop(business_id, None)


def _provider(provider: str) -> str:
    if provider not in CREDENTIALS:
        raise NotFound("No such payment provider.")
    return provider


def credentials_of(account: PaymentAccount) -> dict[str, str]:
    value = json.loads(account.credentials or "{}")
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def save_account(actor: Actor, provider: str, data: AccountData) -> PaymentAccount:
    """Connect a provider or change its settings; blank secrets keep what is stored."""
    actor.require(Role.ADMIN)
    _provider(provider)
    if provider not in available():
        raise InvalidInput({"provider": f"{label(provider)} is not set up on this server."})
    account = accounts(actor).get(provider)
    stored = credentials_of(account) if account else {}
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    for cred in CREDENTIALS[provider]:
        given = data.credentials.get(cred.name, "").strip()
        value = given or (stored.get(cred.name, "") if cred.secret else "")
        if not value:
            errors[cred.name] = f"Enter the {cred.label.split(' (')[0].lower()}."
        elif len(value) > 500 or any(c.isspace() for c in value):
            errors[cred.name] = "This does not look like a value from the provider."
        values[cred.name] = value
    if provider == "stripe" and values.get("secret_key", "").startswith("pk_"):
        errors["secret_key"] = PUBLISHABLE_KEY_GIVEN
    methods = tuple(dict.fromkeys(data.payment_methods))
    unknown = [m for m in methods if m not in METHODS[provider]]
    if not methods:
        errors["payment_methods"] = "Choose at least one payment method."
    elif unknown:
        errors["payment_methods"] = f"{label(provider)} does not take {', '.join(unknown)} here."
    if data.minimum_partial_minor < 0:
        errors["minimum_partial"] = "The minimum cannot be negative."
    connected = data.connected_account_id.strip()
    if connected and (provider != "stripe" or not connected.startswith("acct_")):
        errors["connected_account_id"] = "A connected Stripe account id starts with acct_."
    if errors:
        raise InvalidInput(errors)
    created = account is None
    if account is None:
        account = PaymentAccount(business_id=actor.business.id, provider=provider)
        db.session.add(account)
    account.credentials = json.dumps(values, sort_keys=True)
    account.payment_methods = ",".join(methods)
    account.allow_partial = data.allow_partial
    account.minimum_partial_minor = data.minimum_partial_minor
    account.connected_account_id = connected
    account.enabled = True
    db.session.flush()
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="payment_account.connected" if created else "payment_account.updated",
        entity_type="payment_account",
        entity_id=account.public_id,
        # Which keys changed, never their values.
        after={
            "provider": provider,
            "methods": list(methods),
            "allow_partial": data.allow_partial,
            "credentials_changed": sorted(k for k in values if values[k] != stored.get(k)),
        },
    )
    db.session.commit()
    forget_offered(actor.business.id)
    return account


def set_enabled(actor: Actor, provider: str, enabled: bool) -> PaymentAccount:
    actor.require(Role.ADMIN)
    account = accounts(actor).get(_provider(provider))
    if account is None:
        raise NotFound("That provider is not connected.")
    account.enabled = enabled
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="payment_account.enabled" if enabled else "payment_account.disabled",
        entity_type="payment_account",
        entity_id=account.public_id,
    )
    db.session.commit()
    forget_offered(actor.business.id)
    return account


def webhook_url(account: PaymentAccount) -> str:
    return absolute_url(
        url_for("hooks.payment_webhook", provider=account.provider, account_id=account.public_id)
    )


def gateway_config(account: PaymentAccount, application_fee_minor: int = 0) -> GatewayConfig:
    base = api_base(account.provider)
    if base is None:
        raise InvalidInput({"provider": f"{label(account.provider)} is not set up on this server."})
    credentials = credentials_of(account)
    if account.provider == "stripe" and account.connected_account_id and not credentials:
        credentials = platform_credentials()  # Stripe Connect: the platform acts for the account
    missing = [c.label for c in CREDENTIALS[account.provider] if not credentials.get(c.name)]
    if missing:
        raise InvalidInput({"provider": f"{label(account.provider)} lacks: {', '.join(missing)}."})
    if account.provider == "square":
        credentials["notification_url"] = webhook_url(account)
    if account.connected_account_id:
        credentials["account_id"] = account.connected_account_id
    return GatewayConfig(
        provider=account.provider,
        base_url=base,
        credentials=credentials,
        timeout=float(current_app.config["PAYMENTS_TIMEOUT"]),
        application_fee_minor=application_fee_minor,
    )


def gateway_for(account: PaymentAccount, application_fee_minor: int = 0) -> PaymentGateway:
    return registry.gateway(gateway_config(account, application_fee_minor))


# ----------------------------------------------------------------------------- Stripe Connect


def platform_credentials() -> dict[str, str]:
    """The operator's own Stripe keys, when the server offers Stripe Connect."""
    key = current_app.config.get("STRIPE_PLATFORM_SECRET_KEY")
    secret = current_app.config.get("STRIPE_PLATFORM_WEBHOOK_SECRET")
    return {"secret_key": str(key), "webhook_secret": str(secret)} if key and secret else {}


def connect_offered() -> bool:
    return "stripe" in available() and bool(platform_credentials())


def platform_gateway() -> StripeGateway:
    from integrations.payments.stripe import StripeGateway

    base = api_base("stripe")
    if base is None or not platform_credentials():
        raise InvalidInput({"provider": "Stripe Connect is not offered on this server."})
    return StripeGateway(
        GatewayConfig(
            "stripe",
            base,
            platform_credentials(),
            timeout=float(current_app.config["PAYMENTS_TIMEOUT"]),
        )
    )


def start_connect(actor: Actor, refresh_url: str, return_url: str) -> str:
    """Create (once) the business's connected Stripe account and return Stripe's onboarding
    page; payments then go to that account, with the platform's fee."""
    actor.require(Role.OWNER)
    gateway = platform_gateway()
    account = accounts(actor).get("stripe")
    if account is not None and credentials_of(account):
        raise InvalidInput({"provider": "Stripe is connected with your own keys already."})
    try:
        if account is None or not account.connected_account_id:
            acct = gateway.create_connected_account(actor.user.email)
            if account is None:
                account = PaymentAccount(
                    business_id=actor.business.id, provider="stripe", credentials="{}"
                )
                db.session.add(account)
            account.connected_account_id = acct
            account.enabled = False  # until Stripe says the onboarding is done
            db.session.flush()
            audit.record(
                business=actor.business,
                actor=actor.user,
                action="payment_account.connect_started",
                entity_type="payment_account",
                entity_id=account.public_id,
                after={"connected_account_id": acct},
            )
            db.session.commit()
            forget_offered(actor.business.id)
        return gateway.onboarding_link(account.connected_account_id, refresh_url, return_url)
    except GatewayError as error:
        db.session.rollback()
        raise InvalidInput({"provider": f"Stripe did not answer: {error}"}) from error


def finish_connect(actor: Actor) -> PaymentAccount:
    """Back from Stripe's onboarding: turn card payments on."""
    actor.require(Role.OWNER)
    account = accounts(actor).get("stripe")
    if account is None or not account.connected_account_id:
        raise NotFound("No Stripe account is being connected.")
    account.enabled = True
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="payment_account.connected",
        entity_type="payment_account",
        entity_id=account.public_id,
        after={"connected_account_id": account.connected_account_id},
    )
    db.session.commit()
    forget_offered(actor.business.id)
    return account


def payouts(account: PaymentAccount) -> list[Payout]:
    """Stripe's latest payouts to the business's bank; empty when Stripe cannot say."""
    from integrations.payments.stripe import StripeGateway

    gateway = gateway_for(account)
    if not isinstance(gateway, StripeGateway):
        return []
    try:
        return gateway.payouts(limit=10)
    except GatewayError:
        return []


def application_fee(account: PaymentAccount, amount_minor: int) -> int:
    """The platform's cut on a connected Stripe account, rounded half up."""
    bps = int(current_app.config.get("STRIPE_APPLICATION_FEE_BPS") or 0)
    if account.provider != "stripe" or not account.connected_account_id or bps <= 0:
        return 0
    return (amount_minor * bps + 5000) // 10000
