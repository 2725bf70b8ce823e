"""Payment page experiments: who sees which variant, what is counted, and when it stops.

Assignment hashes the experiment and the link, so it is fixed per link and spread by the
shares; a paused experiment assigns and counts nothing, an ended one keeps its results. The
payments go through the fake Stripe, as a client's would.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lxml.html
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Checkout, Experiment, ExperimentEvent, PortalLink, Role
from portal.models.base import new_public_id
from portal.services import client_portal, experiment_results
from portal.services import experiments as service
from portal.services.errors import InvalidInput
from tests.fakes.stripe_api import FakeStripe
from tests.payments.conftest import PayShop, post_events, submit

CONTROL = service.VariantSettings(heading="Pay this invoice today")
COMPACT = service.VariantSettings(layout="compact", heading="Settle up in a minute", button="Go")
HEADINGS = {"a": CONTROL.heading, "b": COMPACT.heading}
STANDARD = "Pay this invoice"


def _create(shop: PayShop, *weights: int, name: str = "Shorter page") -> Experiment:
    settings = [CONTROL, COMPACT, service.VariantSettings(), service.VariantSettings()]
    return service.create_experiment(
        shop.team.actor(Role.ADMIN),
        name,
        [
            service.VariantData(f"Variant {n}", weight, settings[n])
            for n, weight in enumerate(weights)
        ],
    )


def _start(shop: PayShop, *weights: int) -> Experiment:
    experiment = _create(shop, *weights)
    return service.change_status(shop.team.actor(Role.ADMIN), experiment.public_id, "start")


def _link(shop: PayShop) -> tuple[PortalLink, str]:
    actor = shop.team.actor(Role.STAFF)
    return client_portal.create_link(actor, shop.client.public_id, shop.invoice.public_id)


def _unsaved_link() -> PortalLink:
    """A link as assignment sees it: only its public id counts."""
    return PortalLink(public_id=new_public_id())


@dataclass(frozen=True)
class Seen:
    viewed: int
    started: int
    paid: int
    amounts: tuple[str, ...]


def _counts(experiment: Experiment) -> dict[str, Seen]:
    db.session.expire_all()
    return {
        row.variant.key: Seen(
            row.viewed, row.started, row.paid, tuple(str(m) for m in row.paid_amounts)
        )
        for row in service.counts(experiment)
    }


def _html(response: Any) -> Any:
    return lxml.html.fromstring(response.get_data(as_text=True))


def _heading(visitor: FlaskClient, token: str) -> str:
    page = _html(visitor.get(f"/pay/{token}"))
    [heading] = page.xpath("//section[@id='pay']/h2")
    return str(heading.text_content()).strip()


def _start_checkout(visitor: FlaskClient, token: str, **form: str) -> str:
    """Press the pay button; returns the fake Stripe's hosted page."""
    started = visitor.post(f"/pay/{token}/checkout", data={"provider": "stripe", **form})
    assert started.status_code == 303, started.get_data(as_text=True)
    return str(started.location)


def _complete(app: Flask, shop: PayShop, fake: FakeStripe, hosted: str) -> None:
    """The client pays on Stripe's page; Stripe's webhooks reach the app (from Stripe's side,
    without anyone's session)."""
    before = len(fake.sent_events)
    submit(hosted + "/pay")
    assert set(post_events(app.test_client(), shop.hook, fake.sent_events[before:])) == {200}


@pytest.fixture
def visitor(app: Flask, db: Any) -> FlaskClient:
    """The client's browser: no account, no session of the business."""
    return app.test_client()


# --------------------------------------------------------------------------- assignment


def test_the_bucket_is_the_same_on_every_machine() -> None:
    # Pinned: a change to the hash moves clients who come back to another variant.
    assert service.bucket("01JEXPERIMENT0000000000000", "01JLINK00000000000000000000") == 43
    assert service.bucket("exp", "link") == 40
    assert service.bucket("exp", "link") == service.bucket("exp", "link")
    assert service.bucket("exp", "link") != service.bucket("other-exp", "link")


