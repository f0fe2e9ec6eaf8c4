"""Profiles changed one at a time: the import's validation, one queued re-rank per edit."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Profile, WorkItem
from storage.profile_edits import (
    get_profile,
    new_slug,
    profile_rows,
    profile_values,
    save_profile,
    set_archived,
)
from storage.profiles import ProfileFileError, ProfileInvalid, import_upload
from storage.work_queue import finish, waiting_rematches
from tests.storage.factories import make_profile

DESCRIPTION = "Klimaschutz-Austausch mit der Partnerstadt Bristol über kommunale Wärmeplanung."
VALUES = {
    "name": "Klimapartnerschaft Bristol",
    "kind": "project",
    "description": DESCRIPTION,
    "themes": "Klimaschutz; Städtepartnerschaft",
    "keywords": "Wärmeplanung\npeer learning",
    "department": "Umwelt",
    "applicant_type": "municipality",
    "budget_min_eur": "50000",
    "budget_max_eur": "250 000",
    "start_date": "2027-01-01",
    "partner_countries": "gb",
}


def rematch_items(session: Session) -> list[WorkItem]:
    return list(session.scalars(select(WorkItem).where(WorkItem.kind == "rematch")))


def test_a_new_profile_gets_a_slug_from_its_name_and_a_queued_rerank(session: Session) -> None:
    profile = save_profile(session, VALUES, requested_by_id=None)
    assert profile.slug == "klimapartnerschaft-bristol"
    assert profile.themes == ["Klimaschutz", "Städtepartnerschaft"]
    assert profile.keywords == ["Wärmeplanung", "peer learning"]
    assert profile.budget_max_eur == 250_000
    assert profile.start_date == date(2027, 1, 1)
    assert profile.partner_countries == ["GB"]
    assert profile.lead_time_days == 28 and profile.active
    (item,) = rematch_items(session)
    assert item.profile_id == profile.id and item.reason == "profile edited"


def test_new_slugs_are_ascii_and_free(session: Session) -> None:
    make_profile(session, "bruecke-e-v")
    assert new_slug(session, "Brücke e. V.") == "bruecke-e-v-2"
    assert new_slug(session, "Ärger über Straßen") == "aerger-ueber-strassen"
    assert new_slug(session, "!") == "profil"


def test_an_edit_queues_exactly_one_rerank_and_keeps_the_slug(session: Session) -> None:
    profile = save_profile(session, VALUES)
    finish(session, rematch_items(session))  # the first re-rank is done
    changed = dict(profile_values(profile), name="Neuer Name", slug="hijack")
    save_profile(session, changed, profile)
    save_profile(session, dict(changed, region="DE"), profile)
    waiting = [i for i in rematch_items(session) if i.state == "queued"]
    assert len(waiting) == 1 and waiting[0].profile_id == profile.id
    assert profile.slug == "klimapartnerschaft-bristol" and profile.name == "Neuer Name"


def test_saving_unchanged_values_queues_nothing(session: Session) -> None:
    profile = make_profile(session, "same", department="Umwelt")
    save_profile(session, profile_values(profile), profile)
    assert rematch_items(session) == []


def test_every_problem_is_reported_by_field_and_nothing_is_stored(session: Session) -> None:
    bad = dict(
        VALUES,
        kind="programme",
        description="zu kurz",
        budget_min_eur="viel",
        end_date="2026-01-01",
        contact_email="nobody",
    )
    with pytest.raises(ProfileInvalid) as info:
        save_profile(session, bad)
    fields = info.value.by_field()
    assert set(fields) == {"kind", "description", "budget_min_eur", "end_date", "contact_email"}
    assert fields["kind"][0].code == "not_one_of"
    assert fields["kind"][0].allowed == "project, partner"
    assert fields["budget_min_eur"][0].value == "viel"
    assert session.scalar(select(func.count(Profile.id))) == 0
    assert rematch_items(session) == []


def test_a_missing_name_is_reported_on_the_name_not_on_the_made_up_slug(
    session: Session,
) -> None:
    with pytest.raises(ProfileInvalid) as info:
        save_profile(session, dict(VALUES, name=""))
    assert set(info.value.by_field()) == {"name"}


def test_a_chosen_slug_must_be_free(session: Session) -> None:
    make_profile(session, "taken")
    with pytest.raises(ProfileInvalid) as info:
        save_profile(session, dict(VALUES, slug="taken"))
    assert [p.code for p in info.value.by_field()["slug"]] == ["slug_taken"]


def test_archive_hides_a_profile_and_restoring_it_queues_a_rerank(session: Session) -> None:
    profile = make_profile(session, "p")
    assert set_archived(session, profile, True)
    assert not set_archived(session, profile, True)
    assert rematch_items(session) == []
    assert [r.profile.slug for r in profile_rows(session)] == []
    assert [r.profile.slug for r in profile_rows(session, archived=True)] == ["p"]
    # An archived profile may be edited, but it is not re-ranked until it is back.
    save_profile(session, dict(profile_values(profile), name="Anders"), profile)
    assert rematch_items(session) == [] and not profile.active
    assert set_archived(session, profile, False)
    assert waiting_rematches(session) == {profile.id}
    (row,) = profile_rows(session)
    assert row.reranking and row.matches == 0
    assert get_profile(session, "p") is profile and get_profile(session, "nope") is None


def test_an_upload_imports_all_rows_or_none(session: Session) -> None:
    good = (
        "slug,kind,name,description,applicant_type\n"
        f'eins,project,Eins,"{DESCRIPTION}",Kommune\n'
        f'zwei,partner,Zwei,"{DESCRIPTION}",Verein\n'
    )
    bad = good + "drei,programme,Drei,kurz,ngo\n"
    with pytest.raises(ProfileFileError) as info:
        import_upload(session, "profile.csv", bad.encode())
    problems = {(p.row, p.slug, p.field, p.code) for p in info.value.problems}
    assert problems == {(4, "drei", "kind", "not_one_of"), (4, "drei", "description", "too_short")}
    assert session.scalar(select(func.count(Profile.id))) == 0
    result = import_upload(session, "profile.csv", good.encode("utf-8-sig"))
    assert result.created == ["eins", "zwei"]
    assert len(waiting_rematches(session)) == 2


def test_an_upload_that_is_not_text_is_refused(session: Session) -> None:
    with pytest.raises(ProfileFileError) as info:
        import_upload(session, "p.yaml", b"\xff\xfe\x00garbage")
    assert [p.code for p in info.value.problems] == ["not_utf8"]
    with pytest.raises(ProfileFileError) as info:
        import_upload(session, "p.xlsx", b"x")
    assert info.value.errors == ["unknown file type '.xlsx': use .yaml, .yml or .csv"]
