"""The profile pages: who may use them, field errors by the fields, one re-rank per edit,
archive and restore, and an import that takes every row or none."""

from __future__ import annotations

import io

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Match, MatchRun, Profile, WorkItem
from tests.storage.factories import make_call, make_profile
from tests.webui.logins import add_user, csrf_token, login

DESCRIPTION = "Klimaschutz-Austausch mit der Partnerstadt Bristol über kommunale Wärmeplanung."
FORM = {
    "name": "Klimapartnerschaft Bristol",
    "kind": "project",
    "description": DESCRIPTION,
    "themes": "Klimaschutz\nStädtepartnerschaft",
    "keywords": "",
    "department": "Umwelt",
    "legal_form": "",
    "applicant_type": "municipality",
    "region": "DE-NI",
    "language": "de",
    "budget_min_eur": "",
    "budget_max_eur": "",
    "start_date": "",
    "end_date": "",
    "lead_time_days": "28",
    "partner_countries": "GB",
    "contact_email": "",
}
GET_PAGES = ("/projects/", "/projects/new", "/projects/p/edit", "/projects/import")
POSTS = (
    "/projects/new",
    "/projects/p/edit",
    "/projects/p/archive",
    "/projects/p/unarchive",
    "/projects/import",
)
GOOD_CSV = (
    "slug,kind,name,description,applicant_type\n"
    f'eins,project,Eins,"{DESCRIPTION}",Kommune\n'
    f'zwei,partner,Zwei,"{DESCRIPTION}",Verein\n'
)


def signed_in(client: FlaskClient, session: Session, role: str = "desk") -> None:
    add_user(session, f"{role}@example.org", role, department="Umwelt")
    login(client, f"{role}@example.org")
    client.set_cookie("lang", "en")


def rematches(session: Session) -> list[WorkItem]:
    session.expire_all()
    return list(session.scalars(select(WorkItem).where(WorkItem.kind == "rematch")))


def upload(client: FlaskClient, name: str, text: str, **extra: str):  # type: ignore[no-untyped-def]
    token = csrf_token(client, "/projects/import")
    data = {"csrf_token": token, "file": (io.BytesIO(text.encode("utf-8")), name), **extra}
    return client.post("/projects/import", data=data, content_type="multipart/form-data")


@pytest.mark.parametrize("path", GET_PAGES)
def test_anonymous_visitors_are_sent_to_the_login(
    client: FlaskClient, session: Session, path: str
) -> None:
    make_profile(session, "p")
    session.commit()
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("path", POSTS)
def test_anonymous_posts_change_nothing(client: FlaskClient, session: Session, path: str) -> None:
    make_profile(session, "p")
    session.commit()
    token = csrf_token(client, "/login")
    response = client.post(path, data={"csrf_token": token, **FORM})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert rematches(session) == []


@pytest.mark.parametrize("path", GET_PAGES + POSTS)
def test_staff_may_not_use_the_profile_pages(
    client: FlaskClient, session: Session, path: str
) -> None:
    make_profile(session, "p", department="Umwelt")
    session.commit()
    signed_in(client, session, "staff")
    token = csrf_token(client, "/calendar/")
    response = (
        client.get(path)
        if path in GET_PAGES and path not in POSTS
        else client.post(path, data={"csrf_token": token, **FORM})
    )
    assert response.status_code == 403
    assert session.scalar(select(Profile.name)) == "p"


@pytest.mark.parametrize("role", ["desk", "admin"])
@pytest.mark.parametrize("path", GET_PAGES)
def test_desk_and_admins_open_every_page(
    client: FlaskClient, session: Session, role: str, path: str
) -> None:
    make_profile(session, "p")
    session.commit()
    signed_in(client, session, role)
    assert client.get(path).status_code == 200


@pytest.mark.parametrize("path", POSTS)
def test_every_form_needs_its_csrf_token(client: FlaskClient, session: Session, path: str) -> None:
    make_profile(session, "p", active=path.endswith("unarchive") is False)
    session.commit()
    signed_in(client, session)
    response = client.post(path, data=FORM)
    assert response.status_code == 400
    assert session.scalar(select(func.count(Profile.id))) == 1
    assert rematches(session) == []


