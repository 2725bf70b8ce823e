"""Jobs run in a worker process: each one opens its own app context."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, current_app, has_app_context

F = TypeVar("F", bound=Callable[..., Any])


_worker_app: Flask | None = None


def _app() -> Flask:
    """One app per worker process, so its connection pool is reused from job to job."""
    global _worker_app
    if _worker_app is None:
        from portal import create_app

        _worker_app = create_app()
    return _worker_app


def with_app(func: F) -> F:
    """Run the job inside an app context (reusing one when the job runs inline)."""

    @wraps(func)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if has_app_context():
            return func(*args, **kwargs)
        with _app().app_context():
            try:
                return func(*args, **kwargs)
            finally:
                current_app.extensions["sqlalchemy"].session.remove()

    return cast(F, wrapped)