def test_a_link_sees_the_same_variant_on_every_visit(
    stripe_shop: PayShop, visitor: FlaskClient
) -> None:
    experiment = _start(stripe_shop, 50, 50)
    links = [_link(stripe_shop) for _ in range(12)]

    def variant_of(link: PortalLink) -> str:
        assignment = service.assign(stripe_shop.team.business, link)
        assert assignment is not None and assignment.experiment.id == experiment.id
        return assignment.variant.key

    first = {link.public_id: variant_of(link) for link, _ in links}
    assert set(first.values()) <= {"a", "b"}
    for _ in range(3):
        assert {link.public_id: variant_of(link) for link, _ in links} == first
    # The page a client opens twice is the same page, and counts as one visit.
    link, token = links[0]
    key = first[link.public_id]
    assert _heading(visitor, token) == _heading(visitor, token) == HEADINGS[key]
    assert _counts(experiment)[key].viewed == 1


@pytest.mark.parametrize("weights", [(70, 30), (10, 25, 65), (1, 99)])
def test_over_many_links_the_split_follows_the_shares(
    stripe_shop: PayShop, weights: tuple[int, ...]
) -> None:
    experiment = _start(stripe_shop, *weights)
    keys = [v.key for v in experiment.variants]
    # Every assignment as the portal makes it, for a sample of links...
    sample = [_unsaved_link() for _ in range(300)]
    for link in sample:
        chosen = service.assign(stripe_shop.team.business, link)
        assert chosen is not None
        point = service.bucket(experiment.public_id, link.public_id)
        assert chosen.variant.key == service.pick(experiment.variants, point).key
    # ...and the same rule over many more, without the database round trip.
    n = 100_000
    seen = Counter(
        service.pick(experiment.variants, service.bucket(experiment.public_id, new_public_id())).key
        for _ in range(n)
    )
    for key, weight in zip(keys, weights, strict=True):
        p = weight / 100
        # Five binomial standard deviations: a false alarm about once in two million runs.
        tolerance = 5 * math.sqrt(n * p * (1 - p))
        assert abs(seen[key] - n * p) <= tolerance, (key, seen[key], n * p, tolerance)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ((60, 30), "The shares must add up to 100 percent."),
        ((60, 50), "The shares must add up to 100 percent."),
        ((30, 30, 30), "The shares must add up to 100 percent."),
        ((100, 0), "Each variant's share is between 1 and 99 percent."),
        ((100,), "An experiment needs 2 to 4 variants."),
    ],
)
def test_shares_that_do_not_add_up_to_100_are_refused(
    stripe_shop: PayShop, weights: tuple[int, ...], message: str
) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)) as refused:
        _create(stripe_shop, *weights)
    assert refused.value.errors == {"variants": message}
    assert db.session.scalar(select(func.count()).select_from(Experiment)) == 0


def test_the_form_says_when_the_shares_do_not_add_up(
    login: Callable[..., FlaskClient], stripe_shop: PayShop
) -> None:
    client = login(Role.ADMIN)
    response = client.post(
        "/app/experiments",
        data={
            "name": "Shorter page",
            "min_views": "100",
            "confirm": "y",
            "variants-0-name": "Control",
            "variants-0-weight": "60",
            "variants-0-layout": "standard",
            "variants-0-method_order": "",
            "variants-0-offer_partial": "",
            "variants-1-name": "Compact",
            "variants-1-weight": "30",
            "variants-1-layout": "compact",
            "variants-1-method_order": "",
            "variants-1-offer_partial": "",
        },
    )
    assert response.status_code == 422
    assert "The shares must add up to 100 percent." in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Experiment)) == 0


# --------------------------------------------------------------------------- pause and end


def _press(client: FlaskClient, experiment: Experiment, action: str) -> Any:
    response = client.post(f"/app/experiments/{experiment.public_id}/{action}")
    assert response.status_code == 303
    page = client.get(response.location)
    assert page.status_code == 200
    return _html(page)


def _status(page: Any) -> str:
    return str(page.get_element_by_id("experiment-status").text_content()).strip()


def _buttons(page: Any) -> list[str]:
    return [str(b.text_content()).strip() for b in page.xpath("//div[@class='actions']//button")]


