"""Composing digests, change alerts and reminders, in German and English, each once, and
sending them to a real SMTP server on loopback."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, unquote, urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.datastructures import MultiDict

from scheduler.digests import compose_due
from scheduler.mail_run import TOP, profile_url, search_url
from scheduler.mailer import send_outbox
from storage.call_filters import CallFilter
from storage.config import Settings
from storage.links import unsign
from storage.models import (
    CallChange,
    FundingCall,
    Match,
    MatchRun,
    Notification,
    Profile,
    Review,
    Subscription,
)
from storage.subscriptions import dismiss_call
from tests.scheduler.conftest import BASE_URL
from tests.scheduler.smtp_server import Recorder
from tests.storage.factories import make_call, make_profile

NOW = datetime(2026, 9, 1, 6, 0, tzinfo=UTC)  # a Tuesday, 08:00 in Hannover
LINK = re.compile(r"https://foerderdesk\.example/subscriptions/(\w+)/([\w.-]+)")


def _explanation(due: datetime | None) -> dict[str, object]:
    return {
        "version": 2,
        "terms": [["Klimaschutz", 0.2, None, None], ["Quartier", 0.1, None, None]],
        "applicant_type": "municipality",
        "eligibility": "eligible",
        "regions": ["DE"],
        "budget": "budget_fits",
        "deadline": due.isoformat() if due else None,
        "deadline_timezone": "Europe/Brussels",
        "status": "open",
    }


def _profile_with_calls(
    session: Session, n: int, slug: str = "klima-linden"
) -> tuple[Profile, list[FundingCall]]:
    """A profile and ``n`` matching calls, best first; the first is due 19 Sep 2026 17:00 in
    Brussels (15:00 UTC)."""
    profile = make_profile(session, slug, name="Klimaschutz in Linden")
    run = MatchRun(trigger="test", outcome="succeeded")
    session.add(run)
    session.flush()
    calls = []
    for i in range(n):
        due = datetime(2026, 9, 19, 15, 0, tzinfo=UTC) + timedelta(days=i)
        call = make_call(
            session,
            deadlines=[due],
            title=f"Klimaschutz im Quartier {i + 1}",
            language="de",
            funder="Bundesministerium für Wirtschaft und Klimaschutz",
            programme="NKI",
            eligible_applicants=["municipality", "ngo"],
        )
        call.deadlines[0].timezone = "Europe/Brussels"
        session.add(
            Match(
                match_run_id=run.id,
                profile_id=profile.id,
                call_id=call.id,
                score=1 - i / 100,
                rank=i + 1,
                explanation=_explanation(due),
            )
        )
        calls.append(call)
    session.flush()
    return profile, calls


def _subscribe(session: Session, email: str, **values: object) -> Subscription:
    values.setdefault("kind", "profile")
    values.setdefault("frequency", "weekly")
    values.setdefault("language", "de")
    values.setdefault("confirmed_at", NOW - timedelta(days=1))
    subscription = Subscription(email=email, **values)
    session.add(subscription)
    session.flush()
    return subscription


def _messages(factory: sessionmaker[Session], kind: str | None = None) -> list[Notification]:
    with factory() as session:
        stmt = select(Notification).order_by(Notification.id)
        if kind:
            stmt = stmt.where(Notification.kind == kind)
        return list(session.scalars(stmt))


def _plain(mail: object) -> str:
    """The text part of a received mail, with the line ends a program reads."""
    part = mail.get_body(("plain",))  # type: ignore[attr-defined]
    return str(part.get_content()).replace("\r\n", "\n")


def _html(mail: object) -> str:
    part = mail.get_body(("html",))  # type: ignore[attr-defined]
    return str(part.get_content()).replace("\r\n", "\n")


def _links(text: str, purpose: str, settings: Settings) -> list[dict[str, object]]:
    return [
        unsign(settings.secret_key, p, token) for p, token in LINK.findall(text) if p == purpose
    ]


def test_nothing_is_composed_before_the_subscription_is_confirmed(
    session: Session, factory: sessionmaker[Session], mail_settings: Settings
) -> None:
    profile, _ = _profile_with_calls(session, 2)
    waiting = _subscribe(session, "anna@example.org", profile_id=profile.id, confirmed_at=None)
    session.commit()
    assert compose_due(factory, mail_settings, now=NOW).total == 0
    waiting.confirmed_at = NOW
    session.commit()
    assert compose_due(factory, mail_settings, now=NOW).digests == 1


def test_a_german_digest_says_who_may_apply_when_and_why_and_links_each_call(
    session: Session,
    factory: sessionmaker[Session],
    mail_settings: Settings,
    smtp: tuple[Recorder, int],
) -> None:
    profile, calls = _profile_with_calls(session, 2)
    anna = _subscribe(session, "anna@example.org", profile_id=profile.id)
    session.commit()
    assert compose_due(factory, mail_settings, now=NOW).digests == 1
    assert send_outbox(factory, mail_settings).sent == 1

    [mail] = smtp[0].messages
    assert mail["Subject"] == "2 neue Förderaufrufe für „Klimaschutz in Linden“"
    text, html = _plain(mail), _html(mail)
    assert "Neue Förderaufrufe für „Klimaschutz in Linden“, die passendsten zuerst:" in text
    assert (
        "1. Klimaschutz im Quartier 1\n   Bundesministerium für Wirtschaft und Klimaschutz · NKI"
        in text
    )
    assert "Wer kann beantragen: Kommunen, Vereine und NGOs" in text
    # 17:00 in Brussels is 17:00 in Hannover: the local time, its zone named.
    assert "Nächste Frist: 19.09.2026, 17:00 Uhr (Berlin)" in text
    why = "Warum passend: Passende Begriffe: Klimaschutz, Quartier · Kommunen antragsberechtigt"
    assert why in text
    assert f"Zum Aufruf: {BASE_URL}/calls/{calls[0].id}\n" in text
    assert _links(text, "dismiss", mail_settings) == [{"s": anna.id, "c": c.id} for c in calls]
    assert _links(text, "unsubscribe", mail_settings) == [{"s": anna.id}]
    assert _links(text, "manage", mail_settings) == [{"e": "anna@example.org"}]
    assert "Ihre Abonnements verwalten / löschen" in text and "weitere" not in text
    unsubscribe = re.search(r"Mit einem Klick abbestellen: (\S+)", text)
    assert unsubscribe and mail["List-Unsubscribe"] == f"<{unsubscribe.group(1)}>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # The HTML says the same, links the same, and loads nothing from anywhere.
    assert '<html lang="de">' in html and "Nicht relevant für mich</a>" in html
    assert f'href="{BASE_URL}/calls/{calls[1].id}"' in html
    assert _links(html, "dismiss", mail_settings) == [{"s": anna.id, "c": c.id} for c in calls]
    assert "<img" not in html and "src=" not in html and "<link" not in html
    assert "19.09.2026, 17:00 Uhr (Berlin)" in html


def test_an_english_digest_reads_in_english_throughout(
    session: Session,
    factory: sessionmaker[Session],
    mail_settings: Settings,
    smtp: tuple[Recorder, int],
) -> None:
    profile, _ = _profile_with_calls(session, 1)
    _subscribe(session, "ben@example.org", profile_id=profile.id, language="en")
    session.commit()
    compose_due(factory, mail_settings, now=NOW)
    send_outbox(factory, mail_settings)
    [mail] = smtp[0].messages
    assert mail["Subject"] == "1 new funding call for “Klimaschutz in Linden”"
    text, html = _plain(mail), _html(mail)
    assert "Who may apply: Municipalities, Associations and NGOs" in text
    assert "Next deadline: 19 Sep 2026, 17:00 Berlin time" in text
    why = "Why it matches: Matching words: Klimaschutz, Quartier · Municipalities may apply"
    assert why in text
    assert "Unsubscribe with one click: " in text and "Manage / delete your subscriptions" in text
    assert "(at most once a week)" in text
    assert '<html lang="en">' in html and 'lang="de">Klimaschutz im Quartier 1</a>' in html
    for german in ("Frist", "Warum", "Aufruf", "Uhr"):
        assert german not in text


def test_a_digest_shows_the_best_ten_then_how_many_more_with_a_link_to_the_full_list(
    session: Session, factory: sessionmaker[Session], mail_settings: Settings
) -> None:
    profile, calls = _profile_with_calls(session, TOP + 3)
    _subscribe(session, "anna@example.org", profile_id=profile.id)
    session.commit()
    compose_due(factory, mail_settings, now=NOW)
    [digest] = _messages(factory)
    assert digest.subject.startswith(f"{TOP + 3} neue Förderaufrufe")
    titles = re.findall(r"^\d+\. (.+)$", digest.body_text, re.M)
    assert titles == [c.title for c in calls[:TOP]]
    assert f"… und 3 weitere Aufrufe: {BASE_URL}/desk/profiles/klima-linden" in digest.body_text


def test_two_runs_in_a_row_send_nothing_twice_and_a_later_digest_only_what_is_new(
    session: Session,
    factory: sessionmaker[Session],
    mail_settings: Settings,
    smtp: tuple[Recorder, int],
) -> None:
    profile, calls = _profile_with_calls(session, TOP + 2)
    _subscribe(session, "anna@example.org", profile_id=profile.id)
    session.commit()
    for _ in range(2):
        compose_due(factory, mail_settings, now=NOW)
        send_outbox(factory, mail_settings)
    assert len(smtp[0].messages) == 1
    # The next week: the two not shown yet, and nothing of the first ten again.
    next_week = NOW + timedelta(days=7)
    for _ in range(2):
        compose_due(factory, mail_settings, now=next_week)
        send_outbox(factory, mail_settings)
    assert len(smtp[0].messages) == 2
    second = _plain(smtp[0].messages[1])
    assert re.findall(r"^\d+\. (.+)$", second, re.M) == [c.title for c in calls[TOP:]]
    # Week three: nothing new, nothing sent.
    assert compose_due(factory, mail_settings, now=NOW + timedelta(days=14)).total == 0


def test_two_subscribers_each_get_their_own_digest(
    session: Session,
    factory: sessionmaker[Session],
    mail_settings: Settings,
    smtp: tuple[Recorder, int],
) -> None:
    profile, _ = _profile_with_calls(session, 2)
    anna = _subscribe(session, "anna@example.org", profile_id=profile.id)
    ben = _subscribe(session, "ben@example.org", profile_id=profile.id, language="en")
    session.commit()
    compose_due(factory, mail_settings, now=NOW)
    assert send_outbox(factory, mail_settings).sent == 2
    recorder = smtp[0]
    [to_anna], [to_ben] = recorder.to("anna@example.org"), recorder.to("ben@example.org")
    assert to_anna["Subject"].startswith("2 neue") and to_ben["Subject"].startswith("2 new")
    for mail, subscription in ((to_anna, anna), (to_ben, ben)):
        text = _plain(mail)
        assert {link["s"] for link in _links(text, "dismiss", mail_settings)} == {subscription.id}
    assert sorted(e[1][0] for e in recorder.envelopes) == ["anna@example.org", "ben@example.org"]


def test_a_dismissed_call_never_appears_again(
    session: Session, factory: sessionmaker[Session], mail_settings: Settings
) -> None:
    profile, calls = _profile_with_calls(session, TOP + 2)
    anna = _subscribe(session, "anna@example.org", profile_id=profile.id)
    session.commit()
    compose_due(factory, mail_settings, now=NOW)
    dismiss_call(session, anna.id, calls[TOP].id)  # from the profile's full list, say
    session.commit()
    compose_due(factory, mail_settings, now=NOW + timedelta(days=7))
    second = _messages(factory)[-1]
    assert re.findall(r"^\d+\. (.+)$", second.body_text, re.M) == [calls[TOP + 1].title]
    assert second.subject.startswith("1 neuer Förderaufruf")


def test_a_call_the_desk_marked_not_relevant_never_appears_in_the_profiles_digest(
    session: Session, factory: sessionmaker[Session], mail_settings: Settings
) -> None:
    profile, calls = _profile_with_calls(session, 3)
    session.add(Review(profile_id=profile.id, call_id=calls[0].id, status="not_relevant"))
    _subscribe(session, "anna@example.org", profile_id=profile.id)
    session.commit()
    compose_due(factory, mail_settings, now=NOW)
    [digest] = _messages(factory)
    assert re.findall(r"^\d+\. (.+)$", digest.body_text, re.M) == [c.title for c in calls[1:]]


def test_a_saved_search_digest_names_the_words_it_matched_and_links_the_search(
    session: Session, factory: sessionmaker[Session], mail_settings: Settings
) -> None:
    hit = make_call(
        session,
        deadlines=[NOW + timedelta(days=30)],
        language="de",
        title="Jugendaustausch mit Polen",
        summary="Begegnungen junger Menschen",
    )
    make_call(
        session, deadlines=[NOW + timedelta(days=30)], title="Breitbandausbau im ländlichen Raum"
    )
    query = CallFilter(text="Jugendaustausch Polen", applicant_type="ngo", include_unstated=True)
    _subscribe(
        session, "verein@example.org", kind="search", query=query.to_dict(), frequency="daily"
    )
    session.commit()
    assert compose_due(factory, mail_settings, now=NOW).digests == 1
    [digest] = _messages(factory)
    assert digest.subject == "1 neuer Förderaufruf zu Ihrer Suche „Jugendaustausch Polen“"
    assert re.findall(r"^\d+\. (.+)$", digest.body_text, re.M) == [hit.title]
    assert "Warum passend: Passt zu Ihrer Suche: Jugendaustausch, Polen" in digest.body_text
    assert digest.period == "2026-09-01"
    footer = "weil Sie neue Treffer Ihrer Suche „Jugendaustausch Polen“ abonniert haben"
    assert f"{footer} (höchstens einmal täglich)." in digest.body_text


def test_the_full_list_links_are_the_web_apps_own_pages(settings: Settings, engine: object) -> None:
    # The scheduler may not import the web app; this test holds the two together.
    from webui import create_app
    from webui.search.params import parse_search_args

    flt = CallFilter(
        text="Jugend Polen",
        statuses=("open",),
        applicant_type="ngo",
        include_unstated=True,
        funder_type="eu",
        deadline_to=datetime(2027, 1, 31).date(),
        min_grant_eur=5000,
    )
    parts = urlsplit(search_url(BASE_URL, flt))
    assert parts.path == "/"
    assert parse_search_args(MultiDict(parse_qsl(parts.query))).filter == flt
    app = create_app(settings, test_config={"TESTING": True})
    adapter = app.url_map.bind("foerderdesk.example")
    # The router sees the path decoded, as a request would bring it.
    endpoint, args = adapter.match(unquote(urlsplit(profile_url(BASE_URL, "klima linden")).path))
    assert (endpoint, args) == ("desk.profile", {"slug": "klima linden"})
    app.extensions["foerderdesk.engine"].dispose()


def test_a_change_alert_tells_each_change_in_a_plain_sentence_once(
    session: Session, factory: sessionmaker[Session], mail_settings: Settings
) -> None:
    call = make_call(
        session,
        deadlines=[datetime(2026, 10, 3, 15, tzinfo=UTC)],
        title="Städtepartnerschaften 2027",
    )
    _subscribe(session, "anna@example.org", kind="call", call_id=call.id, frequency="immediate")
    _subscribe(
        session, "ben@example.org", kind="call", call_id=call.id, frequency="daily", language="en"
    )
    changed = NOW - timedelta(hours=2)
    session.add_all(
        [
            CallChange(
                call_id=call.id,
                field="next_deadline",
                old_value="2026-09-19T15:00:00+00:00",
                new_value="2026-10-03T15:00:00+00:00",
                changed_at=changed,
            ),
            CallChange(
                call_id=call.id,
                field="grant_max_eur",
                old_value="50000",
                new_value="60000",
                changed_at=changed,
            ),
            CallChange(
                call_id=call.id,
                field="description",
                old_value="a",
                new_value="b",
                changed_at=changed,
            ),
            CallChange(
                call_id=call.id,
                field="status",
                old_value="forthcoming",
                new_value="open",
                changed_at=changed,
            ),
        ]
    )
    session.commit()
    assert compose_due(factory, mail_settings, now=NOW).alerts == 2
    german, english = _messages(factory)
    assert german.subject == "Änderungen bei „Städtepartnerschaften 2027“"
    assert german.period == f"call {call.id} change {max(c.id for c in call.changes)}"
    assert "- Frist verschoben von 19.09.2026 auf 03.10.2026." in german.body_text
    assert "- Höchstfördersumme geändert von 50.000\xa0€ auf 60.000\xa0€." in german.body_text
    assert (
        "- Beschreibung überarbeitet – bitte auf der Seite des Aufrufs nachlesen."
        in german.body_text
    )
    assert "- Der Aufruf ist jetzt geöffnet." in german.body_text
    assert "Nicht relevant" not in german.body_text  # one follows a call: nothing to dismiss
    assert "- Deadline moved from 19 Sep 2026 to 3 Oct 2026." in english.body_text
    assert "- Maximum grant changed from €50,000 to €60,000." in english.body_text
    # Nothing new since: no second alert, even in a later period.
    assert compose_due(factory, mail_settings, now=NOW + timedelta(days=2)).alerts == 0
    session.add(
        CallChange(
            call_id=call.id,
            field="title",
            old_value="Städtepartnerschaften 2027",
            new_value="Städtepartnerschaften 2027/28",
            changed_at=NOW + timedelta(days=3),
        )
    )
    session.commit()
    assert compose_due(factory, mail_settings, now=NOW + timedelta(days=4)).alerts == 2
    latest = _messages(factory)[-2]
    assert (
        "Titel geändert von „Städtepartnerschaften 2027“ auf „Städtepartnerschaften 2027/28“."
        in latest.body_text
    )
    assert "Frist verschoben" not in latest.body_text


def test_reminders_go_out_14_and_3_days_before_a_deadline_once_each(
    session: Session, factory: sessionmaker[Session], mail_settings: Settings
) -> None:
    due = datetime(2026, 9, 15, 15, 0, tzinfo=UTC)
    followed = make_call(session, deadlines=[due], title="Erasmus+ Jugend")
    profile, pursued = _profile_with_calls(session, 1)
    session.add(Review(profile_id=profile.id, call_id=pursued[0].id, status="shortlisted"))
    _subscribe(session, "anna@example.org", kind="call", call_id=followed.id)
    _subscribe(session, "desk@example.org", profile_id=profile.id, language="en")
    session.commit()
    sent: list[tuple[str, str]] = []
    for day in range(0, 20):
        compose_due(factory, mail_settings, now=due - timedelta(days=14) + timedelta(days=day))
    for message in _messages(factory, "reminder"):
        sent.append((message.recipient, message.subject))
    assert sent == [
        ("anna@example.org", "Frist in 14 Tagen: „Erasmus+ Jugend“"),
        ("desk@example.org", "Deadline in 14 days: “Klimaschutz im Quartier 1”"),
        ("anna@example.org", "Frist in 3 Tagen: „Erasmus+ Jugend“"),
        ("desk@example.org", "Deadline in 3 days: “Klimaschutz im Quartier 1”"),
    ]
    reminder = _messages(factory, "reminder")[0]
    assert "Eine Frist endet in 14 Tagen:\n15.09.2026, 17:00 Uhr (Berlin)" in reminder.body_text
    assert "Sie folgen diesem Aufruf." in reminder.body_text
    english = _messages(factory, "reminder")[1].body_text
    assert "The service desk pursues this call for “Klimaschutz in Linden”." in english


def test_a_title_with_line_breaks_makes_a_one_line_subject(
    session: Session, factory: sessionmaker[Session], mail_settings: Settings
) -> None:
    call = make_call(session, title="Städtepartnerschaften\n  2027 –\r\nAufruf")
    _subscribe(session, "anna@example.org", kind="call", call_id=call.id)
    session.add(
        CallChange(
            call_id=call.id,
            field="grant_max_eur",
            old_value="1",
            new_value="2",
            changed_at=NOW - timedelta(hours=1),
        )
    )
    session.commit()
    compose_due(factory, mail_settings, now=NOW)
    [alert] = _messages(factory)
    assert alert.subject == "Änderungen bei „Städtepartnerschaften 2027 – Aufruf“"


def test_a_dry_run_composes_everything_and_stores_nothing(
    session: Session, factory: sessionmaker[Session], mail_settings: Settings
) -> None:
    profile, _ = _profile_with_calls(session, 2)
    _subscribe(session, "anna@example.org", profile_id=profile.id)
    session.commit()
    report = compose_due(factory, mail_settings, now=NOW, dry_run=True)
    assert report.digests == 1 and "Klimaschutz im Quartier 1" in report.messages[0].body_text
    with factory() as fresh:
        assert fresh.scalar(select(func.count(Notification.id))) == 0
        assert fresh.scalar(select(Subscription.last_sent_at)) is None
    assert compose_due(factory, mail_settings, now=NOW).digests == 1
