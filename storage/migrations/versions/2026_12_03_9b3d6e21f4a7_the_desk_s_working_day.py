"""the desk's working day: timeline, visits, tokens, work queue

Revision ID: 9b3d6e21f4a7
Revises: 5e1f0a7c2b9d
Create Date: 2026-12-03 18:26:05.052800
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9b3d6e21f4a7"
down_revision: str | None = "5e1f0a7c2b9d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "work_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=True),
        sa.Column("source_slug", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('rematch', 'crawl')", name=op.f("ck_work_items_kind")),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_work_items_state")
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["profiles.id"],
            name=op.f("fk_work_items_profile_id_profiles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_work_items_requested_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_slug"],
            ["sources.slug"],
            name=op.f("fk_work_items_source_slug_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_items")),
    )
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.create_index("ix_work_items_state_kind", ["state", "kind"], unique=False)

    # Stored matches first matched when they were stored (the best guess there is).
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("first_matched_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.execute("UPDATE matches SET first_matched_at = created_at")
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.alter_column(
            "first_matched_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch_op.create_index(
            batch_op.f("ix_matches_first_matched_at"), ["first_matched_at"], unique=False
        )

    with op.batch_alter_table("review_notes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("old_assignee", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("new_assignee", sa.String(length=320), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_review_notes_created_at"), ["created_at"], unique=False
        )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_visit_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("previous_visit_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("calendar_token_hash", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_users_calendar_token_hash"), ["calendar_token_hash"]
        )

    # Ids of deleted matches are never reused on SQLite (signed links and API clients name them).
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            "matches", recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_calendar_token_hash"), type_="unique")
        batch_op.drop_column("calendar_token_hash")
        batch_op.drop_column("previous_visit_at")
        batch_op.drop_column("last_visit_at")

    with op.batch_alter_table("review_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_notes_created_at"))
        batch_op.drop_column("new_assignee")
        batch_op.drop_column("old_assignee")

    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_matches_first_matched_at"))
        batch_op.drop_column("first_matched_at")

    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_index("ix_work_items_state_kind")

    op.drop_table("work_items")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id"))

    op.drop_table("api_tokens")