def test_the_list_shows_kind_department_counts_and_reranking(
    client: FlaskClient, session: Session
) -> None:
    project = make_profile(session, "klima", name="Klima Bristol", department="Umwelt")
    make_profile(session, "bruecke", name="Brücke e. V.", kind="partner", legal_form="e. V.",
                 applicant_type="ngo")  # fmt: skip
    make_profile(session, "alt", name="Altes Projekt", active=False)
    run = MatchRun(outcome="succeeded")
    session.add(run)
    session.flush()
    for rank in (1, 2):
        call = make_call(session)
        session.add(Match(match_run_id=run.id, profile_id=project.id, call_id=call.id,
                          score=0.5, rank=rank))  # fmt: skip
    session.add(WorkItem(kind="rematch", profile_id=project.id))
    session.commit()
    signed_in(client, session)
    page = client.get("/projects/").get_data(as_text=True)
    row = page.split('id="profile-klima"')[1].split("</tr>")[0]
    assert "City project" in row and "Umwelt" in row and "Municipality" in row
    assert ">2 <" in row and "re-ranking…" in row
    partner = page.split('id="profile-bruecke"')[1].split("</tr>")[0]
    assert "Partner organisation" in partner and "e. V." in partner and "re-ranking" not in partner
    assert "Altes Projekt" not in page
    archived = client.get("/projects/?archived=1").get_data(as_text=True)
    assert "Altes Projekt" in archived and "archived" in archived


def test_the_list_links_to_the_ranked_calls(client: FlaskClient, session: Session) -> None:
    make_profile(session, "klima")
    session.commit()
    signed_in(client, session)
    page = client.get("/projects/").get_data(as_text=True)
    assert 'href="/desk/profiles/klima"' in page or 'href="/profiles/klima"' in page


def test_creating_a_profile_queues_its_ranking(client: FlaskClient, session: Session) -> None:
    signed_in(client, session)
    token = csrf_token(client, "/projects/new")
    response = client.post("/projects/new", data={"csrf_token": token, **FORM})
    assert response.status_code == 302
    profile = session.scalar(select(Profile))
    assert profile is not None and profile.slug == "klimapartnerschaft-bristol"
    assert profile.themes == ["Klimaschutz", "Städtepartnerschaft"]
    assert [(i.profile_id, i.reason) for i in rematches(session)] == [
        (profile.id, "profile edited")
    ]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "being ranked" in page and "re-ranking…" in page


def test_field_errors_are_shown_next_to_the_fields(client: FlaskClient, session: Session) -> None:
    signed_in(client, session)
    token = csrf_token(client, "/projects/new")
    bad = dict(FORM, description="zu kurz", budget_min_eur="viel", contact_email="nobody")
    response = client.post("/projects/new", data={"csrf_token": token, **bad})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="description-error"' in page and "at least 40 characters" in page
    assert 'id="budget_min_eur-error"' in page and "“viel” is not a whole number" in page
    assert 'id="contact_email-error"' in page
    assert 'aria-describedby="description-hint description-error"' in page
    assert 'value="viel"' in page  # what was typed stays
    assert session.scalar(select(func.count(Profile.id))) == 0
    assert rematches(session) == []


def test_field_errors_are_german_for_german_readers(client: FlaskClient, session: Session) -> None:
    signed_in(client, session)
    client.set_cookie("lang", "de")
    token = csrf_token(client, "/projects/new")
    response = client.post("/projects/new", data={"csrf_token": token, **dict(FORM, name="")})
    assert "Bitte ausfüllen." in response.get_data(as_text=True)


def test_an_edit_queues_exactly_one_rerank(client: FlaskClient, session: Session) -> None:
    make_profile(session, "klima", name="Klima", department="Umwelt")
    session.commit()
    signed_in(client, session)
    page = client.get("/projects/klima/edit").get_data(as_text=True)
    assert 'value="Klima"' in page and 'value="Umwelt"' in page
    for name in ("Klima neu", "Klima neuer"):
        token = csrf_token(client, "/projects/klima/edit")
        data = dict(FORM, name=name, csrf_token=token)
        assert client.post("/projects/klima/edit", data=data).status_code == 302
    profile = session.scalar(select(Profile))
    assert profile is not None and profile.name == "Klima neuer" and profile.slug == "klima"
    assert len(rematches(session)) == 1


