"""Every problem of an envelope, each with the JSON pointer of the place at fault."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from integrations.envelope.core import (
    ENCODINGS,
    KNOWN_VERSIONS,
    MONEY_PATHS,
    AttachmentError,
    currency_exponent,
    is_currency,
    join,
    payloads,
    pointer,
    resolve,
    unpack_attachment,
    walk_paths,
)
from integrations.envelope.signing import VerifyKey, verify_signature

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "share-envelope-v1.json"

# Codes of currencies outside money objects, per payload type.
CURRENCY_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "invoice": (("currency",), ("client", "currency")),
    "client": (("currency",),),
    "payments": (("payments", "*", "client", "currency"),),
    "batch": (),
}
DATE_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "invoice": (("issue_date",), ("due_date",)),
    "client": (),
    "payments": (("from",), ("to",), ("payments", "*", "received_on")),
    "batch": (),
}
_AMOUNT_TEXT = re.compile(
    r"^\s*(?:(?P<pre>[A-Za-z]{3})\s*)?(?P<num>[-+]?[0-9]+(?:\.[0-9]+)?)\s*(?P<post>[A-Za-z]{3})?\s*$"
)


@dataclass(frozen=True, slots=True)
class Problem:
    pointer: str  # RFC 6901; "" is the whole document
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


@cache
def validator() -> Draft202012Validator:
    return Draft202012Validator(schema())


def parse(raw: bytes | str) -> tuple[Any, Problem | None]:
    """The JSON document in ``raw``, or the problem that stops it being read."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return None, Problem(
                "", "json.encoding", f"the file is not UTF-8 text (byte {exc.start} is invalid)"
            )

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    try:
        return json.loads(raw, parse_constant=no_constants), None
    except json.JSONDecodeError as exc:
        return None, Problem(
            "",
            "json.invalid",
            f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
        )
    except ValueError as exc:
        return None, Problem("", "json.invalid", f"not valid JSON: {exc}")


def check(
    raw: bytes | str,
    keys: Mapping[str, VerifyKey] | None = None,
    *,
    require_signature: bool = False,
) -> list[Problem]:
    """Every problem of the envelope in ``raw``; an empty list means it is sound.

    With ``keys``, a signature must verify with one of them; without, signatures are not
    checked. ``require_signature`` makes an unsigned envelope a problem.
    """
    doc, problem = parse(raw)
    if problem is not None:
        return [problem]
    return check_document(doc, keys, require_signature=require_signature)


def check_document(
    doc: Any,
    keys: Mapping[str, VerifyKey] | None = None,
    *,
    require_signature: bool = False,
) -> list[Problem]:
    """Every problem of an envelope already read from JSON."""
    if not isinstance(doc, dict):
        return [Problem("", "json.not_object", "an envelope must be a JSON object")]
    found: list[Problem] = []
    if "envelope_version" in doc and doc["envelope_version"] not in KNOWN_VERSIONS:
        # Another version may mean anything: checking it against this one would only mislead.
        known = ", ".join(sorted(KNOWN_VERSIONS))
        return [
            Problem(
                "/envelope_version",
                "version.unknown",
                f"unknown envelope version {doc['envelope_version']!r}; this reader knows {known}",
            )
        ]
    found += _timestamp_problems(doc)
    found += _attachment_problems(doc)
    for kind, path, payload in payloads(doc):
        found += _money_problems(kind, path, payload)
        found += _date_problems(kind, path, payload)
    specific = [p.pointer for p in found]
    for problem in _schema_problems(doc):
        if not any(_within(problem.pointer, p) for p in specific):
            found.append(problem)
    signature = doc.get("signature")
    if signature is None:
        if require_signature:
            found.append(Problem("/signature", "signature.missing", "the envelope is not signed"))
    elif keys is not None and isinstance(signature, dict):
        outcome = verify_signature(doc, keys)
        if outcome is not None:
            where = {
                "signature.unknown_key": "/signature/key_id",
                "signature.missing": "/signature",
            }.get(outcome.code, "/signature/value")
            if "algorithm" in outcome.message or "says" in outcome.message:
                where = "/signature/alg"
            found.append(Problem(where, outcome.code, outcome.message))
    return _unique(sorted(found, key=lambda p: (_sort_key(p.pointer), p.code)))


