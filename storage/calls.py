"""Storing crawled calls: upsert, change records, withdrawal, sources and crawl runs.

Pure data functions: each takes a session and never commits, so the caller (the crawler's
pipeline, a test, a command) decides the unit of work. The crawler stores calls in small
batches, one transaction each, so a crash loses at most the batch in flight.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from storage.deadlines import call_status, compute_next_deadline
from storage.models import (
    CRAWL_OUTCOMES,
    DEADLINE_MODELS,
    FUNDER_TYPES,
    CallChange,
    CallDeadline,
    CrawlRun,
    FundingCall,
    Source,
    utcnow,
)

# Fields whose change is worth a record (and an alert): what a reader of a call relies on.
TRACKED_FIELDS = (
    "title",
    "summary",
    "description",
    "conditions",
    "url",
    "funder",
    "programme",
    "call_identifier",
    "type_of_action",
    "status",
    "opening_date",
    "deadline_model",
    "deadlines",
    "next_deadline",
    "budget_eur",
    "grant_min_eur",
    "grant_max_eur",
    "expected_grants",
    "funding_rate",
    "eligible_applicants",
)


@dataclass(frozen=True)
class DeadlineRecord:
    """A normalised deadline: an aware UTC instant, or a yearly month-day without a year."""

    due_at: datetime | None
    stage: str = ""
    label: str = ""
    timezone: str = "Europe/Brussels"
    recurring_month_day: str | None = None  # "09-30"
    raw: str = ""


@dataclass
class CallRecord:
    """A normalised, validated call, ready to store. Built by the crawler's pipeline."""

    source: str
    source_id: str
    url: str
    title: str
    summary: str = ""
    description: str = ""  # sanitised HTML
    description_text: str = ""
    conditions: str = ""  # sanitised HTML
    language: str = "en"
    funder: str = ""
    funder_type: str = "other"
    programme: str = ""
    call_identifier: str = ""
    type_of_action: str = ""
    status_source: str = ""
    # "closed" or "forthcoming" when the source says so; used only where no date says otherwise
    status_hint: str = ""
    opening_date: date | None = None
    deadline_model: str = "single"
    deadlines: list[DeadlineRecord] = field(default_factory=list)
    budget_eur: int | None = None
    grant_min_eur: int | None = None
    grant_max_eur: int | None = None
    expected_grants: int | None = None
    funding_rate: float | None = None
    eligible_applicants: list[str] = field(default_factory=list)
    eligibility_inferred: bool = False
    eligibility_evidence: dict[str, str] = field(default_factory=dict)  # type -> stated/inferred
    eligibility_rule: str = ""
    min_partners: int | None = None
    min_countries: int | None = None
    single_applicant: bool | None = None
    eligible_countries: list[str] = field(default_factory=list)
    germany_eligible: bool | None = None
    regions: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    attribution: str = ""
    # The details page failed: stored from the search record, fetched again next run.
    details_missing: bool = False
    record_hash: str = ""  # of the search record, to skip unchanged details next time
    # False: this record carries no fresh details (skipped as unchanged, or failed), so the
    # stored details stand (see DETAILS_FIELDS). Not content: left out of the content hash.
    details_fetched: bool = True

    def content_hash(self) -> str:
        """A stable hash of everything the source said; equal hashes mean nothing changed."""
        data = asdict(self)
        del data["details_fetched"]  # how the record was fetched, not what the source said
        payload = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


# --- deadlines and status -----------------------------------------------------------------
def _deadlines_text(deadlines: Sequence[CallDeadline] | Sequence[DeadlineRecord]) -> str:
    parts = []
    for d in sorted(deadlines, key=lambda x: (x.due_at is None, x.due_at or utcnow(), x.stage)):
        when = d.due_at.isoformat() if d.due_at else f"yearly {d.recurring_month_day or '?'}"
        parts.append(f"{when} (stage {d.stage})" if d.stage else when)
    return "; ".join(parts)


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _tracked_values(call: FundingCall) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for name in TRACKED_FIELDS:
        if name == "deadlines":
            values[name] = _deadlines_text(call.deadlines)
        elif name == "next_deadline":
            values[name] = _as_text(call.next_deadline_at)
        else:
            values[name] = _as_text(getattr(call, name))
    return values


_COPIED_FIELDS = (
    "url",
    "title",
    "summary",
    "description",
    "description_text",
    "conditions",
    "language",
    "funder",
    "funder_type",
    "programme",
    "call_identifier",
    "type_of_action",
    "status_source",
    "opening_date",
    "deadline_model",
    "budget_eur",
    "grant_min_eur",
    "grant_max_eur",
    "expected_grants",
    "funding_rate",
    "eligible_applicants",
    "eligibility_inferred",
    "eligibility_evidence",
    "eligibility_rule",
    "min_partners",
    "min_countries",
    "single_applicant",
    "eligible_countries",
    "germany_eligible",
    "regions",
    "keywords",
    "attribution",
    "details_missing",
    "record_hash",
)


