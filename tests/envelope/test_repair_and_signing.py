"""Repairs of the safe cases only; signatures with HMAC and Ed25519; the envelope's own rules."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from integrations import envelope as env
from tests.envelope.conftest import SECRET, sound_invoice


def _changes(doc: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    _fixed, changes = env.repair(doc)
    return [(c.pointer, c.before, c.after) for c in changes]


def test_a_string_amount_becomes_minor_units_in_the_documents_currency(sound) -> None:
    sound["payload"]["totals"]["total"] = "100.00"
    fixed, changes = env.repair(sound)
    assert [(c.pointer, c.before, c.after) for c in changes] == [
        ("/payload/totals/total", "100.00", {"minor": 10000, "currency": "EUR"})
    ]
    assert fixed == sound_invoice()
    assert sound["payload"]["totals"]["total"] == "100.00"  # the input is not touched


@pytest.mark.parametrize(
    ("text", "minor", "currency"),
    [
        ("12.50 EUR", 1250, "EUR"),
        ("EUR 12.5", 1250, "EUR"),
        ("1250 JPY", 1250, "JPY"),
        ("1.234 kwd", 1234, "KWD"),
        ("-3", -300, "EUR"),
    ],
)
def test_a_string_amount_may_name_its_currency(sound, text, minor, currency) -> None:
    sound["payload"]["lines"][0]["net"] = text
    assert _changes(sound) == [
        ("/payload/lines/0/net", text, {"minor": minor, "currency": currency})
    ]


@pytest.mark.parametrize("text", ["12.505", "12.5 JPY", "twelve", "12.50 QQQ", "EUR 1 USD"])
def test_an_amount_that_cannot_be_converted_exactly_is_left_alone(sound, text) -> None:
    sound["payload"]["lines"][0]["net"] = text
    assert _changes(sound) == []
    assert [p.pointer for p in env.check_document(sound)] == ["/payload/lines/0/net"]


def test_the_refusal_says_why(sound) -> None:
    sound["payload"]["lines"][0]["net"] = "12.505"
    [problem] = env.check_document(sound)
    assert problem.message == "amount is a string: '12.505' has more decimals than EUR has (2)"


def test_lowercase_currencies_are_upper_cased_everywhere(sound) -> None:
    sound["payload"]["currency"] = "eur"
    sound["payload"]["client"]["currency"] = "Eur"
    sound["payload"]["totals"]["tax"]["currency"] = "eur"
    assert _changes(sound) == [
        ("/payload/currency", "eur", "EUR"),
        ("/payload/client/currency", "Eur", "EUR"),
        ("/payload/totals/tax/currency", "eur", "EUR"),
    ]


def test_a_lowercase_currency_is_fixed_before_amounts_rely_on_it(sound) -> None:
    sound["payload"]["currency"] = "eur"
    sound["payload"]["totals"]["total"] = "100"
    fixed, changes = env.repair(sound)
    assert len(changes) == 2
    assert env.check_document(fixed) == []


def test_unknown_currencies_and_floats_are_left_for_the_user(sound) -> None:
    sound["payload"]["currency"] = "qqq"
    sound["payload"]["totals"]["net"] = 100.0
    assert _changes(sound) == []


def test_a_missing_size_and_sha256_are_computed(sound) -> None:
    del sound["attachments"][0]["size"]
    del sound["attachments"][0]["sha256"]
    fixed, changes = env.repair(sound)
    assert [(c.pointer, c.after) for c in changes] == [
        ("/attachments/0/size", 5),
        ("/attachments/0/sha256", sound_invoice()["attachments"][0]["sha256"]),
    ]
    assert fixed == sound_invoice()


def test_a_wrong_sha256_is_never_overwritten(sound) -> None:
    sound["attachments"][0]["sha256"] = "0" * 64
    assert _changes(sound) == []


def test_hmac_round_trip(sound) -> None:
    signed = env.sign_hmac(sound, "partner", SECRET)
    assert signed["signature"]["alg"] == "HMAC-SHA256"
    keys = {"partner": env.hmac_key(SECRET)}
    assert env.verify(signed, keys)
    assert env.verify(json.loads(env.dumps(signed)), keys)  # survives pretty printing
    assert not env.verify(signed, {"partner": env.hmac_key(b"other")})
    tampered = copy.deepcopy(signed)
    tampered["payload"]["totals"]["total"]["minor"] += 1
    assert not env.verify(tampered, keys)


def test_ed25519_round_trip(sound) -> None:
    private = Ed25519PrivateKey.generate()
    signed = env.sign_ed25519(sound, "ours-2026", private)
    keys = {"ours-2026": env.ed25519_key(private.public_key())}
    assert env.verify(signed, keys)
    assert env.check(env.dumps(signed), keys) == []
    other = Ed25519PrivateKey.generate()
    assert not env.verify(signed, {"ours-2026": env.ed25519_key(other.public_key())})
    tampered = copy.deepcopy(signed)
    tampered["source"]["business_id"] = "someone else"
    assert not env.verify(tampered, keys)


def test_a_key_of_the_wrong_kind_is_refused(sound) -> None:
    signed = env.sign_hmac(sound, "k", SECRET)
    public = Ed25519PrivateKey.generate().public_key()
    [problem] = env.check(json.dumps(signed), {"k": env.ed25519_key(public)})
    assert (problem.pointer, problem.message) == (
        "/signature/alg",
        "key 'k' is an Ed25519 key, but the signature says 'HMAC-SHA256'",
    )


def test_the_canonical_form_excludes_the_signature_and_whitespace(sound) -> None:
    signed = env.sign_hmac(sound, "partner", SECRET)
    assert env.canonical(signed) == env.canonical(sound)
    text = env.canonical(sound).decode()
    assert "signature" not in text
    assert ": " not in text and ", " not in text
    assert text.startswith('{"attachments":')


def test_keys_from_configuration() -> None:
    public = Ed25519PrivateKey.generate().public_key()
    raw = env.ed25519_key(public).material
    import base64

    keys = env.parse_keys({"a": "hmac:c2VjcmV0", "b": "ed25519:" + base64.b64encode(raw).decode()})
    assert keys == {"a": env.hmac_key(b"secret"), "b": env.ed25519_key(public)}
    assert "secret" not in repr(keys["a"])
    with pytest.raises(ValueError, match="must be 'hmac:<base64>'"):
        env.parse_keys({"c": "rsa:AAAA"})


def test_money_paths_match_the_schema() -> None:
    """Every property the schema types as money is one check and repair look at."""
    defs = env.schema()["$defs"]
    in_schema = set()
    for name, rule in defs.items():
        for prop, sub in rule.get("properties", {}).items():
            if sub == {"$ref": "#/$defs/money"}:
                in_schema.add((name, prop))
    assert in_schema == {
        ("line", "net"),
        ("line", "total"),
        ("tax_row", "base"),
        ("tax_row", "tax"),
        ("allocation", "amount"),
        ("payment", "amount"),
    }
    totals = defs["invoice"]["properties"]["totals"]["properties"]
    assert all(v == {"$ref": "#/$defs/money"} for v in totals.values())
    assert ("totals", "*") in env.MONEY_PATHS["invoice"]
    assert ("lines", "*", "net") in env.MONEY_PATHS["invoice"]
    assert ("payments", "*", "allocations", "*", "amount") in env.MONEY_PATHS["payments"]


def test_the_schema_is_a_valid_2020_12_schema_with_an_id() -> None:
    Draft202012Validator.check_schema(env.schema())
    assert env.schema()["$id"].endswith("/schemas/share-envelope/v1.json")


# --- property: whatever we build, we read back without a problem ------------------------

CURRENCIES = st.sampled_from(["EUR", "JPY", "KWD", "USD", "CHF"])
TEXT = st.text(max_size=40)
DECIMALS = st.decimals(min_value=-(10**9), max_value=10**9, places=4, allow_nan=False).map(
    lambda d: format(d, "f")
)


@st.composite
def invoices(draw: st.DrawFn) -> dict[str, Any]:
    currency = draw(CURRENCIES)
    money = st.integers(min_value=-(10**12), max_value=10**12).map(lambda m: env.money(m, currency))
    line = st.fixed_dictionaries(
        {
            "description": TEXT,
            "quantity": DECIMALS,
            "unit_price": DECIMALS,
            "net": money,
            "total": money,
        },
        optional={
            "taxes": st.lists(
                st.fixed_dictionaries(
                    {"category": st.sampled_from(["S", "Z", "AE"]), "percent": DECIMALS}
                ),
                max_size=2,
            )
        },
    )
    return {
        "currency": currency,
        "client": {"name": draw(TEXT.filter(bool)), "currency": currency},
        "lines": draw(st.lists(line, min_size=1, max_size=4)),
        "totals": {k: draw(money) for k in ("net", "tax", "total", "amount_due")},
    }


@st.composite
def envelopes(draw: st.DrawFn) -> dict[str, Any]:
    attachments = draw(
        st.lists(
            st.builds(
                env.encode_attachment,
                TEXT.filter(bool),
                st.sampled_from(["application/pdf", "text/plain", "application/xml"]),
                st.binary(max_size=300),
                st.sampled_from(["none", "gzip", "zstd"]),
            ),
            max_size=3,
        )
    )
    kind = draw(st.sampled_from(["invoice", "client"]))
    payload = (
        draw(invoices())
        if kind == "invoice"
        else {"name": draw(TEXT.filter(bool)), "currency": draw(CURRENCIES), "tags": []}
    )
    doc = env.build_envelope(
        kind, payload, system="prop", business_id=draw(TEXT.filter(bool)), attachments=attachments
    )
    if draw(st.booleans()):
        doc = env.sign_hmac(doc, "k", SECRET)
    return doc


@settings(max_examples=150, deadline=None)
@given(envelopes())
def test_any_envelope_we_build_checks_clean(doc: dict[str, Any]) -> None:
    keys = {"k": env.hmac_key(SECRET)}
    assert env.check(env.dumps(doc), keys) == []
    assert env.check(json.dumps(doc, separators=(",", ":")), keys) == []
    assert env.repair(doc)[1] == []
    for attachment in doc["attachments"]:
        env.decode_attachment(attachment)
