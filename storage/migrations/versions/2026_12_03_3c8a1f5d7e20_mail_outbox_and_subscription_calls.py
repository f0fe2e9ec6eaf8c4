"""mail: calls each subscription sent or dismissed, suppressed addresses, retries and
unsubscribe links in the outbox, and the "manage" message kind

Revision ID: 3c8a1f5d7e20
Revises: 9b3d6e21f4a7
Create Date: 2026-12-03 18:34:16.195749
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

OLD_STATES = ("pending", "sent", "failed")
NEW_STATES = (*OLD_STATES, "suppressed")
OLD_KINDS = ("confirm", "digest", "change", "reminder")
NEW_KINDS = ("confirm", "manage", "digest", "change", "reminder")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


revision: str = "3c8a1f5d7e20"
down_revision: str | None = "9b3d6e21f4a7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "suppressed_addresses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppressed_addresses")),
        sa.UniqueConstraint("email", name=op.f("uq_suppressed_addresses_email")),
    )
    op.create_table(
        "subscription_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dismissed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["funding_calls.id"],
            name=op.f("fk_subscription_calls_call_id_funding_calls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_subscription_calls_notification_id_notifications"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_subscription_calls_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_calls")),
        sa.UniqueConstraint(
            "subscription_id", "call_id", name=op.f("uq_subscription_calls_subscription_id_call_id")
        ),
    )
    with op.batch_alter_table("subscription_calls", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscription_calls_call_id"), ["call_id"], unique=False
        )

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("unsubscribe_url", sa.String(length=2000), nullable=False, server_default="")
        )
        batch_op.drop_constraint(op.f("ck_notifications_state"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_notifications_state"), _one_of("state", NEW_STATES)
        )
        batch_op.drop_constraint(op.f("ck_notifications_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_notifications_kind"), _one_of("kind", NEW_KINDS))
        batch_op.create_index(
            batch_op.f("ix_notifications_next_attempt_at"), ["next_attempt_at"], unique=False
        )

    # Ids of deleted subscriptions are never reused on SQLite (signed links and API clients name them).
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            "subscriptions", recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_notifications_state"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_notifications_state"), _one_of("state", OLD_STATES)
        )
        batch_op.drop_constraint(op.f("ck_notifications_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_notifications_kind"), _one_of("kind", OLD_KINDS))
        batch_op.drop_index(batch_op.f("ix_notifications_next_attempt_at"))
        batch_op.drop_column("unsubscribe_url")
        batch_op.drop_column("next_attempt_at")

    with op.batch_alter_table("subscription_calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscription_calls_call_id"))

    op.drop_table("subscription_calls")
    op.drop_table("suppressed_addresses")
