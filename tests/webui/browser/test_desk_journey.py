"""The service desk's week in a real browser: sign in, see what is new, shortlist and assign a
call with a note, mark another not relevant and see it go (and stay gone after the re-rank),
and find the shortlisted deadline in the calendar."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from scheduler.work import drain_queue
from storage.config import Settings
from storage.models import FundingCall, Match, Profile, Review
from tests.webui.browser.desk_seed import DESK_EMAIL, seed_desk, sign_in

BERLIN = ZoneInfo("Europe/Berlin")


def _match_link(page, call_id: int):  # type: ignore[no-untyped-def]
    return page.locator(f"ol.desk-matches li:has(#pick-{call_id}) h3 a")


@pytest.mark.parametrize(("width", "lang"), [(1280, "de"), (360, "en")])
def test_desk_decides_assigns_notes_and_finds_the_deadline(  # type: ignore[no-untyped-def]
    width: int, lang: str, seeded, session: Session, settings: Settings, new_page, screenshot
) -> None:
    desk = seed_desk(session, settings)
    partner = session.scalar(select(Profile).where(Profile.slug == desk.partner))
    matched = set(session.scalars(select(Match.call_id).where(Match.profile_id == partner.id)))
    assert {seeded.twinning, seeded.youth} <= matched, "the matcher should list both calls"

    page = new_page(width=width, lang=lang)
    page.goto("/desk")
    assert "/login" in page.url  # the desk is behind a login
    sign_in(page, DESK_EMAIL)
    assert page.url.endswith("/desk")
    expect(page.locator("main")).to_contain_text("Jugendverband Hannover e.V.")
    screenshot(page, "dashboard")

    # Shortlist the youth exchange for the association, assign it, with a note.
    page.goto(f"/desk/profiles/{desk.partner}")
    _match_link(page, seeded.youth).click()
    page.select_option("#r-status", "shortlisted")
    page.fill("#r-assignee", "FB Internationales")
    page.fill("#r-note", "Passt zur Begegnung mit Poznań im Mai.")
    page.locator("form.desk-review button[type=submit]").click()
    timeline = page.locator("ol.timeline")
    expect(timeline).to_contain_text("Dana Desk")
    expect(timeline).to_contain_text("Vorgemerkt" if lang == "de" else "Shortlisted")
    expect(timeline).to_contain_text("FB Internationales")
    expect(timeline).to_contain_text("Passt zur Begegnung mit Poznań im Mai.")
    screenshot(page, "match")

    # Town twinning is a matter for the city, not the association: not relevant, gone at once.
    page.goto(f"/desk/profiles/{desk.partner}")
    _match_link(page, seeded.twinning).click()
    page.select_option("#r-status", "not_relevant")
    page.locator("form.desk-review button[type=submit]").click()
    page.goto(f"/desk/profiles/{desk.partner}")
    expect(page.locator(f"#pick-{seeded.twinning}")).to_have_count(0)
    expect(page.locator(f"#pick-{seeded.youth}")).to_have_count(1)
    expect(page.locator("p.notice[role=status]")).to_be_visible()  # re-ranking…
    screenshot(page, "profile-reranking")

    # The scheduler re-ranks: the notice goes, the call stays out for good.
    report = drain_queue(sessionmaker(session.get_bind()), settings)
    assert report.rematched_profiles == 1 and report.failed == 0
    page.reload()
    expect(page.locator("p.notice[role=status]")).to_have_count(0)
    expect(page.locator(f"#pick-{seeded.twinning}")).to_have_count(0)
    session.expire_all()
    stored = select(Match.id).where(Match.profile_id == partner.id)
    assert session.scalar(stored.where(Match.call_id == seeded.twinning)) is None
    assert session.scalar(stored.where(Match.call_id == seeded.youth)) is not None
    reviews = select(Review.call_id, Review.status).where(Review.profile_id == partner.id)
    statuses = {call_id: status for call_id, status in session.execute(reviews)}
    assert statuses == {seeded.youth: "shortlisted", seeded.twinning: "not_relevant"}

    # The shortlisted call's deadline is in the calendar, in its month.
    youth = session.get(FundingCall, seeded.youth)
    month = min(d.due_at for d in youth.deadlines if d.due_at).astimezone(BERLIN)
    page.goto(f"/calendar/?month={month:%Y-%m}")
    entry = page.locator("ul.entries li a", has_text="Erasmus+ Youth exchanges")
    expect(entry).to_have_count(1)
    screenshot(page, "calendar")
