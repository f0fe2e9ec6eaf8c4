"""The desk's pages per profile, per call and per match: who may see and change what, the
review history, bulk changes, "not relevant" and its undo, and feedback that re-ranks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from matcher.runs import rematch
from storage.matching import matches_for_profile
from storage.models import FundingCall, Match, Profile, Review, ReviewNote, User, WorkItem
from storage.reviews import get_review, timeline
from storage.work_queue import claim, finish
from tests.storage.factories import make_call, make_profile
from tests.storage.match_factories import make_match
from tests.webui.logins import add_user, csrf_token, login

DUE = datetime.now(UTC) + timedelta(days=90)


@dataclass
class Desk:
    dana: User
    admin: User
    staff: User
    stranger: User
    project: Profile
    partner: Profile
    first: FundingCall
    second: FundingCall
    first_match: Match
    second_match: Match


@pytest.fixture
def desk(session: Session) -> Desk:
    """A desk worker, an admin, staff of the project's department and of another one; a city
    project and a partner organisation that both match the first call."""
    dana = add_user(session, "dana@example.org", "desk", name="Dana")
    admin = add_user(session, "admin@example.org", "admin", name="Ada")
    staff = add_user(session, "umwelt@example.org", "staff", name="Uwe", department="FB Umwelt")
    stranger = add_user(session, "kultur@example.org", "staff", name="Kai", department="FB Kultur")
    project = make_profile(session, "klima", name="Klimaschutz", department="FB Umwelt")
    partner = make_profile(
        session, "verein", kind="partner", name="Grüner Verein", applicant_type="ngo",
        legal_form="e.V.",
    )  # fmt: skip
    first = make_call(
        session, title="Climate-neutral cities", deadlines=[DUE], eligible_applicants=["ngo"],
        germany_eligible=True, min_partners=3, min_countries=3,
    )  # fmt: skip
    second = make_call(session, title="Urban greening", deadlines=[DUE])
    explanation = {"terms": [["climate neutrality", 0.3]], "applicant_type": "municipality"}
    first_match = make_match(session, project, first, score=0.5, rank=1, explanation=explanation)
    second_match = make_match(session, project, second, score=0.3, rank=2)
    make_match(session, partner, first, score=0.4, rank=1)
    session.commit()
    return Desk(dana, admin, staff, stranger, project, partner, first, second, first_match,
                second_match)  # fmt: skip


def _post_review(client: FlaskClient, match: Match, **data: str):  # type: ignore[no-untyped-def]
    token = csrf_token(client, f"/desk/matches/{match.id}")
    return client.post(f"/desk/matches/{match.id}/review", data={"csrf_token": token, **data})


def _status(session: Session, profile: Profile, call: FundingCall) -> str | None:
    session.expire_all()
    review = get_review(session, profile.id, call.id)
    return review.status if review else None


# --- who may see what ---------------------------------------------------------------------
def _pages(desk: Desk) -> list[str]:
    return [
        "/desk/profiles/",
        "/desk/profiles/klima",
        f"/desk/profiles/klima/calls/{desk.second.id}",
        f"/desk/calls/{desk.first.id}",
        f"/desk/matches/{desk.first_match.id}",
    ]


def test_anonymous_readers_are_sent_to_the_login(client: FlaskClient, desk: Desk) -> None:
    for path in _pages(desk):
        response = client.get(path)
        assert response.status_code == 302, path
        assert "/login" in response.headers["Location"]
    token = csrf_token(client, "/login")
    response = client.post(
        f"/desk/matches/{desk.first_match.id}/review", data={"csrf_token": token, "note": "x"}
    )
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("email", ["dana@example.org", "admin@example.org", "umwelt@example.org"])
def test_desk_admin_and_the_departments_staff_read_every_page(
    client: FlaskClient, desk: Desk, email: str
) -> None:
    login(client, email)
    for path in _pages(desk):
        response = client.get(path, follow_redirects=True)
        assert response.status_code == 200, path


def test_staff_of_another_department_are_refused(
    client: FlaskClient, session: Session, desk: Desk
) -> None:
    login(client, "kultur@example.org")
    for path in [*_pages(desk)[1:3], f"/desk/matches/{desk.first_match.id}"]:
        assert client.get(path).status_code == 403, path
    token = csrf_token(client, "/desk")
    posts = {
        f"/desk/matches/{desk.first_match.id}/review": {"note": "hi"},
        f"/desk/profiles/klima/calls/{desk.first.id}/review": {"note": "hi"},
        "/desk/profiles/klima/bulk": {"call_id": str(desk.first.id), "status": "reviewing"},
    }
    for path, data in posts.items():
        assert client.post(path, data={"csrf_token": token, **data}).status_code == 403, path
    assert session.scalar(select(ReviewNote)) is None
    assert "Klimaschutz" not in client.get("/desk/profiles/").get_data(as_text=True)
    # The call page lists only the profiles the reader may see: not the Umwelt project.
    page = client.get(f"/desk/calls/{desk.first.id}").get_data(as_text=True)
    assert "Klimaschutz" not in page
    assert "Grüner Verein" not in page  # partners have no department: the desk's only


def test_unknown_profile_call_or_match_is_404(client: FlaskClient, desk: Desk) -> None:
    login(client, "dana@example.org")
    assert client.get("/desk/profiles/no-such-profile").status_code == 404
    assert client.get("/desk/matches/9999").status_code == 404
    assert client.get("/desk/calls/9999").status_code == 404
    other = f"/desk/profiles/verein/calls/{desk.second.id}"  # never matched nor reviewed
    assert client.get(other).status_code == 404


def test_old_profile_addresses_lead_to_the_desk(client: FlaskClient, desk: Desk) -> None:
    assert client.get("/profiles/").headers["Location"].endswith("/desk/profiles/")
    assert client.get("/profiles/klima").headers["Location"].endswith("/desk/profiles/klima")


# --- the profile page ---------------------------------------------------------------------
def test_profile_page_ranks_calls_with_reasons_facts_and_stage(
    client: FlaskClient, desk: Desk
) -> None:
    login(client, "dana@example.org")
    page = client.get("/desk/profiles/klima").get_data(as_text=True)
    assert page.index("Climate-neutral cities") < page.index("Urban greening")
    assert "climate neutrality" in page
    assert "Kommunen antragsberechtigt" in page
    assert "mindestens 3 Partner aus 3 Ländern" in page  # consortium
    assert "Neu" in page and 'name="call_id"' in page  # stage and bulk checkboxes
    assert "Neuberechnung läuft" not in page


def test_cautions_are_shown_apart_from_the_reasons(
    client: FlaskClient, session: Session, desk: Desk
) -> None:
    desk.second_match.explanation = {
        "terms": [["Stadtgrün", 0.2]], "applicant_type": "municipality",
        "budget": "grant_too_large", "eligibility": "eligible",
    }  # fmt: skip
    session.commit()
    login(client, "dana@example.org")
    for path in ("/desk/profiles/klima", f"/desk/matches/{desk.second_match.id}"):
        page = client.get(path).get_data(as_text=True)
        item = page[page.index("Urban greening") :]
        reasons = item[item.index('class="reasons"') : item.index("</ul>")]
        cautions = item[item.index('class="cautions"') :]
        cautions = cautions[: cautions.index("</ul>")]
        assert "Stadtgrün" in reasons and "Kommunen antragsberechtigt" in reasons
        assert "Mindestfördersumme über dem Budget" in cautions
        assert "Mindestfördersumme" not in reasons


def test_profile_page_filters_by_stage(client: FlaskClient, session: Session, desk: Desk) -> None:
    session.add(Review(profile_id=desk.project.id, call_id=desk.second.id, status="reviewing"))
    session.commit()
    login(client, "dana@example.org")
    page = client.get("/desk/profiles/klima?status=reviewing").get_data(as_text=True)
    assert "Urban greening" in page and "Climate-neutral cities" not in page
    page = client.get("/desk/profiles/klima?status=new").get_data(as_text=True)
    assert "Climate-neutral cities" in page and "Urban greening" not in page
    assert client.get("/desk/profiles/klima?status=bogus").status_code == 400


def test_staff_see_no_bulk_controls(client: FlaskClient, desk: Desk) -> None:
    login(client, "umwelt@example.org")
    page = client.get("/desk/profiles/klima").get_data(as_text=True)
    assert "Climate-neutral cities" in page
    assert 'name="call_id"' not in page and "bulk-form" not in page


# --- one match: form, changes, timeline ---------------------------------------------------
def test_review_history_shows_each_change_in_order_with_its_author(
    client: FlaskClient, desk: Desk
) -> None:
    login(client, "dana@example.org")
    response = _post_review(
        client, desk.first_match, status="shortlisted", assignee="FB Umwelt", note="Passt gut."
    )
    assert response.status_code == 302
    page = client.get(response.headers["Location"], follow_redirects=True).get_data(as_text=True)
    assert "Gespeichert." in page
    client.post("/logout", data={"csrf_token": csrf_token(client, "/desk")})
    login(client, "umwelt@example.org")
    assert _post_review(client, desk.first_match, note="Wir prüfen das.").status_code == 302
    page = client.get(f"/desk/matches/{desk.first_match.id}").get_data(as_text=True)
    history = page[page.index("Verlauf") :]
    dana = (
        r"Dana</strong>:\s*<span[^>]*>Neu → Vorgemerkt</span> · "
        r"<span[^>]*>zugewiesen an FB Umwelt</span> · <q[^>]*>Passt gut.</q>"
    )
    first = re.search(dana, history)
    assert first, history
    second = history.index("Uwe</strong>")
    assert first.start() < second
    assert "Wir prüfen das." in history[second:]
    assert history.count("<time datetime=") == 2


def test_staff_may_add_notes_but_not_change_stage_or_assignee(
    client: FlaskClient, session: Session, desk: Desk
) -> None:
    login(client, "umwelt@example.org")
    page = client.get(f"/desk/matches/{desk.first_match.id}").get_data(as_text=True)
    assert 'name="note"' in page
    assert 'name="status"' not in page and 'name="assignee"' not in page
    assert _post_review(client, desk.first_match, status="shortlisted").status_code == 403
    assert _post_review(client, desk.first_match, assignee="x@y.z").status_code == 403
    assert _status(session, desk.project, desk.first) is None
    assert _post_review(client, desk.first_match, note="Bitte prüfen").status_code == 302
    assert _status(session, desk.project, desk.first) == "new"


def test_a_bad_status_is_answered_on_the_page(
    client: FlaskClient, session: Session, desk: Desk
) -> None:
    login(client, "dana@example.org")
    response = _post_review(client, desk.first_match, status="maybe", note="kept")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Unbekannter Status „maybe“" in page
    assert "kept" in page  # what was typed is not lost
    assert _status(session, desk.project, desk.first) is None


def test_every_form_needs_its_csrf_token(client: FlaskClient, session: Session, desk: Desk) -> None:
    login(client, "dana@example.org")
    posts = {
        f"/desk/matches/{desk.first_match.id}/review": {"status": "shortlisted"},
        f"/desk/profiles/klima/calls/{desk.first.id}/review": {"status": "shortlisted"},
        "/desk/profiles/klima/bulk": {"call_id": str(desk.first.id), "status": "shortlisted"},
    }
    for path, data in posts.items():
        assert client.post(path, data=data).status_code == 400, path
    assert session.scalar(select(Review)) is None


def test_the_assignee_field_suggests_users_and_departments(client: FlaskClient, desk: Desk) -> None:
    login(client, "dana@example.org")
    page = client.get(f"/desk/matches/{desk.first_match.id}").get_data(as_text=True)
    datalist = page[page.index("<datalist") : page.index("</datalist>")]
    assert 'value="dana@example.org"' in datalist
    assert 'value="FB Umwelt"' in datalist and 'value="FB Kultur"' in datalist


# --- bulk ---------------------------------------------------------------------------------
def _bulk(client: FlaskClient, call_ids: list[int], **data: str):  # type: ignore[no-untyped-def]
    token = csrf_token(client, "/desk/profiles/klima")
    form = {"csrf_token": token, "call_id": [str(c) for c in call_ids], **data}
    return client.post("/desk/profiles/klima/bulk", data=form)


def test_bulk_changes_every_selected_call(
    client: FlaskClient, session: Session, desk: Desk
) -> None:
    login(client, "dana@example.org")
    ids = [desk.first.id, desk.second.id]
    response = _bulk(client, ids, status="reviewing", assignee="umwelt@example.org")
    assert response.status_code == 302
    assert "2 Ausschreibungen geändert." in client.get("/desk/profiles/klima").get_data(
        as_text=True
    )
    session.expire_all()
    reviews = session.scalars(select(Review).order_by(Review.call_id)).all()
    assert [(r.call_id, r.status, r.assignee_id) for r in reviews] == [
        (desk.first.id, "reviewing", desk.staff.id),
        (desk.second.id, "reviewing", desk.staff.id),
    ]


def test_a_bulk_note_goes_into_each_selected_calls_history(
    client: FlaskClient, session: Session, desk: Desk
) -> None:
    login(client, "dana@example.org")
    ids = [desk.first.id, desk.second.id]
    assert (
        _bulk(client, ids, note="  Nur für Kommunen außerhalb Niedersachsens  ").status_code == 302
    )
    session.expire_all()
    reviews = session.scalars(select(Review).order_by(Review.call_id)).all()
    assert [r.call_id for r in reviews] == ids
    for review in reviews:
        assert review.status == "new"  # a note alone changes no stage
        assert [n.body for n in timeline(session, review) if n.body] == [
            "Nur für Kommunen außerhalb Niedersachsens"
        ]
    too_long = _bulk(client, [desk.first.id], note="x" * 5001)
    assert too_long.status_code == 400
    assert len([n for n in timeline(session, reviews[0]) if n.body]) == 1


def test_bulk_changes_nothing_when_one_call_is_refused(
    client: FlaskClient, session: Session, desk: Desk
) -> None:
    foreign = make_call(session, title="Not for this profile")
    session.commit()
    login(client, "dana@example.org")
    response = _bulk(client, [desk.first.id, foreign.id], status="shortlisted")
    assert response.status_code == 400
    assert "Nichts wurde geändert" in response.get_data(as_text=True)
    assert session.scalar(select(Review)) is None
    assert _bulk(client, [], status="shortlisted").status_code == 400
    assert _bulk(client, [desk.first.id]).status_code == 400  # nothing to apply


def test_staff_cannot_bulk_change(client: FlaskClient, session: Session, desk: Desk) -> None:
    login(client, "umwelt@example.org")
    token = csrf_token(client, "/desk")
    response = client.post(
        "/desk/profiles/klima/bulk",
        data={"csrf_token": token, "call_id": [str(desk.first.id)], "status": "shortlisted"},
    )
    assert response.status_code == 403
    assert session.scalar(select(Review)) is None


# --- not relevant, undo, re-ranking -------------------------------------------------------
def test_not_relevant_hides_the_call_at_once_and_undo_brings_it_back(
    client: FlaskClient, session: Session, desk: Desk
) -> None:
    login(client, "dana@example.org")
    _post_review(client, desk.second_match, status="reviewing")
    response = _post_review(client, desk.second_match, status="not_relevant")
    assert response.status_code == 302
    shown = client.get(response.headers["Location"], follow_redirects=True).get_data(as_text=True)
    assert "ist als nicht relevant markiert" in shown
    page = client.get("/desk/profiles/klima").get_data(as_text=True)
    main = page[page.index("<main") :]
    assert "Urban greening" not in main
    assert "Neuberechnung läuft" in main  # the verdict queued a re-rank
    assert "Nicht relevante anzeigen (1)" in main

    listed = client.get("/desk/profiles/klima?show=not_relevant").get_data(as_text=True)
    rejected = listed[listed.index('id="rejected-heading"') :]
    assert "Urban greening" in rejected
    assert "Rückgängig (zurück zu „In Prüfung“)" in rejected
    token = csrf_token(client, "/desk/profiles/klima?show=not_relevant")
    undo = client.post(
        f"/desk/profiles/klima/calls/{desk.second.id}/review",
        data={"csrf_token": token, "status": "reviewing", "next": "/desk/profiles/klima"},
    )
    assert undo.headers["Location"].endswith("/desk/profiles/klima")
    assert _status(session, desk.project, desk.second) == "reviewing"
    page = client.get("/desk/profiles/klima").get_data(as_text=True)
    assert "Urban greening" in page
    assert "wird für dieses Profil wieder aufgeführt" in page


def test_re_ranking_notice_shows_until_the_queued_re_rank_is_done(
    client: FlaskClient, session: Session, desk: Desk
) -> None:
    login(client, "dana@example.org")
    _post_review(client, desk.first_match, status="shortlisted")
    assert session.scalars(select(WorkItem)).all()[0].profile_id == desk.project.id
    for path in ("/desk/profiles/klima", f"/desk/matches/{desk.first_match.id}"):
        assert "Neuberechnung läuft" in client.get(path).get_data(as_text=True), path
    finish(session, claim(session, "rematch"))
    session.commit()
    assert "Neuberechnung läuft" not in client.get("/desk/profiles/klima").get_data(as_text=True)


def test_a_review_of_a_call_no_longer_ranked_stays_reachable(
    client: FlaskClient, session: Session, desk: Desk
) -> None:
    login(client, "dana@example.org")
    _post_review(client, desk.second_match, status="shortlisted", note="Behalten")
    session.delete(session.get(Match, desk.second_match.id))  # a re-rank dropped it
    session.commit()
    page = client.get(f"/desk/profiles/klima/calls/{desk.second.id}").get_data(as_text=True)
    assert "nicht mehr" in page and "Behalten" in page
    assert "Urban greening" in client.get("/desk/profiles/klima?status=shortlisted").get_data(
        as_text=True
    )


# --- the call page ------------------------------------------------------------------------
def test_call_page_shows_projects_beside_partners(client: FlaskClient, desk: Desk) -> None:
    login(client, "dana@example.org")
    page = client.get(f"/desk/calls/{desk.first.id}").get_data(as_text=True)
    projects = page.index("Projekte der Stadt")
    partners = page.index("Partnerorganisationen")
    assert projects < page.index("Klimaschutz", projects) < partners
    assert page.index("Grüner Verein", partners) > partners
    assert f'href="/calls/{desk.first.id}"' in page  # the public page


# --- feedback moves the ranking -----------------------------------------------------------
NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
LATER = datetime(2026, 9, 19, 15, 0, tzinfo=UTC)


def _mobility(session: Session) -> dict[str, int]:
    ids = {
        "cycling": make_call(
            session, title="Urban mobility in the city: cycling lanes", deadlines=[LATER],
            description_text="Cities build cycling lanes and improve public transport for "
            "urban mobility.",
        ).id,
        "air": make_call(
            session, title="Clean air: air quality monitoring", deadlines=[LATER],
            description_text="Sensor networks monitor air quality and air pollution in streets.",
        ).id,
        "sensors": make_call(
            session, title="Air pollution sensors for streets", deadlines=[LATER],
            description_text="Low-cost sensors measure air pollution and air quality; open "
            "data on pollution in the city.",
        ).id,
        "walk": make_call(
            session, title="Walkable neighbourhoods", deadlines=[LATER],
            description_text="The city makes neighbourhoods walkable with wider pavements and "
            "safer crossings for urban mobility.",
        ).id,
        "students": make_call(
            session, title="Student mobility between cities", deadlines=[LATER],
            description_text="Students spend a semester abroad; mobility grants for exchanges "
            "between universities in the city.",
        ).id,
        "profile": make_profile(
            session, "mobil", name="Urban mobility and clean air", language="en",
            description="The city wants better urban mobility, more cycling and cleaner air.",
        ).id,
    }  # fmt: skip
    session.commit()
    return ids


def _order(session: Session, profile_id: int) -> list[int]:
    session.expire_all()
    return [m.call_id for m in matches_for_profile(session, profile_id)]


def _drain(session: Session) -> None:
    """What the scheduler does with the queue: claim the re-ranks and run them."""
    items = claim(session, "rematch")
    profile_ids = sorted({i.profile_id for i in items if i.profile_id})
    rematch(session, trigger="queue", profile_ids=profile_ids, now=NOW)
    finish(session, items)
    session.commit()


def _review_on_page(client: FlaskClient, session: Session, pid: int, call_id: int,
                    status: str) -> None:  # fmt: skip
    match = session.scalar(select(Match).where(Match.profile_id == pid, Match.call_id == call_id))
    assert match is not None
    assert _post_review(client, match, status=status).status_code == 302


def test_marking_a_call_relevant_moves_a_related_call_up(
    client: FlaskClient, session: Session
) -> None:
    add_user(session)
    ids = _mobility(session)
    rematch(session, trigger="manual", now=NOW)
    session.commit()
    before = _order(session, ids["profile"])
    assert before.index(ids["cycling"]) < before.index(ids["air"])
    login(client, "desk@example.org")
    _review_on_page(client, session, ids["profile"], ids["sensors"], "shortlisted")
    _drain(session)
    after = _order(session, ids["profile"])
    assert after.index(ids["air"]) < after.index(ids["cycling"])


def test_a_call_marked_not_relevant_stays_out_after_the_next_re_match(
    client: FlaskClient, session: Session
) -> None:
    add_user(session)
    ids = _mobility(session)
    rematch(session, trigger="manual", now=NOW)
    session.commit()
    assert ids["cycling"] in _order(session, ids["profile"])
    login(client, "desk@example.org")
    _review_on_page(client, session, ids["profile"], ids["cycling"], "not_relevant")
    _drain(session)
    assert ids["cycling"] not in _order(session, ids["profile"])
    rematch(session, trigger="crawl", now=NOW)
    session.commit()
    assert ids["cycling"] not in _order(session, ids["profile"])
    listed = client.get("/desk/profiles/mobil?show=not_relevant").get_data(as_text=True)
    assert "cycling lanes" in listed[listed.index('id="rejected-heading"') :]
