"""The migrations build the schema the models describe, from nothing, on this database."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from portal.extensions import db as _db


def _differences(connection):
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, _db.metadata)


def test_models_and_migrations_agree(app, db):
    with db.engine.connect() as connection:
        assert _differences(connection) == []


def test_downgrade_to_nothing_and_upgrade_again(app, db):
    db.session.remove()
    downgrade(revision="base")
    with db.engine.connect() as connection:
        tables = set(db.inspect(connection).get_table_names()) - {"alembic_version"}
    assert tables == set()
    upgrade()
    with db.engine.connect() as connection:
        assert _differences(connection) == []
        assert "clients" in db.inspect(connection).get_table_names()
