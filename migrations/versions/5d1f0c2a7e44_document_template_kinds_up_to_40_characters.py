"""document template kinds up to 40 characters (email_reminder_before has 21)

Revision ID: 5d1f0c2a7e44
Revises: 92b3bfb37062
Create Date: 2026-11-25 17:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5d1f0c2a7e44"
down_revision = "92b3bfb37062"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("document_templates", schema=None) as batch_op:
        batch_op.alter_column(
            "kind", existing_type=sa.String(length=20), type_=sa.String(length=40)
        )


def downgrade():
    with op.batch_alter_table("document_templates", schema=None) as batch_op:
        batch_op.alter_column(
            "kind", existing_type=sa.String(length=40), type_=sa.String(length=20)
        )
