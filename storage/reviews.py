"""The desk's review pipeline: status, assignee and notes per (profile, call), with history.

Every change is one new ``ReviewNote`` (who, when, the status before and after, the assignee
before and after, the note); entries are never edited, so the timeline is the record. A change
that moves a call between "relevant", "not relevant" and "no verdict" queues a re-rank of the
profile: the matcher learns from the verdicts (``matcher.feedback``) and never lists a call
marked not relevant for that profile again.

Who may do what is decided here too, so the pages and the desk API agree: admins and the desk
edit every review; city staff read and comment on their own department's profiles.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from storage.matching import NOT_RELEVANT_STATUS, RELEVANT_STATUSES
from storage.models import REVIEW_STATUSES, Match, Profile, Review, ReviewNote, User
from storage.work_queue import enqueue_rematch

EDITOR_ROLES = frozenset({"admin", "desk"})
MAX_NOTE_LENGTH = 5000
# Stages from "shortlisted" on: the desk decided to pursue the call (the calendar and the
# dashboard's deadlines follow these).
PURSUED_STATUSES = ("shortlisted", "forwarded", "applying", "submitted")


class ReviewError(ValueError):
    """A change the pipeline refuses (an unknown status, an empty change); the message says why."""


@dataclass(frozen=True)
class Assignee:
    """Who a review is assigned to: a person, or a department, or nobody."""

    user_id: int | None = None
    department: str = ""


def verdict(status: str) -> str | None:
    """What a status tells the matcher: "relevant", "not_relevant", or None (no verdict yet)."""
    if status == NOT_RELEVANT_STATUS:
        return "not_relevant"
    return "relevant" if status in RELEVANT_STATUSES else None


def may_edit(user: User, profile: Profile) -> bool:
    """Whether ``user`` may change status and assignee of ``profile``'s reviews."""
    return user.active and user.role in EDITOR_ROLES


def may_read(user: User, profile: Profile) -> bool:
    """Whether ``user`` may see ``profile``'s matches: the desk all, staff their department's."""
    if not user.active:
        return False
    if user.role in EDITOR_ROLES:
        return True
    return bool(user.department) and user.department == profile.department


def may_comment(user: User, profile: Profile) -> bool:
    """Whether ``user`` may add notes to ``profile``'s reviews (everyone who may read them)."""
    return may_read(user, profile)


def readable_profiles(session: Session, user: User) -> list[Profile]:
    """The active profiles ``user`` may see, projects first, by name."""
    stmt = select(Profile).where(Profile.active).order_by(Profile.kind.desc(), Profile.name)
    if user.role not in EDITOR_ROLES:
        if not user.department:
            return []
        stmt = stmt.where(Profile.department == user.department)
    return list(session.scalars(stmt))


def get_review(session: Session, profile_id: int, call_id: int) -> Review | None:
    """The review of ``call_id`` for ``profile_id``, or None while nobody touched it."""
    return session.scalar(
        select(Review).where(Review.profile_id == profile_id, Review.call_id == call_id)
    )


def reviews_for(
    session: Session, pairs: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], Review]:
    """The reviews of many (profile id, call id) pairs in one query, keyed by the pair."""
    wanted = set(pairs)
    if not wanted:
        return {}
    profiles = {p for p, _ in wanted}
    calls = {c for _, c in wanted}
    rows = session.scalars(
        select(Review)
        .where(Review.profile_id.in_(profiles), Review.call_id.in_(calls))
        .options(selectinload(Review.assignee))
    )
    return {(r.profile_id, r.call_id): r for r in rows if (r.profile_id, r.call_id) in wanted}


def resolve_assignee(session: Session, text: str) -> Assignee:
    """An assignee from what a person typed: an active user's email, else a department name;
    empty text means nobody."""
    text = " ".join(text.split())[:200]
    if not text:
        return Assignee()
    user = session.scalar(
        select(User).where(func.lower(User.email) == text.lower(), User.active.is_(True))
    )
    return Assignee(user_id=user.id) if user is not None else Assignee(department=text)


def assignee_label(review: Review | None) -> str:
    """The assignee as shown: the person's name (or email), the department, or ""."""
    if review is None:
        return ""
    if review.assignee is not None:
        return review.assignee.name or review.assignee.email
    return review.department


def update_review(
    session: Session,
    actor: User,
    profile: Profile,
    call_id: int,
    *,
    status: str | None = None,
    assignee: str | None = None,
    note: str | None = None,
) -> ReviewNote | None:
    """Apply a change by ``actor`` and record it as one timeline entry; None if nothing changed.

    ``status``: one of ``REVIEW_STATUSES``; ``assignee``: see :func:`resolve_assignee` (None
    leaves it, "" clears it); ``note``: text added to the timeline. Raises ``PermissionError``
    when ``actor`` may not make this change and ``ReviewError`` for an unknown status or an
    over-long note. The caller commits.
    """
    if status is not None and status not in REVIEW_STATUSES:
        known = ", ".join(REVIEW_STATUSES)
        raise ReviewError(f"unknown status {status!r}; use one of {known}")
    body = (note or "").strip()
    if len(body) > MAX_NOTE_LENGTH:
        raise ReviewError(f"a note has at most {MAX_NOTE_LENGTH} characters")
    if (status is not None or assignee is not None) and not may_edit(actor, profile):
        raise PermissionError("only the service desk changes status and assignee")
    if body and not may_comment(actor, profile):
        raise PermissionError("notes on this profile are for the desk and its department")

    review = get_review(session, profile.id, call_id)
    if review is None:
        review = Review(profile_id=profile.id, call_id=call_id, status="new")
        session.add(review)
        session.flush()
    entry = ReviewNote(review_id=review.id, author_id=actor.id, body=body)
    changed = bool(body)
    old_verdict = verdict(review.status)
    if status is not None and status != review.status:
        entry.old_status, entry.new_status = review.status, status
        review.status = status
        changed = True
    if assignee is not None:
        before = assignee_label(review)
        target = resolve_assignee(session, assignee)
        if (target.user_id, target.department) != (review.assignee_id, review.department):
            review.assignee_id, review.department = target.user_id, target.department
            session.flush()
            session.refresh(review, ["assignee"])
            entry.old_assignee, entry.new_assignee = before or None, assignee_label(review) or None
            changed = True
    if not changed:
        return None
    session.add(entry)
    if verdict(review.status) != old_verdict:
        enqueue_rematch(session, profile.id, reason="review", requested_by_id=actor.id)
    session.flush()
    return entry


def update_reviews(
    session: Session,
    actor: User,
    matches: Sequence[Match],
    *,
    status: str | None = None,
    assignee: str | None = None,
    note: str | None = None,
) -> int:
    """:func:`update_review` for each of ``matches`` (a bulk action); how many changed.

    All or nothing: a refused change raises before any is made.
    """
    for match in matches:
        if (status is not None or assignee is not None) and not may_edit(actor, match.profile):
            raise PermissionError("only the service desk changes status and assignee")
    changed = 0
    for match in matches:
        entry = update_review(
            session,
            actor,
            match.profile,
            match.call_id,
            status=status,
            assignee=assignee,
            note=note,
        )
        changed += entry is not None
    return changed


def timeline(session: Session, review: Review | None) -> list[ReviewNote]:
    """The review's history, oldest first, with authors loaded."""
    if review is None:
        return []
    return list(
        session.scalars(
            select(ReviewNote)
            .where(ReviewNote.review_id == review.id)
            .options(selectinload(ReviewNote.author))
            .order_by(ReviewNote.created_at, ReviewNote.id)
        )
    )