def _unique(problems: Iterable[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    kept = []
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            kept.append(problem)
    return kept


def _within(inner: str, outer: str) -> bool:
    return inner == outer or inner.startswith(outer + "/")


def _sort_key(ptr: str) -> tuple[tuple[int, int, str], ...]:
    parts = ptr.split("/")[1:] if ptr else []
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)


# --- money and currencies --------------------------------------------------------------


def currency_problem(where: str, code: object) -> Problem | None:
    if not isinstance(code, str) or is_currency(code):
        return None  # a wrong type is the schema's to report
    if is_currency(code.upper()):
        return Problem(
            where,
            "currency.lowercase",
            f"currency code {code!r} must be upper case: {code.upper()!r}",
        )
    return Problem(where, "currency.unknown", f"{code!r} is not an ISO 4217 currency code")


def context_currency(payload: Any, path: Sequence[str | int]) -> str | None:
    """The currency a bare amount at ``path`` is in: the nearest enclosing object's ``currency``,
    or the currency of its ``amount``."""
    for depth in range(len(path) - 1, -1, -1):
        node = resolve(payload, path[:depth])
        if not isinstance(node, dict):
            continue
        if is_currency(node.get("currency")):
            return str(node["currency"])
        amount = node.get("amount")
        if isinstance(amount, dict) and is_currency(amount.get("currency")):
            return str(amount["currency"])
    return None


def parse_amount_text(text: str, fallback: str | None) -> tuple[int, str] | str:
    """``"12.50"``, ``"12.50 EUR"`` or ``"EUR 12.50"`` as ``(minor, currency)``, or why not."""
    match = _AMOUNT_TEXT.match(text)
    if match is None:
        return f"{text!r} is not an amount"
    stated = match["pre"] or match["post"]
    if match["pre"] and match["post"]:
        return f"{text!r} names two currencies"
    currency = stated.upper() if stated else fallback
    if currency is None:
        return f"no currency is given for {text!r}"
    if not is_currency(currency):
        return f"{stated!r} is not an ISO 4217 currency code"
    places = currency_exponent(currency)
    try:
        number = Decimal(match["num"])
    except InvalidOperation:
        return f"{text!r} is not an amount"
    scaled = number.scaleb(places)
    if scaled != scaled.to_integral_value():
        return f"{text!r} has more decimals than {currency} has ({places})"
    return int(scaled), currency


def _money_problems(kind: str, base: tuple[str | int, ...], payload: Any) -> list[Problem]:
    found: list[Problem] = []
    for path in CURRENCY_PATHS.get(kind, ()):
        for at, _parent, _key, value in walk_paths(payload, path):
            if (problem := currency_problem(pointer(*base, *at), value)) is not None:
                found.append(problem)
    stated = payload.get("currency") if isinstance(payload, dict) else None
    for path in MONEY_PATHS.get(kind, ()):
        for at, _parent, _key, value in walk_paths(payload, path):
            found += _one_amount(pointer(*base, *at), value, payload, at, stated, kind)
    return found


def _one_amount(
    where: str, value: Any, payload: Any, at: tuple[str | int, ...], stated: Any, kind: str
) -> list[Problem]:
    example = '{"minor": 1250, "currency": "EUR"}'
    if isinstance(value, str):
        parsed = parse_amount_text(value, context_currency(payload, at))
        if isinstance(parsed, str):
            return [Problem(where, "money.string", f"amount is a string: {parsed}")]
        return [
            Problem(
                where,
                "money.string",
                f'amount is the string {value!r}; write {{"minor": {parsed[0]}, '
                f'"currency": "{parsed[1]}"}} (check --repair does this)',
            )
        ]
    if isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool)):
        return [
            Problem(
                where,
                "money.float" if isinstance(value, float) else "money.number",
                f"amount is the bare number {value!r}; write money as {example}",
            )
        ]
    if not isinstance(value, dict):
        return []
    found: list[Problem] = []
    minor = value.get("minor")
    if isinstance(minor, float):
        found.append(
            Problem(
                join(where, "minor"),
                "money.float",
                f"minor must be a whole number of minor units, not the float {minor!r}",
            )
        )
    elif isinstance(minor, str):
        found.append(
            Problem(
                join(where, "minor"),
                "money.string",
                f"minor must be a whole number of minor units, not the string {minor!r}",
            )
        )
    code = value.get("currency")
    if (problem := currency_problem(join(where, "currency"), code)) is not None:
        found.append(problem)
    elif kind == "invoice" and is_currency(code) and is_currency(stated) and code != stated:
        found.append(
            Problem(
                join(where, "currency"),
                "money.currency_mismatch",
                f"amount is in {code}, but the invoice is in {stated}",
            )
        )
    return found


def _date_problems(kind: str, base: tuple[str | int, ...], payload: Any) -> list[Problem]:
    found = []
    for path in DATE_PATHS.get(kind, ()):
        for at, _parent, _key, value in walk_paths(payload, path):
            if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
                try:
                    date.fromisoformat(value)
                except ValueError:
                    found.append(
                        Problem(
                            pointer(*base, *at), "date.invalid", f"{value!r} is not a real date"
                        )
                    )
    return found


