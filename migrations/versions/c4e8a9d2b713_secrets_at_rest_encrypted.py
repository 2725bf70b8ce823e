"""secrets at rest encrypted with the key ring (provider credentials, chat targets, SMTP
passwords, webhook and signing secrets)

Revision ID: c4e8a9d2b713
Revises: a1136fcd7576
Create Date: 2026-11-25 17:20:00.000000

"""

import sqlalchemy as sa
from alembic import op
from cryptography.fernet import InvalidToken

from portal.secrets_at_rest import ring

# revision identifiers, used by Alembic.
revision = "c4e8a9d2b713"
down_revision = "a1136fcd7576"
branch_labels = None
depends_on = None

# The columns this revision encrypted, frozen: ``ENCRYPTED_COLUMNS`` grows with later revisions
# (TOTP secrets: 9b4e1f7c2a65), which move their own columns.
ENCRYPTED_COLUMNS = (
    ("payment_accounts", "credentials"),
    ("notification_channels", "target"),
    ("businesses", "smtp_password"),
    ("webhook_endpoints", "secret"),
    ("webhook_endpoints", "previous_secret"),
    ("api_keys", "signing_secret"),
)


def _rewrite(change):
    """Apply ``change`` to every non-empty stored value of every secret column."""
    bind = op.get_bind()
    for table_name, column in ENCRYPTED_COLUMNS:
        table = sa.table(table_name, sa.column("id", sa.Integer), sa.column(column, sa.Text))
        rows = bind.execute(sa.select(table.c.id, table.c[column])).all()
        for row_id, value in rows:
            if not value:
                continue
            new = change(value)
            if new != value:
                bind.execute(sa.update(table).where(table.c.id == row_id).values({column: new}))


def _encrypt(value):
    keys = ring()
    try:
        keys.decrypt(value.encode())
        return value  # already a token
    except InvalidToken:
        return keys.encrypt(value.encode()).decode()


def _decrypt(value):
    try:
        return ring().decrypt(value.encode()).decode()
    except InvalidToken:
        return value


def upgrade():
    _rewrite(_encrypt)


def downgrade():
    _rewrite(_decrypt)
