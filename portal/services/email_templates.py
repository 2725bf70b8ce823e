"""A business's own wording for each email it sends: subject and Markdown body per kind.

A template is kept as a ``DocumentTemplate`` of kind ``email_<kind>`` whose first line is the
subject (the form ``portal.jobs.delivery`` reads); no row means the built-in text. A template
is checked before it is kept: one line of subject, only the placeholders the kind offers,
placeholders written ``{{ document.number }}``, and it must render with sample values.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from jinja2 import Environment, TemplateSyntaxError, nodes
from sqlalchemy import select

from portal.documents.templating import MAX_LENGTH, TemplateProblem
from portal.extensions import db
from portal.jobs.delivery import DEFAULTS, RenderedEmail, parse_template, render_email
from portal.models import Client, Document, DocumentKind, DocumentTemplate, Role
from portal.services import audit
from portal.services.actors import Actor
from portal.services.errors import InvalidInput, NotFound
from portal.services.pricing import business_today

MAX_SUBJECT: Final = 200
SAMPLE_MESSAGE: Final = "Thank you for the smooth project."

NAMES: Final = {
    "invoice": "Invoice",
    "quote": "Quote",
    "reminder_before": "Reminder before the due date",
    "reminder_due": "Reminder on the due date",
    "reminder_late": "Reminder: overdue",
    "reminder_final": "Final reminder",
}
DESCRIPTIONS: Final = {
    "document.number": "the document's number",
    "document.kind": "what it is: invoice, quote",
    "document.total": "its total, with the currency",
    "document.balance": "what is still open",
    "document.issue_date": "the issue date",
    "document.due_date": "the due date",
    "document.valid_until": "the last day the quote can be accepted",
    "client.name": "the client's name",
    "business.name": "your business's legal name",
    "message.text": "the personal message typed when sending (may be empty)",
    "reminder.days_late": "days since the due date",
}
_COMMON: Final = ("client.name", "business.name")
_INVOICE: Final = (
    "document.number",
    "document.kind",
    "document.total",
    "document.balance",
    "document.issue_date",
    "document.due_date",
)
#: What each kind of email may use; every one renders through ``render_email``.
PLACEHOLDERS: Final[dict[str, tuple[str, ...]]] = {
    "invoice": (*_INVOICE, *_COMMON, "message.text"),
    "quote": (
        "document.number",
        "document.kind",
        "document.total",
        "document.issue_date",
        "document.valid_until",
        *_COMMON,
        "message.text",
    ),
    **dict.fromkeys(
        ("reminder_before", "reminder_due", "reminder_late", "reminder_final"),
        (*_INVOICE, *_COMMON, "reminder.days_late"),
    ),
}
# Days from the sample's due date to "today", so each email reads as it would arrive.
_DAYS_LATE: Final = {
    "invoice": -30,
    "reminder_before": -3,
    "reminder_due": 0,
    "reminder_late": 10,
    "reminder_final": 30,
}

# Only parsed, never rendered: rendering goes through the sandbox in ``render_email``.
_parser = Environment(autoescape=False)  # noqa: S701
_SINGLE_BRACES = re.compile(r"(?<!\{)\{\s*([A-Za-z_][\w.]*)\s*\}(?!\})")


@dataclass(frozen=True, slots=True)
class EmailTemplate:
    kind: str
    name: str
    subject: str
    body: str
    customised: bool
    updated_at: datetime | None = None


def _kind(kind: str) -> str:
    if kind not in DEFAULTS:
        raise NotFound("There is no such kind of email.")
    return kind


def _row(actor: Actor, kind: str) -> DocumentTemplate | None:
    return db.session.scalar(
        select(DocumentTemplate).where(
            DocumentTemplate.business_id == actor.business.id,
            DocumentTemplate.kind == f"email_{_kind(kind)}",
        )
    )


def template_of(actor: Actor, kind: str) -> EmailTemplate:
    """The template in use for ``kind``: the business's own, else the built-in one."""
    row = _row(actor, kind)
    own = parse_template(row.body) if row is not None else None
    if row is not None and own is not None:
        return EmailTemplate(kind, NAMES[kind], *own, customised=True, updated_at=row.updated_at)
    return EmailTemplate(kind, NAMES[kind], *DEFAULTS[kind], customised=False)


