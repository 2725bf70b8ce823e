"""SQLAlchemy models, one module per aggregate; imported here so Alembic sees them all."""

from portal.models.audit import AuditChainHead, AuditEvent
from portal.models.catalogue import Product, TaxRate, product_tax_rates
from portal.models.clients import Client, Contact, Tag, client_tags
from portal.models.people import Business, Invitation, Membership, Role, User

__all__ = [
    "AuditChainHead",
    "AuditEvent",
    "Business",
    "Client",
    "Contact",
    "Invitation",
    "Membership",
    "Product",
    "Role",
    "Tag",
    "TaxRate",
    "User",
    "client_tags",
    "product_tax_rates",
]
