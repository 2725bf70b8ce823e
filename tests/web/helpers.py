"""Reading what a user sees: messages beside fields, toasts, links in emails, row counts."""

from __future__ import annotations

import re
from email.message import EmailMessage
from html import unescape
from typing import Any
from urllib.parse import urlsplit

from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal.extensions import db


def errors_beside(html: str, field_id: str) -> list[str]:
    """The messages rendered under the field with this id."""
    pattern = rf'<p class="error" id="{re.escape(field_id)}-error">(.*?)</p>'
    return [unescape(m) for m in re.findall(pattern, html, re.S)]


def all_errors(html: str) -> list[str]:
    return [unescape(m) for m in re.findall(r'<p class="error[^"]*"[^>]*>(.*?)</p>', html, re.S)]


def form_errors(html: str) -> list[str]:
    pattern = r'<p class="error form-error" role="alert">(.*?)</p>'
    return [unescape(m) for m in re.findall(pattern, html, re.S)]


def toasts(html: str) -> list[str]:
    pattern = r'<div class="toast toast-\w+" role="status">(.*?)</div>'
    return [unescape(m) for m in re.findall(pattern, html, re.S)]


def role_shown(html: str) -> str | None:
    found = re.search(r'<span class="role" title="Your role">(.*?)</span>', html)
    return found.group(1) if found else None


def heading(html: str) -> str | None:
    found = re.search(r"<h1>(.*?)</h1>", html, re.S)
    return unescape(found.group(1)).strip() if found else None


def count(model: Any) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def link_in(message: EmailMessage) -> str:
    """The path of the one link in a plain-text email."""
    body = message.get_content()
    links = re.findall(r"https?://\S+", body)
    assert len(links) == 1, body
    parts = urlsplit(links[0])
    return parts.path + (f"?{parts.query}" if parts.query else "")


def text_of(response: Any) -> str:
    return str(response.get_data(as_text=True))


def log_in(client: FlaskClient, email: str, password: str) -> Any:
    return client.post("/login", data={"email": email, "password": password})
