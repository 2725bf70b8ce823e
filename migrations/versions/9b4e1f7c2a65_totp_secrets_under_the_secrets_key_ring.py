"""TOTP secrets encrypted with the secrets key ring instead of a key of their own

Until this revision the TOTP secrets of two-factor login were Fernet tokens under a key derived
from SECRET_KEY (HKDF, info "invoice-lite totp secrets"), outside the key ring. The upgrade opens
each with that key and encrypts it with the ring, so ``keys rotate`` moves it like every other
secret; the downgrade does the reverse. A value the source key cannot open is left as it is
(already moved, or unreadable either way: its member is asked to set the app up again).

Revision ID: 9b4e1f7c2a65
Revises: 1d27de5bb4a2
Create Date: 2026-11-26 10:05:00.000000

"""

import base64

import sqlalchemy as sa
from alembic import op
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

from portal.secrets_at_rest import ring

# revision identifiers, used by Alembic.
revision = "9b4e1f7c2a65"
down_revision = "1d27de5bb4a2"
branch_labels = None
depends_on = None

_TOTP = sa.table("totp_credentials", sa.column("id", sa.Integer), sa.column("secret", sa.Text))


def _own_key():
    """The key two_factor.py derived before this revision, frozen here."""
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"invoice-lite totp secrets"
    ).derive(str(current_app.config["SECRET_KEY"]).encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _rewrite(source, target):
    bind = op.get_bind()
    for row_id, value in bind.execute(sa.select(_TOTP.c.id, _TOTP.c.secret)).all():
        if not value:
            continue
        try:
            plain = source.decrypt(value.encode())
        except InvalidToken:
            continue
        new = target.encrypt(plain).decode()
        bind.execute(sa.update(_TOTP).where(_TOTP.c.id == row_id).values(secret=new))


def upgrade():
    _rewrite(_own_key(), ring())


def downgrade():
    _rewrite(ring(), _own_key())