# What a source's details page adds to its search record (EU: TopicDetails' description
# and conditions, and what the pipeline reads out of them). A record without fresh details
# keeps the stored values of these, so an unchanged or failed details page blanks nothing.
DETAILS_FIELDS = (
    "summary",
    "description",
    "description_text",
    "conditions",
    "eligible_applicants",
    "eligibility_inferred",
    "eligibility_evidence",
    "eligibility_rule",
    "min_partners",
    "min_countries",
    "single_applicant",
    "eligible_countries",
    "germany_eligible",
)
# Figures the search record may state (EU budgetOverview) or the details' prose may
# ("up to EUR 60 000"): without fresh details, the record's figure, else the stored one.
DETAILS_OR_RECORD_FIELDS = (
    "budget_eur",
    "grant_min_eur",
    "grant_max_eur",
    "expected_grants",
    "funding_rate",
)


def _with_stored_details(call: FundingCall, record: CallRecord) -> CallRecord:
    """``record`` with the stored details of ``call`` where the record brings none.

    Skipped details (unchanged search record) always keep the stored ones. Failed details
    keep them only if details ever arrived; a call that never had any takes the newer
    search record's text.
    """
    if record.details_fetched:
        return record
    if record.details_missing and call.details_fetched_at is None:
        return record
    kept = {name: getattr(call, name) for name in DETAILS_FIELDS}
    for name in DETAILS_OR_RECORD_FIELDS:
        if getattr(record, name) is None:
            kept[name] = getattr(call, name)
    return replace(record, **kept)


def _apply(call: FundingCall, record: CallRecord, now: datetime) -> None:
    for name in _COPIED_FIELDS:
        setattr(call, name, getattr(record, name))
    if record.details_fetched:
        call.details_fetched_at = now
    call.deadlines = [
        CallDeadline(
            due_at=d.due_at,
            stage=d.stage,
            label=d.label[:200],
            timezone=d.timezone,
            recurring_month_day=d.recurring_month_day,
            raw=d.raw,
        )
        for d in record.deadlines
    ]
    call.next_deadline_at = compute_next_deadline(record.deadlines, record.deadline_model, now)
    call.withdrawn_at = None
    # call_status reads the stored status only as what the source said, where dates are silent.
    call.status = record.status_hint if record.status_hint in {"closed", "forthcoming"} else "open"
    call.status = call_status(call, now)
    call.content_hash = record.content_hash()


def _validate(record: CallRecord) -> None:
    if record.funder_type not in FUNDER_TYPES:
        raise ValueError(f"funder_type {record.funder_type!r} is not one of {FUNDER_TYPES}")
    if record.deadline_model not in DEADLINE_MODELS:
        raise ValueError(
            f"deadline_model {record.deadline_model!r} is not one of {DEADLINE_MODELS}"
        )
    if not record.source_id or not record.title or not record.url:
        raise ValueError("a call needs a source_id, a title and a url")


def upsert_call(
    session: Session,
    record: CallRecord,
    *,
    crawl_run_id: int | None = None,
    now: datetime | None = None,
) -> str:
    """Insert or update the call ``(record.source, record.source_id)``.

    Returns ``"new"``, ``"updated"`` or ``"unchanged"``. An update writes one
    :class:`CallChange` per changed tracked field; a call seen again after its withdrawal
    comes back. Never commits.
    """
    now = now or utcnow()
    _validate(record)
    call = session.scalar(
        select(FundingCall)
        .where(FundingCall.source == record.source, FundingCall.source_id == record.source_id)
        .options(selectinload(FundingCall.deadlines))
    )
    if call is None:
        call = FundingCall(
            source=record.source,
            source_id=record.source_id,
            first_seen_at=now,
            last_seen_at=now,
            last_changed_at=now,
        )
        _apply(call, record, now)
        session.add(call)
        return "new"

    call.last_seen_at = now
    record = _with_stored_details(call, record)
    was_withdrawn = call.withdrawn_at is not None
    if call.content_hash == record.content_hash() and not was_withdrawn:
        if record.details_fetched:
            call.details_fetched_at = now  # fetched again and the same: fresh for N days
        # Same source content; only time may have moved the derived fields (a cut-off
        # passed, a call closed). If it did not, there is nothing to write.
        next_due = compute_next_deadline(record.deadlines, record.deadline_model, now)
        if next_due == call.next_deadline_at and call_status(call, now) == call.status:
            return "unchanged"
    before = _tracked_values(call)  # status as stored, so time-driven closing is recorded
    _apply(call, record, now)
    session.flush()  # the replaced deadlines get their ids and due_at ordering back
    after = _tracked_values(call)
    if record_changes(session, call, before, after, now=now, crawl_run_id=crawl_run_id):
        return "updated"
    return "unchanged"


