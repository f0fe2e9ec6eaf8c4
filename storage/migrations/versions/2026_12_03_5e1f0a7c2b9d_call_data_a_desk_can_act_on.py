"""call data a desk can act on: eligibility evidence, consortium, countries, details state

Revision ID: 5e1f0a7c2b9d
Revises: c57e300c93b4
Create Date: 2026-12-03 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e1f0a7c2b9d"
down_revision: str | None = "c57e300c93b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Existing rows get a value at once (server defaults); new rows get theirs from the models.
def call_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("eligibility_evidence", sa.JSON(), nullable=False, server_default="{}"),
        sa.Column("eligibility_rule", sa.String(length=200), nullable=False, server_default=""),
        sa.Column("min_partners", sa.Integer(), nullable=True),
        sa.Column("min_countries", sa.Integer(), nullable=True),
        sa.Column("single_applicant", sa.Boolean(), nullable=True),
        sa.Column("eligible_countries", sa.JSON(), nullable=False, server_default="[]"),
        sa.Column("germany_eligible", sa.Boolean(), nullable=True),
        sa.Column("details_missing", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("details_fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("record_hash", sa.String(length=64), nullable=False, server_default=""),
    ]


RUN_COLUMNS = ("details_fetched", "details_skipped", "details_missing")


def upgrade() -> None:
    with op.batch_alter_table("funding_calls") as batch:
        for column in call_columns():
            batch.add_column(column)
    with op.batch_alter_table("crawl_runs") as batch:
        for name in RUN_COLUMNS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("crawl_runs") as batch:
        for name in reversed(RUN_COLUMNS):
            batch.drop_column(name)
    with op.batch_alter_table("funding_calls") as batch:
        for column in reversed(call_columns()):
            batch.drop_column(column.name)
