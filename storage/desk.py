"""What the service desk's pages show: the dashboard, a profile's calls, a call's profiles.

Each function takes a session and the reader (a ``User``), returns plain rows and never
commits. A row pairs a call with a profile: the current match, if the matcher still ranks the
call for that profile, and the review, if anyone touched it. Both can be missing on their own:
a re-rank may drop a shortlisted call from the top, and most matches were never reviewed.
Who may read what is decided by :mod:`storage.reviews`, so every page and the API agree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from storage.deadlines import next_deadline
from storage.models import FundingCall, Match, Profile, Review, User
from storage.reviews import (
    PURSUED_STATUSES,
    ReviewError,
    assignee_label,
    may_comment,
    may_edit,
    readable_profiles,
    reviews_for,
    timeline,
    update_review,
)
from storage.source_health import SourceHealth, source_health
from storage.work_queue import waiting_rematches

# A dashboard view less than this after the previous one belongs to the same visit, so
# "new since my last visit" does not empty itself on every reload.
VISIT_GAP = timedelta(minutes=30)
NEW_MATCHES_SHOWN = 20
DEADLINE_WINDOW = timedelta(days=30)
NOT_RELEVANT = "not_relevant"
# Stages after which nothing is left to do for a call (the dashboard's "assigned to me").
FINISHED_STATUSES = frozenset({"awarded", "rejected", NOT_RELEVANT})


@dataclass(frozen=True)
class DeskRow:
    """One call for one profile: the current match (None once the matcher no longer ranks
    it), the review (None while nobody touched it), and the call's next deadline if asked."""

    profile: Profile
    call: FundingCall
    match: Match | None = None
    review: Review | None = None
    due: datetime | None = None

    @property
    def status(self) -> str:
        """The review status; a call nobody reviewed is "new"."""
        return self.review.status if self.review is not None else "new"

    @property
    def assignee(self) -> str:
        """Who it is assigned to, as shown (name, department, or "")."""
        return assignee_label(self.review)


@dataclass
class Dashboard:
    """The desk's start page: what is new, what is due, what is mine."""

    since: datetime | None
    new: list[DeskRow]
    new_total: int
    deadlines: list[DeskRow]
    assigned: list[DeskRow]
    sources: list[SourceHealth] = field(default_factory=list)  # failed or stale
    waiting: set[int] = field(default_factory=set)  # profiles being re-ranked


@dataclass
class ProfileView:
    """A profile's calls as its page lists them."""

    rows: list[DeskRow]
    counts: dict[str, int]  # per review status, over every call the profile has
    not_relevant: list[tuple[DeskRow, str]]  # with the status an undo restores
    waiting: bool


@dataclass
class ProfileSummary:
    """A line of the list of profiles: how many calls, how many still unseen, how many pursued."""

    profile: Profile
    matches: int
    new: int
    pursued: int
    waiting: bool


@dataclass
class CallView:
    """Every profile a call matches or was reviewed for, city projects beside partners."""

    projects: list[DeskRow]
    partners: list[DeskRow]


# --- visits -------------------------------------------------------------------------------
def record_visit(user: User, now: datetime) -> datetime | None:
    """Note a dashboard view at ``now``; return the end of the previous visit.

    A view more than :data:`VISIT_GAP` after the last one starts a new visit: the last visit
    becomes the previous one. Every view moves ``last_visit_at`` on, so a visit lasts as long
    as the person keeps coming back within the gap.
    """
    if user.last_visit_at is None or now - user.last_visit_at > VISIT_GAP:
        user.previous_visit_at = user.last_visit_at
    user.last_visit_at = now
    return user.previous_visit_at


# --- the dashboard ------------------------------------------------------------------------
def _unreviewed() -> ColumnElement[bool]:
    return or_(Review.id.is_(None), Review.status == "new")


def _review_join() -> ColumnElement[bool]:
    return and_(Review.profile_id == Match.profile_id, Review.call_id == Match.call_id)