def templates_of(actor: Actor) -> list[EmailTemplate]:
    return [template_of(actor, kind) for kind in DEFAULTS]


def placeholders_for(kind: str) -> list[tuple[str, str]]:
    """(placeholder, what it holds) for the editor's list."""
    return [(name, DESCRIPTIONS[name]) for name in PLACEHOLDERS[_kind(kind)]]


def _suggestion(typed: str, known: tuple[str, ...]) -> str:
    def likeness(name: str) -> float:
        field = name.rsplit(".", 1)[-1]
        return max(
            difflib.SequenceMatcher(None, typed, name).ratio(),
            difflib.SequenceMatcher(None, typed.rsplit(".", 1)[-1], field).ratio(),
        )

    best = max(known, key=likeness)
    return f" Did you mean {{{{ {best} }}}}?" if likeness(best) >= 0.6 else ""


def _unknown(typed: str, known: tuple[str, ...], written: str = "") -> str:
    hint = "" if "_" in typed[:1] or "._" in typed else _suggestion(typed, known)
    return f"{written or f'“{typed}”'} is not a placeholder of this email.{hint}"


def _names_used(tree: nodes.Template) -> list[tuple[str, int]]:
    """Every placeholder the template reads, as written (``document.number``), with its line."""
    stored = {n.name for n in tree.find_all(nodes.Name) if n.ctx in {"store", "param"}}
    used: list[tuple[str, int]] = []
    inner: set[int] = set()
    for node in tree.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name) and node.node.name not in stored:
            inner.add(id(node.node))
            used.append((f"{node.node.name}.{node.attr}", node.lineno))
    for item in tree.find_all(nodes.Getitem):
        if isinstance(item.node, nodes.Name) and item.node.name not in stored:
            inner.add(id(item.node))
            key = f".{item.arg.value}" if isinstance(item.arg, nodes.Const) else ""
            used.append((f"{item.node.name}{key}", item.lineno))
    for name in tree.find_all(nodes.Name):
        if name.ctx == "load" and name.name not in stored and id(name) not in inner:
            used.append((name.name, name.lineno))
    return sorted(used, key=lambda item: item[1])


def _placeholder_problem(text: str, kind: str, *, multiline: bool) -> str | None:
    """Why the placeholders in ``text`` cannot work, or None."""
    known = PLACEHOLDERS[kind]

    def where(line: int) -> str:
        return f"Line {line}: " if multiline else ""

    for match in _SINGLE_BRACES.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        typed = match.group(1)
        if typed in known:
            return f"{where(line)}write placeholders with double braces: {{{{ {typed} }}}}."
        return where(line) + _unknown(typed, known, match.group(0))
    try:
        tree = _parser.parse(text)
    except TemplateSyntaxError as exc:
        return (
            f"{where(exc.lineno)}a placeholder is not written right "
            f"({(exc.message or 'syntax error').rstrip('.')}). "
            "Write them as {{ document.number }}."
        )
    roots = {name.split(".", 1)[0] for name in known}
    for typed, line in _names_used(tree):
        if typed in roots:
            example = next(name for name in known if name.startswith(f"{typed}."))
            return f"{where(line)}use one of the fields of “{typed}”, e.g. {{{{ {example} }}}}."
        if typed not in known:
            return where(line) + _unknown(typed, known)
    return None


