"""SQLAlchemy models, one module per aggregate; imported here so Alembic sees them all."""

from portal.models.analytics import AnalyticsVersion, RiskModel, RiskScore
from portal.models.api import (
    ApiKey,
    ApiNonce,
    ApiRequest,
    IdempotencyRecord,
    OAuthAuthorizationCode,
    OAuthClient,
    OAuthToken,
)
from portal.models.audit import AuditChainHead, AuditEvent
from portal.models.catalogue import Product, TaxRate, product_tax_rates
from portal.models.clients import Client, Contact, Tag, client_tags
from portal.models.delivery import Delivery, Heartbeat, NotificationChannel, ReminderRule
from portal.models.documents import (
    Document,
    DocumentAdjustment,
    DocumentKind,
    DocumentLine,
    Instalment,
    NumberSequence,
)
from portal.models.experiments import Experiment, ExperimentEvent, ExperimentVariant
from portal.models.files import DocumentTemplate, Job, ReceivedDocument, RenderedFile
from portal.models.gateways import (
    Checkout,
    Dispute,
    PaymentAccount,
    ProviderEvent,
    SavedPaymentMethod,
)
from portal.models.outbox import OutboxMessage
from portal.models.payments import CreditApplication, Payment, PaymentAllocation, Refund
from portal.models.people import Business, Invitation, Membership, Role, User
from portal.models.portal_links import PortalLink
from portal.models.rates import CustomField, ExchangeRate
from portal.models.recurring import LateFeeRule, RecurringSchedule
from portal.models.security import (
    LoginAttempt,
    RecoveryCode,
    RememberedDevice,
    TotpCredential,
    UserSession,
    WebAuthnCredential,
)
from portal.models.webhooks import WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "AnalyticsVersion",
    "ApiKey",
    "ApiNonce",
    "ApiRequest",
    "AuditChainHead",
    "AuditEvent",
    "Business",
    "Checkout",
    "Client",
    "Contact",
    "CreditApplication",
    "CustomField",
    "Delivery",
    "Dispute",
    "Document",
    "DocumentAdjustment",
    "DocumentKind",
    "DocumentLine",
    "DocumentTemplate",
    "ExchangeRate",
    "Experiment",
    "ExperimentEvent",
    "ExperimentVariant",
    "Heartbeat",
    "IdempotencyRecord",
    "Instalment",
    "Invitation",
    "Job",
    "LateFeeRule",
    "LoginAttempt",
    "Membership",
    "NotificationChannel",
    "NumberSequence",
    "OAuthAuthorizationCode",
    "OAuthClient",
    "OAuthToken",
    "OutboxMessage",
    "Payment",
    "PaymentAccount",
    "PaymentAllocation",
    "PortalLink",
    "Product",
    "ProviderEvent",
    "ReceivedDocument",
    "RecoveryCode",
    "RecurringSchedule",
    "Refund",
    "RememberedDevice",
    "ReminderRule",
    "RenderedFile",
    "RiskModel",
    "RiskScore",
    "Role",
    "SavedPaymentMethod",
    "Tag",
    "TaxRate",
    "TotpCredential",
    "User",
    "UserSession",
    "WebAuthnCredential",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "client_tags",
    "product_tax_rates",
]
