"""The served OpenAPI document against the API itself: schemathesis generates requests for
every operation and checks that no answer is a server error, and that every answer's status,
content type and body are the ones the document promises."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from portal.api.principal import SCOPES
from portal.models import DocumentKind
from portal.services import api_keys, catalogue, credit_notes, payments, recurring
from tests.conftest import Team
from tests.services import factories

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 12


def _seed(team: Team) -> tuple[str, dict[str, str]]:
    """A key, and one real id per path prefix so that some calls reach real records."""
    owner = team.actor()
    client = factories.client(owner, name="Seeded Client", email="seed@example.com")
    rate = factories.tax_rate(owner)
    invoice = factories.issued_invoice(
        owner, client, factories.line(tax_rate_ids=(rate.public_id,))
    )
    other = factories.issued_invoice(owner, client, factories.line(qty="3"))
    factories.draft(owner, client, factories.line(qty="2", price=str(Decimal("12.5"))))
    quote = factories.draft(owner, client, kind=DocumentKind.QUOTE)
    note = credit_notes.create_credit_note(owner, other.public_id)
    product = catalogue.create_product(
        owner, catalogue.ProductData(name="Hour", unit_price=Decimal("80"), currency="EUR")
    )
    payment = payments.record_payment(
        owner,
        payments.PaymentData(
            client_id=client.public_id,
            amount=Decimal("300"),
            currency="EUR",
            received_on=date(2026, 1, 5),
            allocations=((invoice.public_id, Decimal("50")),),
        ),
    )
    refund = payments.refund_payment(owner, payment.public_id, Decimal("1"), date(2026, 1, 6))
    schedule = recurring.create_schedule(
        owner,
        recurring.ScheduleData(
            client_id=client.public_id,
            lines=(factories.line(),),
            frequency="monthly",
            start_date=date(2026, 2, 1),
        ),
    )
    _, raw = api_keys.create_key(owner, api_keys.KeyData(name="Fuzz", scopes=tuple(SCOPES)))
    ids = {
        "/api/v1/clients/": client.public_id,
        "/api/v1/envelopes/clients/": client.public_id,
        "/api/v1/invoices/": invoice.public_id,
        "/api/v1/envelopes/invoices/": invoice.public_id,
        "/api/v1/quotes/": quote.public_id,
        "/api/v1/credit-notes/": note.public_id,
        "/api/v1/products/": product.public_id,
        "/api/v1/tax-rates/": rate.public_id,
        "/api/v1/payments/": payment.public_id,
        "/api/v1/refunds/": refund.public_id,
        "/api/v1/recurring-schedules/": schedule.public_id,
    }
    return raw, ids


def _real_ids(operation: Any, ids: dict[str, str]) -> Any:
    """Half the cases name a real record instead of a random id."""
    real = next((v for k, v in ids.items() if operation.path.startswith(k)), None)

    def swap(pair: tuple[Any, bool]) -> Any:
        case, use_real = pair
        if real and use_real and case.path_parameters and "public_id" in case.path_parameters:
            case.path_parameters["public_id"] = real
        return case

    return st.tuples(operation.as_strategy(), st.booleans()).map(swap)


@pytest.mark.slow
def test_every_operation_keeps_its_promises(app: Flask, team: Team, db: Any) -> None:
    key, ids = _seed(team)
    app.config.update(
        dict.fromkeys(
            ("API_RATE_LIMIT_BURST", "API_RATE_LIMIT_SUSTAINED", "API_RATE_LIMIT_PER_IP"),
            "1000000 per second",
        )
    )
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40
    failures: list[str] = []
    for operation in operations:
        # PDFs render through the browser engine: a few tries say what is needed.
        examples = 3 if operation.path.endswith("/pdf") else EXAMPLES

        @given(case=_real_ids(operation, ids))
        @settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as failure:  # collect every operation's failures, then report
            causes = getattr(failure, "exceptions", ())
            failures.append(f"{operation.method.upper()} {operation.path}: {failure} {causes!r}")
    assert failures == []
