"""The payment gateways by name."""

from __future__ import annotations

from importlib import import_module

from integrations.payments.base import GatewayConfig, PaymentGateway

PROVIDERS = {
    "stripe": ("integrations.payments.stripe", "StripeGateway", "Stripe"),
    "paypal": ("integrations.payments.paypal", "PayPalGateway", "PayPal"),
    "square": ("integrations.payments.square", "SquareGateway", "Square"),
}


def gateway(config: GatewayConfig) -> PaymentGateway:
    """The adapter for ``config.provider``; its SDK is imported only when it is used."""
    try:
        module_name, class_name, _ = PROVIDERS[config.provider]
    except KeyError:
        raise ValueError(f"no payment gateway called {config.provider!r}") from None
    cls = getattr(import_module(module_name), class_name)
    return cls(config)  # type: ignore[no-any-return]


def label(provider: str) -> str:
    return PROVIDERS[provider][2]
