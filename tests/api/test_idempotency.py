"""``Idempotency-Key`` on POST: replay, a reused key with another body, a call still running,
and the purge of old records."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from flask import Flask

from portal.api import idempotency
from portal.extensions import db
from portal.models import Client, IdempotencyRecord
from portal.models.base import utcnow
from portal.services import audit
from tests.api.conftest import Api, assert_problem


def _count(model: Any) -> int:
    return db.session.query(model).count()


def test_the_same_key_and_body_replays_the_first_answer(api: Api) -> None:
    body = {"name": "Once Ltd", "currency": "EUR"}
    first = api.post("/clients", body, headers={"Idempotency-Key": "k-1"})
    again = api.post("/clients", body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _count(Client) == 1
    other = api.post("/clients", {**body, "name": "Twice Ltd"}, headers={"Idempotency-Key": "k-1"})
    assert_problem(other, 422, "Idempotency-Key")
    assert _count(Client) == 1


def test_a_bad_request_is_kept_too(api: Api) -> None:
    bad = api.post("/clients", {"currency": "EUR"}, headers={"Idempotency-Key": "k-2"})
    replay = api.post("/clients", {"currency": "EUR"}, headers={"Idempotency-Key": "k-2"})
    assert_problem(bad, 422, "name")
    assert replay.get_data() == bad.get_data()
    assert replay.mimetype == "application/problem+json"


def test_a_second_call_while_the_first_runs_is_a_409(app: Flask, api: Api) -> None:
    started, release = threading.Event(), threading.Event()

    def hold(business: Any, entry: Any) -> None:
        if entry.action == "client.created":
            started.set()
            release.wait(timeout=30)

    results: dict[str, Any] = {}

    def first() -> None:
        client = app.test_client()
        results["first"] = client.post(
            "/api/v1/clients",
            json={"name": "Slow Ltd", "currency": "EUR"},
            headers={"Authorization": f"Bearer {api.key}", "Idempotency-Key": "k-3"},
            csrf=False,
        )

    audit.LISTENERS.append(hold)
    try:
        thread = threading.Thread(target=first)
        thread.start()
        assert started.wait(timeout=30)
        second = api.post(
            "/clients", {"name": "Slow Ltd", "currency": "EUR"}, headers={"Idempotency-Key": "k-3"}
        )
        assert_problem(second, 409)
        release.set()
        thread.join(timeout=30)
    finally:
        release.set()
        audit.LISTENERS.remove(hold)
    assert results["first"].status_code == 201
    third = api.post(
        "/clients", {"name": "Slow Ltd", "currency": "EUR"}, headers={"Idempotency-Key": "k-3"}
    )
    assert third.status_code == 201
    assert third.get_json()["id"] == results["first"].get_json()["id"]


def test_keys_are_per_credential_and_old_records_are_purged(api: Api, api_with: Any) -> None:
    body = {"name": "Shared Ltd", "currency": "EUR", "email": "s@example.com"}
    assert api.post("/clients", body, headers={"Idempotency-Key": "k-4"}).status_code == 201
    other = api_with("clients:write")
    # Another key's record is not this one's: the call runs (and meets the unique email).
    assert_problem(other.post("/clients", body, headers={"Idempotency-Key": "k-4"}), 422, "email")
    assert _count(IdempotencyRecord) == 2
    assert idempotency.purge_expired(utcnow() + timedelta(hours=23)) == 0
    assert idempotency.purge_expired(utcnow() + timedelta(hours=25)) == 2
    assert_problem(api.post("/clients", body, headers={"Idempotency-Key": "x" * 300}), 422)
