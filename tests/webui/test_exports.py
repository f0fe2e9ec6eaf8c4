"""Taking calls away: CSV, Atom and iCalendar honour the search, name every deadline stage,
speak the reader's language and never hand a spreadsheet a formula."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import feedparser
import pytest
from flask import Flask
from flask.testing import FlaskClient
from icalendar import Calendar
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from storage.models import CallDeadline
from tests.storage.factories import make_call
from webui import labels
from webui.search import export_routes
from webui.search.exports import CSV_COLUMNS

STAGE_1 = datetime(2031, 3, 15, 16, 0, tzinfo=UTC)  # 17:00 in Berlin (winter time)
STAGE_2 = datetime(2031, 9, 30, 10, 0, tzinfo=UTC)  # 12:00 in Berlin (summer time)
ENGLISH = {"Accept-Language": "en"}


def soon(days: int) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


def _corpus(session: Session) -> dict[str, int]:
    calls = {
        "youth": make_call(
            session, title="Youth exchanges between Poland and Germany", language="en",
            summary="Mobility of young people and youth workers.", status="open",
            deadlines=[soon(40)], eligible_applicants=["ngo"], funder="EACEA",
        ),
        "twinning": make_call(
            session, title="Town twinning for citizens", language="en",
            summary="Meetings of citizens from twinned towns.", status="open",
            deadlines=[soon(30)], eligible_applicants=["municipality"],
        ),
        "quantum": make_call(
            session, title="Quantum computing infrastructure", language="en",
            summary="Quantum processors for research.", status="open", deadlines=[soon(20)],
        ),
        "closed": make_call(
            session, title="Closed call for municipalities", language="en",
            status="closed", deadlines=[soon(-10)], eligible_applicants=["municipality"],
        ),
    }  # fmt: skip
    session.commit()
    return {name: call.id for name, call in calls.items()}


def _two_stage(session: Session, **values: object) -> int:
    values.setdefault("title", "Städtepartnerschaften für Bürgerinnen")
    call = make_call(
        session, deadlines=[STAGE_1, STAGE_2], deadline_model="two_stage", funder="EU-Kommission",
        programme="CERV", call_identifier="CERV-2031-CITIZENS-TOWN",
        eligible_applicants=["ngo", "municipality"], grant_min_eur=50_000,
        grant_max_eur=200_000, budget_eur=1_250_000, url="https://ec.europa.eu/call/cerv",
        **values,
    )  # fmt: skip
    session.commit()
    return call.id


def _table(response: TestResponse, delimiter: str = ";") -> list[dict[str, str]]:
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf"), "Excel needs the byte order mark for umlauts"
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig")), delimiter=delimiter))


COLUMN_KEYS = (
    "title", "funder", "programme", "id", "status", "next", "all", "who", "grant", "budget",
    "page", "source",
)  # fmt: skip


def _words(app: Flask, headers: dict[str, str] | None = None) -> dict[str, str]:
    """The headings and labels as the reader's language says them."""
    with app.test_request_context(headers=headers or {}):
        words = {key: str(c) for key, c in zip(COLUMN_KEYS, CSV_COLUMNS, strict=True)}
        words["open"] = str(labels.STATUS["open"])
        words["ngo"] = str(labels.APPLICANT["ngo"])
        words["municipality"] = str(labels.APPLICANT["municipality"])
        return words


def _events(response: TestResponse) -> list:  # type: ignore[type-arg]
    assert response.status_code == 200
    assert response.content_type.startswith("text/calendar")
    return list(Calendar.from_ical(response.get_data()).walk("VEVENT"))


def test_csv_honours_the_filter_the_query_and_the_sort(
    client: FlaskClient, app: Flask, session: Session
) -> None:
    ids = _corpus(session)
    title = _words(app)["title"]
    titles = [row[title] for row in _table(client.get("/calls.csv"))]
    # Open and forthcoming by default, soonest deadline first, as on the search page.
    assert titles == [
        "Quantum computing infrastructure", "Town twinning for citizens",
        "Youth exchanges between Poland and Germany",
    ]  # fmt: skip
    ngo = _table(client.get("/calls.csv?applicant=ngo"))
    assert [row[title] for row in ngo] == ["Youth exchanges between Poland and Germany"]
    found = _table(client.get("/calls.csv", query_string={"q": "Jugendaustausch Polen"}))
    assert found[0][title].startswith("Youth exchanges")
    assert "Quantum computing infrastructure" not in [row[title] for row in found]
    closed = _table(client.get("/calls.csv?status=closed"))
    assert [row[title] for row in closed] == ["Closed call for municipalities"]
    page = _words(app)["page"]
    assert closed[0][page] == f"http://localhost/calls/{ids['closed']}"