def test_archive_hides_the_profile_and_restore_queues_a_rerank(
    client: FlaskClient, session: Session
) -> None:
    make_profile(session, "klima", name="Klima")
    session.commit()
    signed_in(client, session)
    token = csrf_token(client, "/projects/")
    assert client.post("/projects/klima/archive", data={"csrf_token": token}).status_code == 302
    session.expire_all()
    assert session.scalar(select(Profile.active)) is False
    assert rematches(session) == []
    assert 'id="profile-klima"' not in client.get("/projects/").get_data(as_text=True)
    response = client.post("/projects/klima/unarchive", data={"csrf_token": token})
    assert response.status_code == 302
    session.expire_all()
    assert session.scalar(select(Profile.active)) is True
    assert len(rematches(session)) == 1


def test_unknown_profiles_are_404(client: FlaskClient, session: Session) -> None:
    signed_in(client, session)
    assert client.get("/projects/nope/edit").status_code == 404
    token = csrf_token(client, "/projects/")
    assert client.post("/projects/nope/archive", data={"csrf_token": token}).status_code == 404


def test_an_import_with_errors_shows_them_and_imports_nothing(
    client: FlaskClient, session: Session
) -> None:
    signed_in(client, session)
    response = upload(client, "profile.csv", GOOD_CSV + "drei,programme,Drei,kurz,ngo\n")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    table = page.split('class="problems"')[1].split("</table>")[0]
    assert '<td data-label="Row">4</td>' in table and "drei" in table
    assert "Kind (kind)" in table and "“programme” is not one of project, partner" in table
    assert "Description" in table and "at least 40 characters" in table
    assert "Nothing was imported: 2 problems" in page
    assert session.scalar(select(func.count(Profile.id))) == 0
    assert rematches(session) == []


def test_a_good_import_creates_the_profiles_and_queues_their_ranking(
    client: FlaskClient, session: Session
) -> None:
    signed_in(client, session)
    response = upload(client, "profile.csv", GOOD_CSV)
    assert response.status_code == 302
    assert set(session.scalars(select(Profile.slug))) == {"eins", "zwei"}
    assert len(rematches(session)) == 2
    assert "2 created, 0 updated" in client.get("/projects/").get_data(as_text=True)


def test_checking_a_file_imports_nothing(client: FlaskClient, session: Session) -> None:
    signed_in(client, session)
    response = upload(client, "profile.csv", GOOD_CSV, check_only="y")
    assert response.status_code == 200
    assert "The file is fine: 2 profiles" in response.get_data(as_text=True)
    assert session.scalar(select(func.count(Profile.id))) == 0


def test_an_unreadable_file_is_named_as_such(client: FlaskClient, session: Session) -> None:
    signed_in(client, session)
    response = upload(client, "profile.xlsx", "x")
    assert response.status_code == 400
    assert "Unknown file type “.xlsx”" in response.get_data(as_text=True)
    token = csrf_token(client, "/projects/import")
    missing = client.post("/projects/import", data={"csrf_token": token})
    assert missing.status_code == 400 and "Please choose a file." in missing.get_data(as_text=True)


def test_every_import_problem_has_words_in_the_pages_language(
    client: FlaskClient, session: Session
) -> None:
    from storage.profile_files import PROBLEM_TEXTS
    from webui.projects.forms import PROBLEMS

    assert set(PROBLEM_TEXTS) <= set(PROBLEMS)  # no problem falls back to the English text
    signed_in(client, session)
    client.set_cookie("lang", "de")
    bad = GOOD_CSV.replace("\n", ",überzählig\n", 2)  # the header's line and one row's
    response = upload(client, "profile.csv", bad)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Unbekannte Spalte „überzählig“" in page
    assert session.scalar(select(func.count(Profile.id))) == 0
