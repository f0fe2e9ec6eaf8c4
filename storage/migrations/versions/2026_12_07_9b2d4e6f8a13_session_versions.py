"""session versions: a counter per user whose rise ends every session of that user

Revision ID: 9b2d4e6f8a13
Revises: f5490bedabc5
Create Date: 2026-12-08 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9b2d4e6f8a13"
down_revision: str | None = "f5490bedabc5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # server_default: existing users get 1 (their old cookies carry no version and are
    # refused anyway, so everyone signs in once after the upgrade).
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), nullable=False, server_default="1")
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("session_version")
