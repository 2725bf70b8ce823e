"""A failing request shows the error page and leaves nothing half-written."""

from typing import Any

from flask import Flask
from sqlalchemy import func, select

from portal import create_app
from portal.extensions import db as _db
from portal.models import Tag


def test_a_server_error_rolls_back_and_says_nothing_was_saved(app: Flask, team: Any, db) -> None:
    broken = create_app({**app.config, "TESTING": False, "PROPAGATE_EXCEPTIONS": False})

    @broken.get("/boom")
    def boom() -> str:
        _db.session.add(Tag(business_id=team.business.id, name="half-written"))
        _db.session.flush()
        raise RuntimeError("something broke")

    response = broken.test_client().get("/boom")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Server error" in html
    assert "Nothing was saved; please try again." in html
    db.session.commit()
    assert db.session.scalar(select(func.count(Tag.id))) == 0
    with broken.app_context():
        _db.engine.dispose()
