"""The declarative base, the closed vocabularies and the UTC timestamp type every model uses.

Conventions: singular class names, plural table names, constraint names from one naming
convention (so migrations are stable on SQLite and PostgreSQL), timestamps are UTC and end in
``_at``, calendar dates are ``date``. Closed vocabularies are plain strings guarded by CHECK
constraints; the allowed values live in the tuples below, so Python and the database agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    MetaData,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# --- vocabularies -------------------------------------------------------------------------
FUNDER_TYPES = ("eu", "federal", "state", "municipal", "foundation", "other")
CALL_STATUSES = ("forthcoming", "open", "closed", "withdrawn")
DEADLINE_MODELS = ("single", "two_stage", "multiple_cutoff", "rolling", "recurring", "none")
# One vocabulary for who may apply, onto which every source's terms are mapped.
APPLICANT_TYPES = (
    "municipality",
    "public_body",
    "ngo",
    "company",
    "research",
    "education",
    "individual",
)
PROFILE_KINDS = ("project", "partner")
CRAWL_OUTCOMES = ("running", "succeeded", "partial", "failed")
MATCH_RUN_OUTCOMES = ("running", "succeeded", "failed")
REVIEW_STATUSES = (
    "new",
    "reviewing",
    "shortlisted",
    "forwarded",
    "applying",
    "submitted",
    "awarded",
    "rejected",
    "not_relevant",
)
USER_ROLES = ("admin", "desk", "staff")
SUBSCRIPTION_KINDS = ("profile", "search", "call")
FREQUENCIES = ("immediate", "daily", "weekly")
# manage: the link to a subscriber's own subscriptions, which they asked for (sent whether
# or not a subscription is confirmed or still active).
NOTIFICATION_KINDS = ("confirm", "manage", "digest", "change", "reminder")
# pending: not sent yet (a deferred message is pending with attempts and a next_attempt_at);
# failed: refused for good; suppressed: not sent, the address is suppressed.
NOTIFICATION_STATES = ("pending", "sent", "failed", "suppressed")
# Work the web app asks for and the scheduler does (a web request never crawls or re-matches).
WORK_KINDS = ("rematch", "crawl")
WORK_STATES = ("queued", "running", "done", "failed")
# A scheduled job's run; "running" stays on a run whose scheduler was killed.
JOB_RUN_OUTCOMES = ("running", "succeeded", "failed")
LANGUAGES = ("de", "en")


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware.

    SQLite keeps no offset, PostgreSQL keeps ``timestamptz``; both give back aware UTC values.
    Naive values are refused: they are a bug, not a guess to make.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: foerderdesk stores aware UTC timestamps")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def one_of(
    column: str, values: tuple[str, ...], name: str, nullable: bool = False
) -> CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    condition = f"{column} IN ({allowed})"
    if nullable:
        condition = f"{column} IS NULL OR {condition}"
    return CheckConstraint(condition, name=name)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[str]: JSON,
    }