def _sample(actor: Actor, kind: str) -> tuple[Document, Client, date]:
    """A made-up document and client, never added to the session."""
    business = actor.business
    today = business_today(business)
    quote = kind == "quote"
    due = today - timedelta(days=_DAYS_LATE.get(kind, 0))
    doc = Document(
        kind=DocumentKind.QUOTE if quote else DocumentKind.INVOICE,
        number="Q-2026-0042" if quote else "INV-2026-00042",
        currency=business.base_currency,
        total_minor=123456,
        balance_minor=0 if quote else 123456,
        issue_date=today - timedelta(days=30) if kind.startswith("reminder") else today,
        due_date=None if quote else due,
        valid_until=today + timedelta(days=30) if quote else None,
    )
    client = Client(name="Blue Harbor GmbH", language="")
    return doc, client, today


def _render(actor: Actor, kind: str, subject: str, body: str, message: str) -> RenderedEmail:
    doc, client, today = _sample(actor, kind)
    return render_email(actor.business, doc, client, (subject, body), message, today)


def _check(actor: Actor, kind: str, subject: str, body: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not subject:
        errors["subject"] = "Enter a subject."
    elif "\n" in subject or "\r" in subject:
        errors["subject"] = "A subject is one line: remove the line break."
    elif len(subject) > MAX_SUBJECT:
        errors["subject"] = f"Keep the subject to {MAX_SUBJECT} characters or fewer."
    elif problem := _placeholder_problem(subject, kind, multiline=False):
        errors["subject"] = problem[0].upper() + problem[1:]
    if not body:
        errors["body"] = "Enter the text of the email."
    elif len(body) > MAX_LENGTH:
        errors["body"] = f"Keep the text to {MAX_LENGTH} characters or fewer."
    elif problem := _placeholder_problem(body, kind, multiline=True):
        errors["body"] = problem[0].upper() + problem[1:]
    if errors:
        return errors
    # Both ways a send can go: with and without a personal message.
    for message in (SAMPLE_MESSAGE, ""):
        for field, template in (("subject", (subject, "-")), ("body", ("-", body))):
            try:
                _render(actor, kind, *template, message)
            except TemplateProblem as exc:
                return {field: str(exc)}
    return {}


def _clean(subject: str, body: str) -> tuple[str, str]:
    return subject.strip(), body.replace("\r\n", "\n").strip()


def preview_email(actor: Actor, kind: str, subject: str, body: str) -> RenderedEmail:
    """The email as a client would get it, filled with sample values; ``InvalidInput`` names
    the field at fault. Nothing is stored."""
    actor.require(Role.ADMIN)
    subject, body = _clean(subject, body)
    if errors := _check(actor, _kind(kind), subject, body):
        raise InvalidInput(errors)
    return _render(actor, kind, subject, body, SAMPLE_MESSAGE)


def save_template(actor: Actor, kind: str, subject: str, body: str) -> EmailTemplate:
    """Keep the business's own template for ``kind``; invalid input stores nothing."""
    actor.require(Role.ADMIN)
    subject, body = _clean(subject, body)
    if errors := _check(actor, _kind(kind), subject, body):
        raise InvalidInput(errors)
    row = _row(actor, kind)
    before = parse_template(row.body) if row is not None else None
    stored = f"{subject}\n{body}"
    if row is None:
        row = DocumentTemplate(business_id=actor.business.id, kind=f"email_{kind}", body=stored)
        db.session.add(row)
    row.body = stored
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="email_template.saved",
        entity_type="email_template",
        entity_id=kind,  # the chain is the business's own
        before={"subject": before[0], "body": before[1]} if before is not None else None,
        after={"subject": subject, "body": body},
    )
    db.session.commit()
    return template_of(actor, kind)


def reset_template(actor: Actor, kind: str) -> None:
    """Go back to the built-in template: the business's own is deleted."""
    actor.require(Role.ADMIN)
    row = _row(actor, kind)
    if row is None:
        return
    own = parse_template(row.body)
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="email_template.reset",
        entity_type="email_template",
        entity_id=kind,  # the chain is the business's own
        before={"subject": own[0], "body": own[1]} if own is not None else {"body": row.body},
    )
    db.session.delete(row)
    db.session.commit()