def new_matches(
    session: Session,
    profile_ids: Sequence[int],
    since: datetime | None,
    limit: int = NEW_MATCHES_SHOWN,
) -> tuple[list[DeskRow], int]:
    """Matches of ``profile_ids`` first made after ``since`` (all, if None) that nobody has
    reviewed yet, best score first: at most ``limit`` of them, and how many there are."""
    if not profile_ids:
        return [], 0
    condition = and_(Match.profile_id.in_(list(profile_ids)), _unreviewed())
    if since is not None:
        condition = and_(condition, Match.first_matched_at > since)
    base = select(Match).outerjoin(Review, _review_join()).where(condition)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    matches = session.scalars(
        base.options(
            selectinload(Match.profile),
            selectinload(Match.call).selectinload(FundingCall.deadlines),
        )
        .order_by(Match.score.desc(), Match.id)
        .limit(limit)
    )
    return [DeskRow(m.profile, m.call, match=m) for m in matches], total


def _reviews(session: Session, condition: ColumnElement[bool]) -> list[Review]:
    return list(
        session.scalars(
            select(Review)
            .where(condition)
            .options(
                selectinload(Review.profile),
                selectinload(Review.assignee),
                selectinload(Review.call).selectinload(FundingCall.deadlines),
            )
            .order_by(Review.id)
        )
    )


def _with_matches(session: Session, reviews: Iterable[Review], now: datetime) -> list[DeskRow]:
    reviews = list(reviews)
    current = _current_matches(session, [(r.profile_id, r.call_id) for r in reviews])
    return [
        DeskRow(
            r.profile,
            r.call,
            match=current.get((r.profile_id, r.call_id)),
            review=r,
            due=next_deadline(r.call, now),
        )
        for r in reviews
    ]


def _current_matches(
    session: Session, pairs: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], Match]:
    wanted = set(pairs)
    if not wanted:
        return {}
    rows = session.scalars(
        select(Match).where(
            Match.profile_id.in_({p for p, _ in wanted}), Match.call_id.in_({c for _, c in wanted})
        )
    )
    return {(m.profile_id, m.call_id): m for m in rows if (m.profile_id, m.call_id) in wanted}


def deadlines_near(
    session: Session,
    profile_ids: Sequence[int],
    now: datetime,
    window: timedelta = DEADLINE_WINDOW,
) -> list[DeskRow]:
    """Calls the desk pursues (shortlisted or further) for ``profile_ids`` whose next
    deadline falls within ``window`` from ``now``, soonest first."""
    if not profile_ids:
        return []
    reviews = _reviews(
        session,
        and_(Review.profile_id.in_(list(profile_ids)), Review.status.in_(PURSUED_STATUSES)),
    )
    rows = [r for r in _with_matches(session, reviews, now) if r.due and r.due <= now + window]
    return sorted(rows, key=lambda r: (r.due, r.profile.name))


def assigned_to(
    session: Session, user: User, profile_ids: Sequence[int], now: datetime
) -> list[DeskRow]:
    """Unfinished reviews assigned to ``user`` in ``profile_ids``, the soonest deadline first."""
    if not profile_ids:
        return []
    reviews = _reviews(
        session,
        and_(
            Review.assignee_id == user.id,
            Review.profile_id.in_(list(profile_ids)),
            Review.status.not_in(FINISHED_STATUSES),
        ),
    )
    rows = _with_matches(session, reviews, now)
    far = now + timedelta(days=100 * 365)
    return sorted(rows, key=lambda r: (r.due or far, r.profile.name, r.call.id))


def dashboard(session: Session, user: User, since: datetime | None, now: datetime) -> Dashboard:
    """Everything the dashboard shows ``user`` (matches of the profiles they may read, and
    the sources whose last run failed or that are stale)."""
    ids = [p.id for p in readable_profiles(session, user)]
    new, total = new_matches(session, ids, since)
    return Dashboard(
        since=since,
        new=new,
        new_total=total,
        deadlines=deadlines_near(session, ids, now),
        assigned=assigned_to(session, user, ids, now),
        sources=[h for h in source_health(session, now) if h.failed or h.stale],
        waiting=waiting_rematches(session, ids),
    )