def test_pausing_stops_assignment_and_counting_and_resuming_keeps_the_variants(
    app: Flask,
    login: Callable[..., FlaskClient],
    stripe_shop: PayShop,
    fake_stripe: FakeStripe,
    visitor: FlaskClient,
) -> None:
    experiment = _start(stripe_shop, 50, 50)
    link, token = _link(stripe_shop)
    before = service.assign(stripe_shop.team.business, link)
    assert before is not None
    key = before.variant.key
    assert _heading(visitor, token) == HEADINGS[key]
    hosted = _start_checkout(visitor, token, amount="40")  # started while running
    counted = _counts(experiment)
    assert (counted[key].viewed, counted[key].started, counted[key].paid) == (1, 1, 0)

    admin = login(Role.ADMIN)
    page = _press(admin, experiment, "pause")
    assert _status(page) == "Paused"
    assert _buttons(page) == ["Resume", "End"]
    assert "nothing is counted" in page.get_element_by_id("experiment-note").text_content()

    # Nobody is assigned: every client sees the standard page, and nothing is counted.
    assert service.assign(stripe_shop.team.business, link) is None
    _, other_token = _link(stripe_shop)
    assert _heading(visitor, token) == _heading(visitor, other_token) == STANDARD
    _complete(app, stripe_shop, fake_stripe, hosted)  # paid while paused
    checkout = db.session.scalar(select(Checkout))
    assert checkout is not None and checkout.status == "paid"
    assert _counts(experiment) == counted
    assert db.session.scalar(select(func.count()).select_from(ExperimentEvent)) == 2

    page = _press(admin, experiment, "start")
    assert _status(page) == "Running"
    resumed = service.assign(stripe_shop.team.business, link)
    assert resumed is not None and resumed.variant.key == key


def test_ending_freezes_the_results(
    app: Flask,
    login: Callable[..., FlaskClient],
    stripe_shop: PayShop,
    fake_stripe: FakeStripe,
    visitor: FlaskClient,
) -> None:
    experiment = _start(stripe_shop, 50, 50)
    tokens = [_link(stripe_shop)[1] for _ in range(4)]
    for token in tokens:
        _heading(visitor, token)
    hosted = _start_checkout(visitor, tokens[0])
    at_end = _counts(experiment)
    assert sum(s.viewed for s in at_end.values()) == 4

    admin = login(Role.ADMIN)
    page = _press(admin, experiment, "end")
    assert _status(page) == "Ended"
    assert _buttons(page) == []
    assert "final" in page.get_element_by_id("experiment-note").text_content()
    assert page.get_element_by_id("results").get("hx-trigger") is None  # no polling
    results_before = experiment_results.results(experiment)

    # Later visits, a new link and the payment of a checkout started before the end: all
    # leave the results as they were.
    for token in [*tokens, _link(stripe_shop)[1]]:
        assert _heading(visitor, token) == STANDARD
    _complete(app, stripe_shop, fake_stripe, hosted)
    assert _counts(experiment) == at_end
    after = experiment_results.results(experiment)
    assert [(r.viewed, r.started, r.paid) for r in after.counts] == [
        (r.viewed, r.started, r.paid) for r in results_before.counts
    ]

    # An ended experiment cannot start again.
    refused = admin.post(f"/app/experiments/{experiment.public_id}/start", follow_redirects=True)
    assert "This experiment has ended; its results are final." in refused.get_data(as_text=True)
    with pytest.raises(InvalidInput, match=re.escape("its results are final")):
        service.change_status(stripe_shop.team.actor(Role.ADMIN), experiment.public_id, "start")
    db.session.refresh(experiment)
    assert experiment.status == "ended" and experiment.ended_at is not None


# --------------------------------------------------------------------------- results page


def test_the_results_page_shows_what_each_variant_was_paid(
    app: Flask,
    login: Callable[..., FlaskClient],
    stripe_shop: PayShop,
    fake_stripe: FakeStripe,
    visitor: FlaskClient,
) -> None:
    experiment = _start(stripe_shop, 50, 50)
    link = db.session.scalar(select(PortalLink))
    assert link is not None
    chosen = service.assign(stripe_shop.team.business, link)
    assert chosen is not None
    key = chosen.variant.key
    _heading(visitor, stripe_shop.token)
    # A part payment: the amount paid, not the invoice's total.
    _complete(
        app, stripe_shop, fake_stripe, _start_checkout(visitor, stripe_shop.token, amount="40")
    )
    assert _counts(experiment)[key] == Seen(1, 1, 1, ("40.00 EUR",))

    page = login(Role.ACCOUNTANT).get(f"/app/experiments/{experiment.public_id}")
    html = _html(page)
    headers = [str(h.text_content()) for h in html.xpath("//section[@id='results']//th")]
    assert "Amount paid" in headers

    def amount(variant: str) -> str:
        [cell] = html.xpath(f"//tr[@id='variant-{variant}']/td[@data-count='amount']")
        return str(cell.text_content()).strip()

    assert amount(key) == "€40.00"
    assert amount("b" if key == "a" else "a") == "—"
