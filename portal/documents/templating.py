"""A business's own Markdown with placeholders, rendered in a sandbox.

Jinja's ``SandboxedEnvironment`` fills the placeholders from plain read-only views (strings,
no ORM objects, no config); markdown-it turns the result into HTML with raw HTML disabled, and
nh3 cleans what comes out. An error names its line so the editor can point at it.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

import nh3
from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markdown_it import MarkdownIt
from markupsafe import Markup

KINDS: Final = ("invoice", "quote", "credit_note", "statement")
MAX_LENGTH: Final = 10_000
TEMPLATE_NAME: Final = "<template>"

_ALLOWED_TAGS: Final = frozenset(
    {"p", "br", "strong", "em", "ul", "ol", "li", "a", "h1", "h2", "h3", "h4", "blockquote",
     "code", "pre", "hr", "table", "thead", "tbody", "tr", "th", "td", "del", "s"}
)  # fmt: skip


class TemplateProblem(ValueError):
    """A template that cannot be used; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        where = f"Line {line}: " if line else ""
        super().__init__(f"{where}{message}")
        self.message = message
        self.line = line


class View:
    """A named, read-only bag of display strings: ``{{ invoice.number }}`` reads one of them."""

    __slots__ = ("_fields", "_name")
    _fields: dict[str, str]
    _name: str

    def __init__(self, name: str, fields: Mapping[str, str]) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_fields", dict(fields))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("read-only")

    def get(self, name: str) -> str:
        if name.startswith("_"):
            raise SecurityError(f"“{name}” is not available in templates.")
        try:
            return str(self._fields[name])
        except KeyError:
            raise UndefinedError(f"“{self._name}.{name}” is not a placeholder.") from None


class _Sandbox(ImmutableSandboxedEnvironment):
    """Refuses every ``_`` attribute outright, instead of yielding an undefined value."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, View):
            return obj.get(attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, View):
            return obj.get(str(argument))
        return super().getitem(obj, argument)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if attr.startswith("_"):
            return False
        return bool(super().is_safe_attribute(obj, attr, value))

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise SecurityError(f"“{attribute}” is not available in templates.")


_env = _Sandbox(undefined=StrictUndefined, autoescape=False)
# No helpers (range, lipsum, cycler, namespace…): placeholders and simple logic only.
_env.globals.clear()
_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_md.enable("table").enable("strikethrough")


def _line_of(exc: BaseException) -> int | None:
    line = getattr(exc, "lineno", None)
    if isinstance(line, int):
        return line
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == TEMPLATE_NAME:
            return frame.lineno
    return None


def _explain(exc: Exception) -> str:
    if isinstance(exc, UndefinedError):
        text = str(exc)
        if match := re.fullmatch(r"'(\w+)' is undefined", text):
            return f"“{match.group(1)}” is not a placeholder."
        if match := re.search(r"has no attribute '(_\w*)'", text):
            return f"Not allowed: “{match.group(1)}” is not available in templates."
        return text
    if isinstance(exc, SecurityError):
        return f"Not allowed: {exc}"
    if isinstance(exc, TemplateSyntaxError):
        return f"Syntax error: {exc.message}"
    return f"Template error: {exc}"


@lru_cache(maxsize=256)
def _compiled(body: str) -> Template:
    """Compiling costs about a millisecond; the same few templates render again and again."""
    template = _env.from_string(body)
    template.filename = TEMPLATE_NAME
    return template


def render_markdown(body: str, context: Mapping[str, View]) -> Markup:
    """The template filled in and rendered to clean HTML; raise ``TemplateProblem``."""
    if len(body) > MAX_LENGTH:
        raise TemplateProblem(f"A template may have at most {MAX_LENGTH} characters.")
    try:
        text = _compiled(body).render(**context)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(_explain(exc), exc.lineno) from None
    except (TemplateError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        raise TemplateProblem(_explain(exc), _line_of(exc)) from None
    html = _md.render(text)
    return Markup(nh3.clean(html, tags=set(_ALLOWED_TAGS), url_schemes={"https", "mailto"}))  # noqa: S704