# --- profiles -----------------------------------------------------------------------------
def profile_by_slug(session: Session, slug: str) -> Profile | None:
    """The profile with ``slug``, or None."""
    return session.scalar(select(Profile).where(Profile.slug == slug))


def profile_summaries(session: Session, user: User) -> list[ProfileSummary]:
    """The profiles ``user`` may read, each with its counts, projects first."""
    profiles = readable_profiles(session, user)
    counts: dict[int, Counter[str]] = {p.id: Counter() for p in profiles}
    rows = session.execute(
        select(Match.profile_id, Review.status, func.count(Match.id))
        .outerjoin(Review, _review_join())
        .where(Match.profile_id.in_(list(counts)))
        .group_by(Match.profile_id, Review.status)
    )
    for profile_id, status, n in rows:
        counts[profile_id][status or "new"] += n  # no review yet: new
    waiting = waiting_rematches(session, counts)
    return [
        ProfileSummary(
            profile=p,
            matches=sum(n for s, n in counts[p.id].items() if s != NOT_RELEVANT),
            new=counts[p.id]["new"],
            pursued=sum(counts[p.id][s] for s in PURSUED_STATUSES),
            waiting=p.id in waiting,
        )
        for p in profiles
    ]


def profile_rows(session: Session, profile: Profile, now: datetime) -> list[DeskRow]:
    """Every call of ``profile``: the ranked ones in rank order, then calls reviewed for it
    that the matcher no longer ranks (not relevant ones included)."""
    matches = list(
        session.scalars(
            select(Match)
            .where(Match.profile_id == profile.id)
            .options(selectinload(Match.call).selectinload(FundingCall.deadlines))
            .order_by(Match.rank, Match.id)
        )
    )
    reviews = {r.call_id: r for r in _reviews(session, Review.profile_id == profile.id)}
    pairs = [(m.call, m, reviews.pop(m.call_id, None)) for m in matches]
    pairs += [(r.call, None, r) for r in reviews.values()]
    return [DeskRow(profile, c, m, r, due=next_deadline(c, now)) for c, m, r in pairs]


def restore_status(session: Session, review: Review) -> str:
    """The status a review had before it was last marked not relevant ("new" if unknown),
    which an undo puts back."""
    for entry in reversed(timeline(session, review)):
        if entry.new_status == NOT_RELEVANT:
            return entry.old_status or "new"
    return "new"


def profile_view(
    session: Session, profile: Profile, now: datetime, *, status: str = "", hidden: bool = False
) -> ProfileView:
    """``profile``'s list: ranked calls not marked not relevant (only those with ``status``,
    if given, ranked or not); with ``hidden``, the not relevant ones as well, each with the
    status an undo restores."""
    hidden = hidden or status == NOT_RELEVANT
    every = profile_rows(session, profile, now)
    counts = Counter(r.status for r in every)
    if status:
        rows = [r for r in every if r.status == status]
    else:
        rows = [r for r in every if r.match is not None and r.status != NOT_RELEVANT]
    rejected = [r for r in every if r.status == NOT_RELEVANT] if hidden else []
    return ProfileView(
        rows=[r for r in rows if r.status != NOT_RELEVANT],
        counts=dict(counts),
        not_relevant=[(r, restore_status(session, r.review)) for r in rejected if r.review],
        waiting=bool(waiting_rematches(session, [profile.id])),
    )


def profile_row(session: Session, profile: Profile, call_id: int, now: datetime) -> DeskRow | None:
    """``call_id`` for ``profile``, if the call is ranked or was reviewed for it."""
    match = session.scalar(
        select(Match).where(Match.profile_id == profile.id, Match.call_id == call_id)
    )
    review = reviews_for(session, [(profile.id, call_id)]).get((profile.id, call_id))
    if match is None and review is None:
        return None
    call = match.call if match is not None else review.call  # type: ignore[union-attr]
    return DeskRow(profile, call, match=match, review=review, due=next_deadline(call, now))