def record_changes(
    session: Session,
    call: FundingCall,
    before: Mapping[str, str | None],
    after: Mapping[str, str | None],
    *,
    now: datetime,
    crawl_run_id: int | None = None,
) -> list[str]:
    """Add one ``CallChange`` per field whose value moved from ``before`` to ``after`` and
    mark the call changed at ``now``; the fields that moved."""
    changed = [name for name in after if before.get(name) != after[name]]
    for name in changed:
        session.add(
            CallChange(
                call_id=call.id,
                crawl_run_id=crawl_run_id,
                field=name,
                old_value=before.get(name),
                new_value=after[name],
                changed_at=now,
            )
        )
    if changed:
        call.last_changed_at = now
    return changed


def mark_seen(session: Session, source: str, source_id: str, now: datetime | None = None) -> bool:
    """Record that a stored call is still listed, though this run could not store it
    (e.g. it failed validation), so that it is not taken for withdrawn. True if it exists."""
    call = session.scalar(
        select(FundingCall).where(FundingCall.source == source, FundingCall.source_id == source_id)
    )
    if call is None:
        return False
    call.last_seen_at = now or utcnow()
    return True


def withdraw_unseen(
    session: Session,
    source: str,
    seen_since: datetime,
    *,
    crawl_run_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """Mark withdrawn every live call of ``source`` not seen since ``seen_since``.

    Call it only after a complete, successful crawl (see :func:`finish_crawl_run`): a failed
    or partial crawl did not see everything, and absence then proves nothing.
    """
    now = now or utcnow()
    stale = session.scalars(
        select(FundingCall).where(
            FundingCall.source == source,
            FundingCall.withdrawn_at.is_(None),
            FundingCall.last_seen_at < seen_since,
        )
    ).all()
    for call in stale:
        session.add(
            CallChange(
                call_id=call.id,
                crawl_run_id=crawl_run_id,
                field="status",
                old_value=call.status,
                new_value="withdrawn",
                changed_at=now,
            )
        )
        call.withdrawn_at = now
        call.status = "withdrawn"
        call.last_changed_at = now
    return len(stale)


# --- sources and crawl runs ---------------------------------------------------------------
def sync_source(session: Session, entry: Mapping[str, Any]) -> Source:
    """Create or update the :class:`Source` row for one entry of the sources file."""
    slug = entry["slug"]
    funder_type = entry.get("funder_type", "other")
    if funder_type not in FUNDER_TYPES:
        raise ValueError(f"source {slug}: funder_type {funder_type!r} is not one of {FUNDER_TYPES}")
    source = session.scalar(select(Source).where(Source.slug == slug))
    if source is None:
        source = Source(slug=slug)
        session.add(source)
    source.name = entry.get("name") or slug
    source.spider = entry.get("spider") or slug
    source.funder_type = funder_type
    source.language = entry.get("language", "de")
    source.schedule = entry.get("schedule", "0 3 * * *")
    source.enabled = bool(entry.get("enabled", True))
    source.settings = dict(entry.get("settings") or {})
    session.flush()
    return source


def start_crawl_run(
    session: Session, source: Source, *, mirror: str = "", now: datetime | None = None
) -> CrawlRun:
    """Open a crawl-run record (outcome ``running``) for ``source``."""
    run = CrawlRun(
        source=source, started_at=now or utcnow(), outcome="running", mirror=mirror or None
    )
    session.add(run)
    session.flush()
    return run


@dataclass
class CrawlCounts:
    """What one crawl did, as counted by the crawler."""

    requests: int = 0
    items_seen: int = 0
    calls_new: int = 0
    calls_updated: int = 0
    calls_unchanged: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    details_fetched: int = 0
    details_skipped: int = 0  # the search record was unchanged: the stored details stand
    details_missing: int = 0  # the details request failed: stored from the search record


def finish_crawl_run(
    session: Session,
    run: CrawlRun,
    outcome: str,
    counts: CrawlCounts,
    *,
    reason: str | None = None,
    now: datetime | None = None,
) -> CrawlRun:
    """Close ``run`` with its outcome and counts; withdraw unseen calls only if it succeeded."""
    if outcome not in CRAWL_OUTCOMES or outcome == "running":
        raise ValueError(f"outcome {outcome!r} is not a final crawl outcome")
    now = now or utcnow()
    run.outcome = outcome
    run.reason = reason
    run.finished_at = now
    run.duration_seconds = max(0.0, (now - run.started_at).total_seconds())
    run.requests = counts.requests
    run.items_seen = counts.items_seen
    run.calls_new = counts.calls_new
    run.calls_updated = counts.calls_updated
    run.calls_unchanged = counts.calls_unchanged
    run.dropped = dict(counts.dropped)
    run.errors = counts.errors
    run.details_fetched = counts.details_fetched
    run.details_skipped = counts.details_skipped
    run.details_missing = counts.details_missing
    run.calls_withdrawn = 0
    if outcome == "succeeded":
        run.calls_withdrawn = withdraw_unseen(
            session, run.source.slug, run.started_at, crawl_run_id=run.id, now=now
        )
    return run
