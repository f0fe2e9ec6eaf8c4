"""A re-match from the database: what is stored, what is replaced, what survives a failure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

import matcher.runs
from matcher.runs import rematch
from storage.cli import main
from storage.matching import count_matches, matches_for_profile
from storage.models import FundingCall, Match, MatchRun, Profile
from tests.storage.factories import make_call, make_profile

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
DUE = datetime(2026, 9, 19, 15, 0, tzinfo=UTC)

CLIMATE = (
    "Local authorities cut greenhouse gas emissions of public buildings through energy "
    "efficiency, renovation and climate neutrality plans."
)
TWINNING = (
    "Citizens of twinned towns meet; town twinning projects strengthen European remembrance "
    "and civic participation."
)


def _corpus(session: Session) -> dict[str, FundingCall | Profile]:
    items: dict[str, FundingCall | Profile] = {
        "climate": make_call(
            session,
            title="Climate mitigation in cities",
            description_text=CLIMATE,
            deadlines=[DUE],
            eligible_applicants=["municipality"],
            regions=["EU"],
        ),
        "twinning": make_call(
            session,
            title="Town twinning",
            description_text=TWINNING,
            deadlines=[DUE],
            eligible_applicants=[],
        ),
        "closed": make_call(
            session,
            title="Climate mitigation in cities (closed)",
            description_text=CLIMATE,
            deadlines=[NOW - timedelta(days=2)],
            eligible_applicants=["municipality"],
        ),
        "withdrawn": make_call(
            session,
            title="Climate mitigation for buildings",
            description_text=CLIMATE,
            deadlines=[DUE],
            withdrawn_at=NOW - timedelta(days=1),
        ),
        "bavaria": make_call(
            session,
            title="Klimaschutz in Bayern: climate mitigation of public buildings",
            description_text=CLIMATE,
            deadlines=[DUE],
            regions=["DE-BY"],
        ),
        "companies": make_call(
            session,
            title="Energy efficiency of company buildings",
            description_text=CLIMATE,
            deadlines=[DUE],
            eligible_applicants=["company"],
        ),
    }
    items["klima"] = make_profile(
        session,
        "klima",
        name="Climate-neutral city buildings",
        description="The city cuts greenhouse gas emissions of its public buildings with energy "
        "efficiency and renovation.",
        language="en",
    )
    items["twin"] = make_profile(
        session,
        "twin",
        name="Twinned towns meet",
        description="Citizens of our twinned towns meet for town twinning days in Hannover.",
        language="en",
        applicant_type="ngo",
    )
    session.flush()
    return items


def _ranked_ids(session: Session, profile: Profile) -> list[int]:
    return [m.call_id for m in matches_for_profile(session, profile.id)]


def test_rematch_stores_ranked_matches_and_a_run(session: Session) -> None:
    c = _corpus(session)
    run = rematch(session, trigger="crawl", now=NOW)
    session.commit()
    assert run.outcome == "succeeded"
    assert run.trigger == "crawl"
    assert run.profiles_count == 2
    assert run.matches_count == count_matches(session) > 0
    assert run.finished_at is not None and run.duration_seconds is not None
    klima = matches_for_profile(session, c["klima"].id)
    assert klima[0].call_id == c["climate"].id
    assert [m.rank for m in klima] == list(range(1, len(klima) + 1))
    assert all(m.match_run_id == run.id for m in klima)
    scores = [m.score for m in klima]
    assert scores == sorted(scores, reverse=True)
    assert _ranked_ids(session, c["twin"])[0] == c["twinning"].id


def test_files_an_earlier_release_kept_in_the_index_folder_are_deleted(
    session: Session, tmp_path: Path
) -> None:
    _corpus(session)
    folder = tmp_path / "matcher"
    folder.mkdir()
    for name in ("analysis.npz", "fitted.npz", "words.npz", "reference.npz", "keep.txt"):
        (folder / name).write_bytes(b"old")
    assert rematch(session, trigger="manual", now=NOW, index_folder=folder).outcome == "succeeded"
    assert sorted(p.name for p in folder.iterdir()) == ["keep.txt"]


def test_closed_withdrawn_ineligible_and_other_region_calls_are_never_ranked(
    session: Session,
) -> None:
    c = _corpus(session)
    rematch(session, trigger="manual", now=NOW)
    never = {c[name].id for name in ("closed", "withdrawn", "bavaria", "companies")}
    stored = set(session.scalars(select(Match.call_id)))
    assert stored, "something must be ranked for the test to mean anything"
    assert not stored & never


def test_unknown_eligibility_is_flagged_on_the_match(session: Session) -> None:
    c = _corpus(session)
    rematch(session, trigger="manual", now=NOW)
    twin = matches_for_profile(session, c["twin"].id)[0]
    assert twin.call_id == c["twinning"].id
    assert twin.eligibility_unknown is True
    assert twin.explanation["eligibility"] == "unknown"
    klima = matches_for_profile(session, c["klima"].id)[0]
    assert klima.eligibility_unknown is False


def test_a_second_rematch_replaces_the_first(session: Session) -> None:
    c = _corpus(session)
    first = rematch(session, trigger="manual", now=NOW)
    before = count_matches(session)
    c["twinning"].withdrawn_at = NOW  # gone from the source since
    second = rematch(session, trigger="crawl", now=NOW)
    session.commit()
    assert second.id != first.id
    assert set(session.scalars(select(Match.match_run_id))) == {second.id}
    assert count_matches(session) < before
    assert c["twinning"].id not in set(session.scalars(select(Match.call_id)))


def test_rematching_one_profile_keeps_the_others(session: Session) -> None:
    c = _corpus(session)
    rematch(session, trigger="manual", now=NOW)
    twin_before = [
        (m.call_id, m.rank, m.match_run_id) for m in matches_for_profile(session, c["twin"].id)
    ]
    c["klima"].description = "Town twinning: citizens of twinned towns meet."
    run = rematch(session, trigger="profile", profile_ids=[c["klima"].id], now=NOW)
    session.commit()
    assert run.profiles_count == 1
    twin_after = [
        (m.call_id, m.rank, m.match_run_id) for m in matches_for_profile(session, c["twin"].id)
    ]
    assert twin_after == twin_before
    assert _ranked_ids(session, c["klima"])[0] == c["twinning"].id


def test_inactive_profiles_lose_their_matches(session: Session) -> None:
    c = _corpus(session)
    rematch(session, trigger="manual", now=NOW)
    assert count_matches(session, c["twin"].id) > 0
    c["twin"].active = False
    run = rematch(session, trigger="profile", profile_ids=[c["twin"].id], now=NOW)
    assert run.outcome == "succeeded"
    assert count_matches(session, c["twin"].id) == 0
    assert count_matches(session, c["klima"].id) > 0


def test_a_failed_rematch_keeps_the_old_matches_and_is_recorded(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = _corpus(session)
    rematch(session, trigger="manual", now=NOW)
    session.commit()
    before = [
        (m.profile_id, m.call_id, m.rank) for m in session.scalars(select(Match).order_by(Match.id))
    ]

    def broken(*args: object, **kwargs: object) -> dict[str, object]:
        raise RuntimeError("explanation broke")

    monkeypatch.setattr(matcher.runs, "explanation", broken)
    c["twinning"].withdrawn_at = NOW
    run = rematch(session, trigger="crawl", now=NOW)
    session.commit()
    assert run.outcome == "failed"
    assert "explanation broke" in run.parameters["error"]
    assert run.finished_at is not None
    after = [
        (m.profile_id, m.call_id, m.rank) for m in session.scalars(select(Match).order_by(Match.id))
    ]
    assert after == before
    outcomes = list(session.scalars(select(MatchRun.outcome).order_by(MatchRun.id)))
    assert outcomes == ["succeeded", "failed"]


def test_a_database_error_while_writing_keeps_the_old_matches(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = _corpus(session)
    rematch(session, trigger="manual", now=NOW)
    session.commit()
    before = count_matches(session)
    real = matcher.runs.compute_matches

    def with_a_dangling_call(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        rows, profiles, calls = real(*args, **kwargs)
        # A match for a call that does not exist: the foreign key stops it mid-write.
        return [*rows, {**rows[0], "call_id": 999_999, "rank": 99}], profiles, calls

    monkeypatch.setattr(matcher.runs, "compute_matches", with_a_dangling_call)
    run = rematch(session, trigger="crawl", now=NOW)
    session.commit()
    assert run.outcome == "failed"
    assert count_matches(session) == before
    assert c["climate"].id in set(session.scalars(select(Match.call_id)))


def _invoke(args: list[str], database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(
        main, ["--instance", str(tmp_path / "instance"), "--database-url", database_url, *args]
    )


def test_match_command_rematches_and_prints_a_summary(
    session: Session, database_url: str, tmp_path: Path
) -> None:
    c = _corpus(session)
    c["twinning"].deadlines[0].due_at = datetime.now(UTC) + timedelta(days=200)
    c["climate"].deadlines[0].due_at = datetime.now(UTC) + timedelta(days=200)
    session.commit()
    result = _invoke(["match"], database_url, tmp_path)
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output
    assert "klima" in result.output and "Climate mitigation in cities" in result.output
    session.expire_all()
    assert count_matches(session, c["klima"].id) > 0
    only = _invoke(["match", "--profile", "twin"], database_url, tmp_path)
    assert only.exit_code == 0, only.output
    assert "1 profile(s)" in only.output
    unknown = _invoke(["match", "--profile", "no-such-profile"], database_url, tmp_path)
    assert unknown.exit_code != 0
    assert "unknown profile(s): no-such-profile" in unknown.output
