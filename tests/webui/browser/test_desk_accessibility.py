"""Every page of the desk, signed in as an administrator (who sees every control), wide in
German and at phone width in English: axe-core finds no violation and nothing sticks out
sideways."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.config import Settings
from storage.models import FundingCall, Match, Profile, User
from storage.reviews import update_review
from tests.webui.browser.desk_seed import ADMIN_EMAIL, seed_desk, sign_in

PAGES = (
    "/desk",
    "/desk/profiles/",
    "/desk/profiles/{partner}",
    "/desk/profiles/{partner}?show=not_relevant",
    "/desk/matches/{match}",
    "/desk/calls/{twinning}",
    "/calendar/?month={month}",
    "/sources/",
    "/projects/",
    "/projects/new",
    "/projects/{partner}/edit",
    "/projects/import",
    "/admin/users",
)


@pytest.mark.parametrize(("width", "lang"), [(1280, "de"), (360, "en")])
@pytest.mark.parametrize("path", PAGES)
def test_desk_page_has_no_axe_violations_and_fits(  # type: ignore[no-untyped-def]
    path: str,
    width: int,
    lang: str,
    seeded,
    session: Session,
    settings: Settings,
    new_page,
    axe,
    format_violations,
    assert_no_horizontal_overflow,
) -> None:
    desk = seed_desk(session, settings)
    partner = session.scalar(select(Profile).where(Profile.slug == desk.partner))
    admin = session.scalar(select(User).where(User.email == ADMIN_EMAIL))
    # A history and a calendar entry to show: the youth exchange shortlisted, twinning rejected.
    update_review(
        session,
        admin,
        partner,
        seeded.youth,
        status="shortlisted",
        assignee="FB Internationales",
        note="Bitte mit dem Verein besprechen.",
    )
    update_review(session, admin, partner, seeded.twinning, status="not_relevant")
    session.commit()
    match = session.scalar(
        select(Match.id).where(Match.profile_id == partner.id, Match.call_id == seeded.youth)
    )
    youth = session.get(FundingCall, seeded.youth)
    youth_due = min(d.due_at for d in youth.deadlines if d.due_at)

    page = new_page(width=width, lang=lang)
    sign_in(page, ADMIN_EMAIL)
    url = path.format(
        partner=desk.partner, match=match, twinning=seeded.twinning, month=f"{youth_due:%Y-%m}"
    )
    response = page.goto(url)
    assert response is not None and response.status == 200, f"{url} answered {response.status}"
    assert page.locator("html").get_attribute("lang") == lang
    violations = axe(page)
    assert not violations, f"axe on {url} ({width} px, {lang}):\n" + format_violations(violations)
    assert_no_horizontal_overflow(page)
    assert page.foerderdesk.foreign_requests == []
