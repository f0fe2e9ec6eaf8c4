"""The reader's language: German by default, English on request, remembered; every string
translated; dates and money as each language writes them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.storage.factories import make_call
from webui import formatting

CATALOG = Path(__file__).parents[2] / "webui" / "translations" / "de" / "LC_MESSAGES"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdr]")


def test_german_is_the_default(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="de">' in page
    assert "Fördermittel finden" in page and "Find funding" not in page


def test_accept_language_is_the_first_guess(client: FlaskClient) -> None:
    page = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9,de;q=0.5"})
    text = page.get_data(as_text=True)
    assert '<html lang="en">' in text and "Find funding" in text
    # A language we do not offer falls back to German.
    french = client.get("/", headers={"Accept-Language": "fr-FR"}).get_data(as_text=True)
    assert '<html lang="de">' in french


def test_the_switch_is_remembered_and_returns_to_the_page(client: FlaskClient) -> None:
    response = client.get("/language/en?next=/?q=Klima", headers={"Accept-Language": "de"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/?q=Klima"
    assert "lang=en" in response.headers["Set-Cookie"]
    again = client.get("/", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert '<html lang="en">' in again  # the cookie wins over the browser's guess
    assert 'hreflang="de"' in again  # and offers the way back
    client.get("/language/de")
    assert '<html lang="de">' in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example"])
def test_the_switch_never_sends_a_reader_off_site(client: FlaskClient, target: str) -> None:
    response = client.get("/language/en", query_string={"next": target})
    assert response.headers["Location"] == "/"


def test_an_unknown_language_changes_nothing(client: FlaskClient) -> None:
    response = client.get("/language/xx?next=/")
    assert response.status_code == 302 and "Set-Cookie" not in response.headers


def test_error_pages_in_both_languages(client: FlaskClient) -> None:
    german = client.get("/calls/999999")
    assert german.status_code == 404 and "Seite nicht gefunden" in german.get_data(as_text=True)
    english = client.get("/calls/999999", headers={"Accept-Language": "en"})
    assert "Page not found" in english.get_data(as_text=True)


def test_a_call_page_in_each_language(client: FlaskClient, session: Session) -> None:
    due = datetime(2030, 9, 23, 15, 0, tzinfo=UTC)
    call = make_call(session, title="Town twinning", status="open", deadlines=[due],
                     eligible_applicants=["ngo"], grant_min_eur=50_000,
                     grant_max_eur=200_000)  # fmt: skip
    session.commit()
    german = client.get(f"/calls/{call.id}").get_data(as_text=True)
    assert "Verein / NGO" in german and "50.000\xa0€ – 200.000\xa0€" in german
    assert "23.09.2030, 17:00 Uhr (Brüssel)" in german
    english = client.get(f"/calls/{call.id}", headers={"Accept-Language": "en"})
    text = english.get_data(as_text=True)
    assert "Association / NGO" in text and "€50,000 – €200,000" in text
    assert "23 Sep 2030, 17:00 Brussels time" in text
    assert "UTC" not in german and "UTC" not in text


def test_result_count_is_plural_aware(client: FlaskClient, session: Session) -> None:
    make_call(session, title="One call", status="open",
              deadlines=[datetime.now(UTC) + timedelta(days=30)])  # fmt: skip
    session.commit()
    assert "1 Ausschreibung<" in client.get("/").get_data(as_text=True)
    english = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "1 call<" in english


def test_formatting_outside_a_request_is_german(app: Flask) -> None:
    moment = datetime(2026, 3, 1, 11, 0, tzinfo=UTC)
    assert formatting.local_datetime(moment, "Europe/Berlin") == "01.03.2026, 12:00 Uhr (Berlin)"
    assert (
        formatting.local_datetime(moment, "Europe/Berlin", "en") == "1 Mar 2026, 12:00 Berlin time"
    )
    assert formatting.local_datetime(moment, "Not/AZone").endswith("(Berlin)")
    assert formatting.grant_range(None, 60_000, "en") == "up to €60,000"
    assert formatting.grant_range(5_000, None) == "ab 5.000\xa0€"
    assert formatting.month_day("03-15") == "15. März"
    assert formatting.month_day("03-15", "en") == "15 March"


def test_every_message_has_a_german_text_with_the_same_placeholders() -> None:
    with (CATALOG / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="de")
    problems = []
    for message in catalog:
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        texts = [message.string] if isinstance(message.string, str) else list(message.string)
        if "fuzzy" in message.flags or not all(texts):
            problems.append(f"untranslated: {ids[0]!r}")
            continue
        wanted = set(PLACEHOLDER.findall(ids[0]))
        for text in texts:
            if set(PLACEHOLDER.findall(text)) != wanted:
                problems.append(f"placeholders differ: {ids[0]!r} → {text!r}")
    assert not problems, "\n".join(problems)


def test_the_api_answers_programs_in_english_unless_asked(client: FlaskClient) -> None:
    plain = client.get("/api/v1/calls?status=maybe", headers={"Accept-Language": ""})
    assert "unknown status 'maybe'" in plain.get_json()["message"]
    german = client.get("/api/v1/calls?status=maybe", headers={"Accept-Language": "de"})
    assert "unbekannter Wert 'maybe'" in german.get_json()["message"]
