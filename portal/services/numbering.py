"""Gap-free document numbers, given inside the transaction that issues the document."""

from __future__ import annotations

from datetime import date

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite

from portal.billing.numbering import Reset, period_key, render_number
from portal.extensions import db
from portal.models import Business, DocumentKind, NumberSequence


def pattern_for(business: Business, kind: DocumentKind) -> str:
    return {
        DocumentKind.INVOICE: business.invoice_number_pattern,
        DocumentKind.QUOTE: business.quote_number_pattern,
        DocumentKind.CREDIT_NOTE: business.credit_note_number_pattern,
    }[kind]


def next_number(business: Business, kind: DocumentKind, on: date) -> str:
    """Take the next number; the caller's rollback gives it back, so no number is skipped.

    The increment is one ``UPDATE … RETURNING``: on PostgreSQL it locks the sequence row until
    the issuing transaction ends, so concurrent issuers queue instead of sharing a number.
    """
    key = period_key(Reset(business.number_reset), on)
    values = {"business_id": business.id, "kind": kind, "period_key": key, "last_value": 0}
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.session.execute(
        insert(NumberSequence)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["business_id", "kind", "period_key"])
    )
    value = db.session.execute(
        update(NumberSequence)
        .where(
            NumberSequence.business_id == business.id,
            NumberSequence.kind == kind,
            NumberSequence.period_key == key,
        )
        .values(last_value=NumberSequence.last_value + 1)
        .returning(NumberSequence.last_value)
    ).scalar_one()
    return render_number(pattern_for(business, kind), int(value), on)
