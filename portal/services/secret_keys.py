"""Moving every stored secret to the newest key of the ring."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Integer, Text, column, select, table, update

from portal.extensions import db
from portal.secrets_at_rest import ENCRYPTED_COLUMNS, rotate


def count_secrets() -> int:
    total = 0
    for table_name, name in ENCRYPTED_COLUMNS:
        t = table(table_name, column("id", Integer), column(name, Text))
        total += len(db.session.execute(select(t.c.id).where(t.c[name] != "")).all())
    return total


def rotate_all(progress: Callable[[int], None] | None = None) -> int:
    """Re-encrypt every stored secret with the newest key, in one transaction; returns how
    many. A secret no key opens stops it all (``SecretError``) and nothing is changed."""
    done = 0
    try:
        for table_name, name in ENCRYPTED_COLUMNS:
            t = table(table_name, column("id", Integer), column(name, Text))
            rows = db.session.execute(select(t.c.id, t.c[name]).where(t.c[name] != "")).all()
            for row_id, token in rows:
                db.session.execute(
                    update(t).where(t.c.id == row_id).values({name: rotate(str(token))})
                )
                done += 1
                if progress is not None:
                    progress(1)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return done
