"""The desk's dashboard: new since my last visit, deadlines near, assigned to me, sources."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from storage.models import CrawlRun, Review, User, WorkItem
from tests.storage.factories import make_call, make_profile, make_source
from tests.storage.match_factories import make_match
from tests.webui.logins import add_user, login

NOW = datetime.now(UTC)


def _section(page: str, heading: str) -> str:
    """The text of the dashboard section under ``heading`` (to the next heading)."""
    start = page.index(heading)
    end = page.find("<h2", start)
    return page[start : end if end != -1 else len(page)]


def test_dashboard_needs_a_login(client: FlaskClient) -> None:
    response = client.get("/desk")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ["admin", "desk", "staff"])
def test_every_role_opens_the_dashboard(client: FlaskClient, session: Session, role: str) -> None:
    add_user(session, "someone@example.org", role, department="FB Umwelt")
    login(client, "someone@example.org")
    page = client.get("/desk").get_data(as_text=True)
    assert "Neue Treffer seit Ihrem letzten Besuch" in page
    assert "Mir zugewiesen" in page


def test_login_lands_on_the_dashboard(client: FlaskClient, session: Session) -> None:
    add_user(session)
    assert login(client, "desk@example.org").headers["Location"].endswith("/desk")


def test_new_matches_since_the_last_visit_best_first_unreviewed_only(
    client: FlaskClient, session: Session
) -> None:
    user = add_user(session)
    user.last_visit_at = NOW - timedelta(days=1)  # the last visit, long over
    profile = make_profile(session, "klima", name="Klimaschutz")
    old = make_call(session, title="Seen before")
    good = make_call(session, title="Best new call")
    fair = make_call(session, title="Fair new call")
    reviewed = make_call(session, title="Already reviewed")
    make_match(session, profile, old, score=0.9, first_matched_at=NOW - timedelta(days=3))
    make_match(session, profile, fair, score=0.2, first_matched_at=NOW - timedelta(hours=2))
    make_match(session, profile, good, score=0.6, first_matched_at=NOW - timedelta(hours=3))
    make_match(session, profile, reviewed, score=0.7, first_matched_at=NOW - timedelta(hours=1))
    session.add(Review(profile_id=profile.id, call_id=reviewed.id, status="reviewing"))
    session.commit()
    login(client, "desk@example.org")
    page = client.get("/desk").get_data(as_text=True)
    new = _section(page, "Neue Treffer seit Ihrem letzten Besuch")
    assert "2 neue Treffer" in new
    assert new.index("Best new call") < new.index("Fair new call")
    assert "Seen before" not in new and "Already reviewed" not in new
    assert "Ihr letzter Besuch endete am" in page


def test_new_matches_are_capped_with_a_count(client: FlaskClient, session: Session) -> None:
    add_user(session)
    profile = make_profile(session, "klima")
    for n in range(21):
        make_match(session, profile, make_call(session, title=f"Call number {n}"),
                   score=n / 100, rank=21 - n)  # fmt: skip
    session.commit()
    login(client, "desk@example.org")
    new = _section(client.get("/desk").get_data(as_text=True), "Neue Treffer")
    assert "21 neue Treffer" in new and "Angezeigt werden die besten 20." in new
    assert "Call number 20" in new and "Call number 0<" not in new


def test_staff_see_only_their_departments_matches(client: FlaskClient, session: Session) -> None:
    add_user(session, "umwelt@example.org", "staff", department="FB Umwelt")
    ours = make_profile(session, "klima", department="FB Umwelt")
    theirs = make_profile(session, "kultur", department="FB Kultur")
    make_match(session, ours, make_call(session, title="For our department"))
    make_match(session, theirs, make_call(session, title="For another department"))
    session.commit()
    login(client, "umwelt@example.org")
    page = client.get("/desk").get_data(as_text=True)
    assert "For our department" in page
    assert "For another department" not in page


def test_deadlines_near_for_pursued_calls(client: FlaskClient, session: Session) -> None:
    add_user(session)
    profile = make_profile(session, "klima", name="Klimaschutz")
    soon = make_call(session, title="Due soon", deadlines=[NOW + timedelta(days=10)])
    later = make_call(session, title="Due in two months", deadlines=[NOW + timedelta(days=60)])
    merely = make_call(session, title="Only being read", deadlines=[NOW + timedelta(days=5)])
    sooner = make_call(session, title="Due sooner", deadlines=[NOW + timedelta(days=3)])
    for call, status in ((soon, "shortlisted"), (later, "applying"), (merely, "reviewing"),
                         (sooner, "submitted")):  # fmt: skip
        session.add(Review(profile_id=profile.id, call_id=call.id, status=status))
    session.commit()
    login(client, "desk@example.org")
    due = _section(client.get("/desk").get_data(as_text=True), "Fristen in den nächsten 30 Tagen")
    assert due.index("Due sooner") < due.index("Due soon<")
    assert "Vorgemerkt" in due and "Eingereicht" in due
    assert "Due in two months" not in due and "Only being read" not in due
    assert "<time datetime=" in due


def test_matches_assigned_to_me(client: FlaskClient, session: Session) -> None:
    me = add_user(session)
    other = add_user(session, "other@example.org", "desk")
    profile = make_profile(session, "klima")
    mine = make_call(session, title="Mine to do")
    done = make_call(session, title="Mine but awarded")
    theirs = make_call(session, title="Someone else's")
    session.add_all([
        Review(profile_id=profile.id, call_id=mine.id, status="forwarded", assignee_id=me.id),
        Review(profile_id=profile.id, call_id=done.id, status="awarded", assignee_id=me.id),
        Review(profile_id=profile.id, call_id=theirs.id, status="reviewing",
               assignee_id=other.id),
    ])  # fmt: skip
    session.commit()
    login(client, "desk@example.org")
    mine_section = _section(client.get("/desk").get_data(as_text=True), "Mir zugewiesen")
    assert "Mine to do" in mine_section and "Weitergeleitet" in mine_section
    assert "Mine but awarded" not in mine_section and "Someone else" not in mine_section


def test_sources_failing_or_stale_are_listed(client: FlaskClient, session: Session) -> None:
    add_user(session)
    healthy = make_source(session, "healthy", name="Healthy source", schedule="0 3 * * *")
    broken = make_source(session, "broken", name="Broken source", schedule="0 3 * * *")
    make_source(session, "never", name="Never crawled source")
    session.add_all([
        CrawlRun(source_id=healthy.id, outcome="succeeded", started_at=NOW - timedelta(hours=2)),
        CrawlRun(source_id=broken.id, outcome="succeeded", started_at=NOW - timedelta(hours=30)),
        CrawlRun(source_id=broken.id, outcome="failed", started_at=NOW - timedelta(hours=3)),
    ])  # fmt: skip
    session.commit()
    login(client, "desk@example.org")
    sources = _section(client.get("/desk").get_data(as_text=True), "Quellen, die Aufmerksamkeit")
    assert "Broken source" in sources and "fehlgeschlagen" in sources
    assert "Never crawled source" in sources and "noch nie erfolgreich" in sources
    assert "Healthy source" not in sources


def test_re_ranking_is_marked_on_the_dashboard(client: FlaskClient, session: Session) -> None:
    add_user(session)
    profile = make_profile(session, "klima", name="Klimaschutz")
    make_match(session, profile, make_call(session, title="A new call"))
    session.add(WorkItem(kind="rematch", profile_id=profile.id, reason="review"))
    session.commit()
    login(client, "desk@example.org")
    new = _section(client.get("/desk").get_data(as_text=True), "Neue Treffer")
    assert "Neuberechnung läuft" in new


def test_a_view_long_after_the_last_starts_a_new_visit(
    client: FlaskClient, session: Session
) -> None:
    user = add_user(session)
    login(client, "desk@example.org")
    client.get("/desk")
    session.expire_all()
    first = session.get(User, user.id)
    assert first is not None and first.last_visit_at is not None
    assert first.previous_visit_at is None
    client.get("/desk")  # a reload in the same visit changes nothing that counts
    session.expire_all()
    assert session.get(User, user.id).previous_visit_at is None  # type: ignore[union-attr]
    earlier = NOW - timedelta(hours=5)
    first.last_visit_at = earlier
    session.commit()
    client.get("/desk")
    session.expire_all()
    again = session.get(User, user.id)
    assert again is not None and again.previous_visit_at == earlier
    assert again.last_visit_at is not None and again.last_visit_at > earlier
