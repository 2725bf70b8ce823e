"""Jobs run in a worker process: each one opens its own app context."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import current_app, has_app_context

F = TypeVar("F", bound=Callable[..., Any])


def with_app(func: F) -> F:
    """Run the job inside an app context (reusing one when the job runs inline)."""

    @wraps(func)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if has_app_context():
            return func(*args, **kwargs)
        from portal import create_app

        with create_app().app_context():
            result = func(*args, **kwargs)
            current_app.extensions["sqlalchemy"].session.remove()
            return result

    return cast(F, wrapped)