def match_row(session: Session, match_id: int, now: datetime) -> DeskRow | None:
    """The match with ``match_id`` and its review, or None."""
    match = session.scalar(
        select(Match)
        .where(Match.id == match_id)
        .options(
            selectinload(Match.profile),
            selectinload(Match.call).selectinload(FundingCall.deadlines),
        )
    )
    if match is None:
        return None
    review = reviews_for(session, [(match.profile_id, match.call_id)]).get(
        (match.profile_id, match.call_id)
    )
    return DeskRow(
        match.profile, match.call, match=match, review=review, due=next_deadline(match.call, now)
    )


def update_calls(
    session: Session,
    actor: User,
    profile: Profile,
    call_ids: Sequence[int],
    *,
    status: str | None = None,
    assignee: str | None = None,
    note: str | None = None,
) -> int:
    """A bulk change of ``call_ids`` of one profile (each ranked or reviewed for it); how
    many changed. All or nothing: a refused change or an unknown call raises before any
    change, and the caller rolls back on any error."""
    if (status is not None or assignee is not None) and not may_edit(actor, profile):
        raise PermissionError("only the service desk changes status and assignee")
    if note and not may_comment(actor, profile):
        raise PermissionError("notes on this profile are for the desk and its department")
    known = set(
        session.scalars(
            select(Match.call_id).where(
                Match.profile_id == profile.id, Match.call_id.in_(list(call_ids))
            )
        )
    ) | {c for _, c in reviews_for(session, [(profile.id, c) for c in call_ids])}
    unknown = sorted(set(call_ids) - known)
    if unknown:
        raise ReviewError(f"call(s) {unknown} are not listed for profile {profile.slug!r}")
    changed = 0
    for call_id in dict.fromkeys(call_ids):
        entry = update_review(
            session, actor, profile, call_id, status=status, assignee=assignee, note=note
        )
        changed += entry is not None
    return changed


# --- calls --------------------------------------------------------------------------------
def call_view(session: Session, user: User, call: FundingCall) -> CallView:
    """The profiles ``user`` may read that ``call`` matches (best score first) or was
    reviewed for, split into city projects and partner organisations."""
    profiles = {p.id: p for p in readable_profiles(session, user)}
    matches = {
        m.profile_id: m
        for m in session.scalars(
            select(Match).where(Match.call_id == call.id, Match.profile_id.in_(list(profiles)))
        )
    }
    reviews = {
        r.profile_id: r
        for r in _reviews(
            session, and_(Review.call_id == call.id, Review.profile_id.in_(list(profiles)))
        )
    }
    rows = [
        DeskRow(profiles[pid], call, matches.get(pid), reviews.get(pid))
        for pid in matches.keys() | reviews.keys()
    ]
    rows.sort(key=lambda r: (r.match is None, -r.match.score if r.match else 0, r.profile.name))
    return CallView(
        projects=[r for r in rows if r.profile.kind == "project"],
        partners=[r for r in rows if r.profile.kind == "partner"],
    )


# --- the review form ----------------------------------------------------------------------
def assignee_value(review: Review | None) -> str:
    """The assignee as a person types it back into the form: an email or a department."""
    if review is None:
        return ""
    if review.assignee is not None:
        return review.assignee.email
    return review.department


def assignee_suggestions(session: Session) -> list[str]:
    """What the assignee field suggests: active users' emails, then known departments."""
    emails = session.scalars(select(User.email).where(User.active.is_(True)).order_by(User.email))
    departments: set[str] = set()
    for column in (Profile.department, User.department, Review.department):
        departments.update(d for d in session.scalars(select(column).distinct()) if d)
    return list(emails) + sorted(departments, key=str.casefold)
