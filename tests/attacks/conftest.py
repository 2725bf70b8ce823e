"""Attack tests reuse the role matrix's objects: one of each thing a route can name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from tests.web.test_roles import ids

__all__ = ["ids"]


@pytest.fixture(autouse=True)
def generous_rate_limits(app: Flask) -> Iterator[None]:
    """These tests call the API many times a second from one address."""
    names = ("API_RATE_LIMIT_BURST", "API_RATE_LIMIT_SUSTAINED", "API_RATE_LIMIT_PER_IP")
    saved = {name: app.config.get(name) for name in names}
    app.config.update(dict.fromkeys(names, "1000000 per second"))
    yield
    app.config.update(saved)
