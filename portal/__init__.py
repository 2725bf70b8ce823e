"""Invoice Lite: the application factory."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    from portal import config as settings
    from portal.extensions import (
        csrf,
        db,
        htmx,
        limiter,
        login_manager,
        migrate,
        ping_when_idle,
        tune_sqlite,
    )
    from portal.web import register

    instance_path = settings.instance_path(ROOT)
    app = Flask(
        __name__,
        instance_path=str(instance_path),
        static_folder=str(ROOT / "static"),
        static_url_path="/static",
    )
    app.config.update(settings.from_environment(instance_path, overrides=config))
    if config:
        app.config.update(config)
    instance_path.mkdir(parents=True, exist_ok=True)

    db.init_app(app)
    with app.app_context():
        ping_when_idle(db.engine)
        if db.engine.dialect.name == "sqlite":
            tune_sqlite(db.engine)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    register(app)
    return app