def _timestamp_problems(doc: Mapping[str, Any]) -> list[Problem]:
    value = doc.get("created_at")
    pattern = schema()["$defs"]["timestamp"]["pattern"]
    if isinstance(value, str) and re.fullmatch(pattern, value):
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return [Problem("/created_at", "date.invalid", f"{value!r} is not a real time")]
    return []


# --- attachments ---------------------------------------------------------------------


def _attachment_problems(doc: Mapping[str, Any]) -> list[Problem]:
    attachments = doc.get("attachments")
    if not isinstance(attachments, list):
        return []
    found: list[Problem] = []
    for index, attachment in enumerate(attachments):
        if not isinstance(attachment, dict) or "data" not in attachment:
            continue
        base = pointer("attachments", index)
        if attachment.get("encoding") not in ENCODINGS and "encoding" in attachment:
            found.append(
                Problem(
                    join(base, "encoding"),
                    "attachment.encoding",
                    f"unknown encoding {attachment['encoding']!r}; "
                    f"use one of: {', '.join(ENCODINGS)}",
                )
            )
            continue
        try:
            data = unpack_attachment(attachment)
        except AttachmentError as exc:
            found.append(Problem(join(base, exc.field), exc.code, exc.message))
            continue
        size = attachment.get("size")
        if isinstance(size, int) and not isinstance(size, bool) and size != len(data):
            found.append(
                Problem(
                    join(base, "size"),
                    "attachment.size",
                    f"size says {size} bytes but the data holds {len(data)}",
                )
            )
        digest = hashlib.sha256(data).hexdigest()
        stated = attachment.get("sha256")
        if isinstance(stated, str) and stated != digest:
            found.append(
                Problem(
                    join(base, "sha256"),
                    "attachment.sha256",
                    f"sha256 does not match the data (the data's is {digest})",
                )
            )
    return found


# --- the schema ----------------------------------------------------------------------


def _schema_problems(doc: Any) -> list[Problem]:
    found: list[Problem] = []
    for error in validator().iter_errors(doc):
        found += _explain(error)
    return found


def _label(path: Sequence[Any]) -> str:
    if not path:
        return "the envelope"
    last = path[-1]
    if isinstance(last, int):
        return f"{path[-2]}[{last}]" if len(path) > 1 else f"item {last}"
    return str(last)


def _explain(error: ValidationError) -> list[Problem]:
    path = list(error.absolute_path)
    where = pointer(*path)
    label = _label(path)
    keyword = error.validator
    rule: Any = error.schema
    hint = rule.get("x-message") if isinstance(rule, dict) else None
    instance = error.instance
    if keyword == "required" and isinstance(instance, dict):
        return [
            Problem(join(where, name), "schema.required", f"{name} is required")
            for name in _names(error.validator_value)
            if name not in instance
        ]
    if keyword == "additionalProperties" and isinstance(instance, dict):
        allowed = set(rule.get("properties", {}))
        return [
            Problem(
                join(where, name), "schema.unknown_field", f"{name} is not a field of this object"
            )
            for name in sorted(set(instance) - allowed)
        ]
    if keyword == "anyOf":
        messages = [hint_of(sub) for sub in error.context or [] if hint_of(sub) is not None]
        message = messages[0] if messages else "does not have an accepted form"
        return [Problem(where, "schema.type", f"{label} {message}, or null")]
    if hint and keyword in {"pattern", "type", "format", "minLength", "maxLength"}:
        return [Problem(where, f"schema.{keyword}", f"{label} {hint}")]
    return [Problem(where, f"schema.{keyword}", f"{label} {_phrase(error)}")]


def _names(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def hint_of(error: ValidationError) -> str | None:
    rule: Any = error.schema
    hint = rule.get("x-message") if isinstance(rule, dict) else None
    return str(hint) if hint is not None else None


def _phrase(error: ValidationError) -> str:
    keyword, value = error.validator, error.validator_value
    if keyword == "type":
        names = value if isinstance(value, list) else [value]
        return "must be " + " or ".join(_TYPE_NAMES.get(str(n), str(n)) for n in names)
    if keyword == "enum":
        return "must be one of: " + ", ".join(_names(value))
    if keyword == "const":
        return f"must be {value!r}"
    if keyword == "minLength":
        return "must not be empty" if value == 1 else f"must have at least {value} characters"
    if keyword == "maxLength":
        return f"must have at most {value} characters"
    if keyword == "minimum":
        return f"must be at least {value}"
    if keyword == "maximum":
        return f"must be at most {value}"
    if keyword == "minItems":
        return f"needs at least {value} item{'s' if value != 1 else ''}"
    if keyword == "pattern":
        return f"must match {value}"
    return str(error.message)


_TYPE_NAMES = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}
