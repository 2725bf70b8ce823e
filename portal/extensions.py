"""Flask extensions, created here and bound to an app in ``create_app``."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from htmx_flask import Htmx
from sqlalchemy import Engine, MetaData, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase

# Named constraints keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)

# ``db.Model`` is built at run time; type checkers see the declarative base it extends.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model
migrate = Migrate(compare_type=True, render_as_batch=True)
login_manager = LoginManager()
csrf = CSRFProtect()
# Counts live in Redis when there is one (shared by every web process), else in memory.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
htmx = Htmx()


#: A pooled connection idle for at least this long is pinged before it is handed out again.
PING_AFTER_IDLE_SECONDS = 1.0


def ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use once it has been idle for a while.

    What ``pool_pre_ping`` does, without its round trip for a connection given back a moment
    ago (a worker's next message, a request's next transaction): a database that restarted or
    a network that dropped an idle connection is noticed before a query fails, and the pool
    opens a new connection instead.
    """

    @event.listens_for(engine, "checkin")
    def on_checkin(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is not None and time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool closes this connection and hands out a new one.
            raise DisconnectionError(f"a pooled connection was lost: {exc}") from exc
        if not alive:
            raise DisconnectionError("a pooled connection was lost")


def tune_sqlite(engine: Engine) -> None:
    """Make SQLite behave like the production database where it matters.

    SQLAlchemy, not the driver, begins transactions, so SAVEPOINTs nest (the driver would
    otherwise commit everything when a savepoint opened before the first write is released);
    foreign keys are enforced; WAL lets readers work beside a writer.
    """

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 10000")
        cursor.execute("PRAGMA journal_mode = WAL")
        # With WAL, NORMAL syncs at checkpoints: a crash keeps the database consistent.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")