def test_csv_columns_carry_what_a_proposal_calendar_needs(
    client: FlaskClient, app: Flask, session: Session
) -> None:
    call_id = _two_stage(session)
    response = client.get("/calls.csv")
    assert response.content_type == "text/csv; charset=utf-8"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=") and disposition.endswith('.csv"')
    w = _words(app)
    [row] = _table(response)
    assert row[w["title"]] == "Städtepartnerschaften für Bürgerinnen"
    assert set(row) >= {w["title"], w["status"], w["next"], w["all"], w["who"], w["source"]}
    assert row[w["status"]] == w["open"]
    # A two-stage call's next deadline is stage 1, in the desk's zone, the zone named.
    assert "15.03.2031" in row[w["next"]] and "17:00" in row[w["next"]]
    assert "Berlin" in row[w["next"]]
    assert "15.03.2031" in row[w["all"]] and "30.09.2031" in row[w["all"]]
    assert "12:00" in row[w["all"]]  # stage 2 in summer time
    assert w["ngo"] in row[w["who"]] and w["municipality"] in row[w["who"]]
    assert "50.000" in row[w["grant"]] and "200.000" in row[w["grant"]]
    assert "1.250.000" in row[w["budget"]]
    assert row[w["page"]] == f"http://localhost/calls/{call_id}"
    assert row[w["source"]] == "https://ec.europa.eu/call/cerv"
    assert row[w["id"]] == "CERV-2031-CITIZENS-TOWN"
    assert (row[w["funder"]], row[w["programme"]]) == ("EU-Kommission", "CERV")


def test_csv_never_hands_a_spreadsheet_a_formula(
    client: FlaskClient, app: Flask, session: Session
) -> None:
    make_call(
        session, title='=HYPERLINK("https://evil.example","Klick")', funder="+49 cmd|' /C calc'!A0",
        programme="@SUM(1+1)", call_identifier="-2+3", summary="x", deadlines=[soon(5)],
    )  # fmt: skip
    make_call(session, title="\tTabbed", deadlines=[soon(6)])
    session.commit()
    rows = _table(client.get("/calls.csv"))
    cells = [cell for row in rows for cell in row.values() if cell]
    assert not [c for c in cells if c[0] in "=+-@\t\r"]
    title = _words(app)["title"]
    assert rows[0][title] == '\'=HYPERLINK("https://evil.example","Klick")'
    assert rows[1][title] == "'\tTabbed"


@pytest.mark.parametrize("ask", ["header", "cookie"])
def test_english_reader_gets_english_headings_and_commas(
    client: FlaskClient, app: Flask, session: Session, ask: str
) -> None:
    _two_stage(session, title="Town twinning, with a comma")
    if ask == "cookie":
        client.set_cookie("lang", "en")
        response = client.get("/calls.csv", headers={"Accept-Language": "de"})
    else:
        response = client.get("/calls.csv", headers=ENGLISH)
    w = _words(app, ENGLISH)
    assert w["title"] == "Title"  # message ids are English
    assert response.get_data().decode("utf-8-sig").splitlines()[0].startswith("Title,Funder,")
    [row] = _table(response, delimiter=",")
    assert row["Title"] == "Town twinning, with a comma"
    assert "15 Mar 2031" in row[w["next"]] and "Berlin" in row[w["next"]]
    assert "200,000" in row[w["grant"]]


def test_call_calendar_has_one_event_per_stage_at_its_time(
    client: FlaskClient, session: Session
) -> None:
    call_id = _two_stage(session)
    response = client.get(f"/calls/{call_id}.ics")
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "staedtepartnerschaften" in disposition
    events = _events(response)
    assert [e.decoded("dtstart") for e in events] == [STAGE_1, STAGE_2]
    assert all(e.decoded("dtstart").utcoffset() == timedelta(0) for e in events)
    uids = [str(e["uid"]) for e in events]
    assert len(set(uids)) == 2 and all(uid.startswith(f"call-{call_id}-") for uid in uids)
    assert all(e.decoded("duration") > timedelta(0) for e in events)
    summaries = [str(e["summary"]) for e in events]
    assert "1" in summaries[0] and "2" in summaries[1] and summaries[0] != summaries[1]
    assert all("Städtepartnerschaften" in s for s in summaries)
    for event in events:
        assert str(event["url"]) == f"http://localhost/calls/{call_id}"
        assert "https://ec.europa.eu/call/cerv" in str(event["description"])
        [alarm] = event.walk("VALARM")
        assert alarm.decoded("trigger") == -timedelta(days=7)
    again = _events(client.get(f"/calls/{call_id}.ics"))
    assert [str(e["uid"]) for e in again] == uids  # a re-import updates, not doubles
    calendar = Calendar.from_ical(response.get_data())
    assert str(calendar["x-wr-calname"]) == "Städtepartnerschaften für Bürgerinnen"


