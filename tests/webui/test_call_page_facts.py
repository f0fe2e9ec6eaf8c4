"""The call page answers a desk's questions: can we apply alone, from Germany, how fresh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from storage.models import CrawlRun
from tests.storage.factories import make_call, make_source

SOON = datetime.now(UTC) + timedelta(days=30)


def test_consortium_country_and_evidence_are_told(client: FlaskClient, session: Session) -> None:
    consortium = make_call(session, title="Research and innovation action", deadlines=[SOON],
                           eligible_applicants=["research", "company"],
                           eligibility_evidence={"research": "inferred", "company": "inferred"},
                           min_partners=3, min_countries=3, single_applicant=False,
                           germany_eligible=True)  # fmt: skip
    alone = make_call(session, title="Coordination action", deadlines=[SOON],
                      single_applicant=True)  # fmt: skip
    silent = make_call(session, title="Quiet call", deadlines=[SOON])
    session.commit()

    page = client.get(f"/calls/{consortium.id}").get_data(as_text=True)
    assert "Nein: mindestens 3 Partner aus 3 Ländern." in page
    assert "Antragstellende aus Deutschland</dt><dd>förderfähig" in page
    assert "aus den Regeln des Programms" in page
    english = client.get(f"/calls/{alone.id}", headers={"Accept-Language": "en"})
    assert "Yes, a single organisation may apply." in english.get_data(as_text=True)
    quiet = client.get(f"/calls/{silent.id}").get_data(as_text=True)
    assert "Allein beantragen?" not in quiet and "aus Deutschland" not in quiet


def test_freshness_and_a_failed_source_are_shown(client: FlaskClient, session: Session) -> None:
    seen = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
    call = make_call(session, title="Topic with missing details", deadlines=[SOON],
                     source="eu_funding_tenders", details_missing=True, last_seen_at=seen,
                     first_seen_at=seen - timedelta(days=20),
                     last_changed_at=seen - timedelta(days=3))  # fmt: skip
    source = make_source(session, "eu_funding_tenders")
    session.add(CrawlRun(source_id=source.id, outcome="partial", started_at=seen))
    session.commit()

    page = client.get(f"/calls/{call.id}").get_data(as_text=True)
    assert "Zuletzt an der Quelle gesehen: 30.11.2026, 06:00 Uhr (Berlin)." in page
    assert "Zuerst gefunden: 10.11.2026; zuletzt geändert: 27.11.2026." in page
    assert "nicht vollständig gelungen" in page
    assert "Detailseite der Quelle konnte beim letzten Abruf nicht gelesen werden" in page

    session.add(CrawlRun(source_id=source.id, outcome="succeeded",
                         started_at=seen + timedelta(days=1)))  # fmt: skip
    call.details_missing = False
    session.commit()
    later = client.get(f"/calls/{call.id}").get_data(as_text=True)
    assert "nicht vollständig gelungen" not in later and "Detailseite" not in later


def test_similar_open_calls_are_offered(client: FlaskClient, session: Session) -> None:
    twinning = make_call(session, title="Town twinning for citizens of twinned towns",
                         summary="Citizens of twinned towns meet.", deadlines=[SOON])  # fmt: skip
    other = make_call(session, title="Networks of twinned towns",
                      summary="Twinned towns build networks of citizens.",
                      deadlines=[SOON])  # fmt: skip
    closed = make_call(session, title="Twinned towns meet again (closed)",
                       summary="Citizens of twinned towns.",
                       deadlines=[datetime.now(UTC) - timedelta(days=3)])  # fmt: skip
    make_call(session, title="Quantum computing pilot lines", deadlines=[SOON])
    session.commit()

    page = client.get(f"/calls/{twinning.id}").get_data(as_text=True)
    similar = page.split("Ähnliche offene Ausschreibungen", 1)[1]
    assert f"/calls/{other.id}" in similar
    assert f'/calls/{closed.id}"' not in similar and "Quantum" not in similar


def test_a_cut_summary_is_not_repeated_and_a_topic_names_its_call(
    client: FlaskClient, session: Session
) -> None:
    call = make_call(session, title="Topic", deadlines=[SOON], source_id="CERV-2026-TT-01",
                     call_identifier="CERV-2026-TT", summary="Citizens of twinned towns meet…",
                     description_text="Citizens of twinned towns meet in the town.")  # fmt: skip
    session.commit()
    page = client.get(f"/calls/{call.id}").get_data(as_text=True)
    assert 'class="summary"' not in page
    assert "CERV-2026-TT-01 (in der Ausschreibungsrunde CERV-2026-TT)" in page
