"""A service desk on top of the seeded calls: people, a city project and a partner, matches.

The matches come from the real matcher (``matcher.runs.rematch``) on the seeded calls, so the
pages show real scores and explanations.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from matcher.runs import rematch
from storage.config import Settings
from tests.storage.factories import make_profile
from tests.webui.logins import PASSWORD, add_user

DESK_EMAIL = "dana@hannover-stadt.example"
ADMIN_EMAIL = "admin@hannover-stadt.example"
STAFF_EMAIL = "sam@hannover-stadt.example"
DEPARTMENT = "Internationale Angelegenheiten"


@dataclass(frozen=True)
class Desk:
    project: str  # slugs
    partner: str
    password: str = PASSWORD


def seed_desk(session: Session, settings: Settings) -> Desk:
    add_user(session, DESK_EMAIL, "desk", name="Dana Desk")
    add_user(session, ADMIN_EMAIL, "admin", name="Ada Admin")
    add_user(session, STAFF_EMAIL, "staff", name="Sam Staff", department=DEPARTMENT)
    make_profile(
        session,
        "partnerschaft-poznan",
        name="Städtepartnerschaft Hannover–Poznań",
        description="Bürgerbegegnungen und Jugendaustausch mit der Partnerstadt Poznań: "
        "Städtepartnerschaft, Begegnungen von Bürgerinnen und Bürgern, Jugendbegegnungen, "
        "town twinning, citizens meet, youth exchange.",
        department=DEPARTMENT,
        applicant_type="municipality",
    )
    make_profile(
        session,
        "jugendverband",
        kind="partner",
        name="Jugendverband Hannover e.V.",
        description="Internationale Jugendbegegnungen und Bürgerbegegnungen in den "
        "Partnerstädten Hannovers: youth exchanges for young people, citizens of twinned "
        "towns meet.",
        legal_form="eingetragener Verein",
        applicant_type="ngo",
    )
    session.commit()
    run = rematch(session, trigger="cli", dictionary_path=settings.freedict_path)
    session.commit()
    assert run.outcome == "succeeded", run.parameters
    return Desk(project="partnerschaft-poznan", partner="jugendverband")


def sign_in(page, email: str, password: str = PASSWORD) -> None:  # type: ignore[no-untyped-def]
    """Sign in through the login page, as a person would."""
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.locator("form:has(input[name=password]) button[type=submit]").click()
    page.wait_for_load_state()