def test_yearly_deadline_repeats_and_closed_call_still_exports(
    client: FlaskClient, session: Session
) -> None:
    yearly = make_call(session, deadline_model="recurring")
    yearly.deadlines.append(CallDeadline(recurring_month_day="09-30", timezone="Europe/Berlin"))
    past = make_call(session, deadlines=[soon(-30)], status="closed")
    session.commit()
    [event] = _events(client.get(f"/calls/{yearly.id}.ics"))
    due = event.decoded("dtstart")
    assert (due.month, due.day) == (9, 30) or (due.month, due.day) == (10, 1)  # in UTC
    assert due > datetime.now(UTC)
    assert event["rrule"]["FREQ"] == ["YEARLY"]
    [closed] = _events(client.get(f"/calls/{past.id}.ics"))
    assert closed.decoded("dtstart") < datetime.now(UTC)


def test_search_calendar_holds_the_stages_of_the_found_calls(
    client: FlaskClient, session: Session
) -> None:
    ids = _corpus(session)
    two = _two_stage(session)
    events = _events(client.get("/calls.ics?applicant=ngo"))
    owners = sorted(str(e["uid"]).split("-")[1] for e in events)
    assert owners == sorted([str(ids["youth"]), str(two), str(two)])
    calendar = Calendar.from_ical(client.get("/calls.ics?q=Quantum").get_data())
    assert "Quantum" in str(calendar["x-wr-calname"])
    assert [str(e["url"]) for e in calendar.walk("VEVENT")] == [
        f"http://localhost/calls/{ids['quantum']}"
    ]


def test_atom_feed_lists_the_found_calls(client: FlaskClient, session: Session) -> None:
    ids = _corpus(session)
    response = client.get("/calls.atom?applicant=municipality&unstated=1", headers=ENGLISH)
    assert response.status_code == 200
    assert response.content_type.startswith("application/atom+xml")
    parsed = feedparser.parse(response.get_data())
    assert not parsed.bozo, parsed.get("bozo_exception")
    expected = {f"http://localhost/calls/{ids[name]}" for name in ("twinning", "quantum")}
    assert {entry.id for entry in parsed.entries} == expected
    assert {entry.link for entry in parsed.entries} == expected
    assert {entry.title for entry in parsed.entries} == {
        "Town twinning for citizens", "Quantum computing infrastructure",
    }  # fmt: skip
    assert all(entry.updated_parsed for entry in parsed.entries)
    twinning = next(e for e in parsed.entries if e.id.endswith(f"/{ids['twinning']}"))
    assert "twinned towns" in twinning.summary
    assert "https://example.org/calls/" in twinning.summary  # the source, to read it there
    searched = feedparser.parse(client.get("/calls.atom?q=Jugendaustausch").get_data())
    assert [e.id for e in searched.entries] == [f"http://localhost/calls/{ids['youth']}"]
    assert "Jugendaustausch" in searched.feed.title


def test_the_cap_limits_a_download_and_says_how_many_were_found(
    client: FlaskClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _corpus(session)
    monkeypatch.setattr(export_routes, "MAX_EXPORT", 2)
    response = client.get("/calls.csv")
    assert len(_table(response)) == 2
    assert response.headers["X-Total-Count"] == "3"


def test_unknown_call_is_a_404(client: FlaskClient) -> None:
    response = client.get("/calls/999999.ics")
    assert response.status_code == 404
    assert response.content_type.startswith("text/html")


@pytest.mark.parametrize("path", ["/calls.csv", "/calls.atom", "/calls.ics"])
@pytest.mark.parametrize("query", ["applicant=alien", "deadline_from=tomorrow", "page=x"])
def test_invalid_parameters_are_a_400_page(client: FlaskClient, path: str, query: str) -> None:
    response = client.get(f"{path}?{query}")
    assert response.status_code == 400
    assert response.content_type.startswith("text/html")
    assert "Content-Disposition" not in response.headers
