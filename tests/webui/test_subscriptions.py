"""Subscribing in the browser: double opt-in through the outbox, signed links that refuse
tampering and say when they expired, one-click unsubscribe, a manage page that erases, and
"not relevant" that a GET never triggers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from storage.call_filters import CallFilter
from storage.links import sign
from storage.models import Notification, Review, Subscription, SubscriptionCall
from storage.subscriptions import delete_everything_of, subscribe
from tests.storage.factories import make_call, make_profile
from tests.webui.logins import add_user, csrf_token, login
from webui.subscriptions.routes import SUBSCRIBE_PER_ADDRESS

SECRET = "test-secret-key-not-for-production"  # the ``settings`` fixture's key
START = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def _post_search(client: FlaskClient, email: str = "anna@example.org", **fields: object):
    data: dict[str, object] = {
        "csrf_token": csrf_token(client, "/"),
        "email": email,
        "frequency": "weekly",
        "mail_language": "de",
        "q": "Jugendaustausch",
    }
    data.update(fields)
    return client.post("/subscriptions/search", data=data)


def _messages(session: Session) -> list[Notification]:
    session.expire_all()
    return list(session.scalars(select(Notification).order_by(Notification.id)))


def _link(message: Notification, purpose: str) -> str:
    found = re.search(rf"https?://[^/\s]+(/subscriptions/{purpose}/[^\s\"<]+)", message.body_text)
    assert found, f"no {purpose} link in {message.body_text!r}"
    return found.group(1)


def _only(session: Session) -> Subscription:
    session.expire_all()
    return session.scalars(select(Subscription)).one()


def _text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def test_subscribing_stores_exactly_one_confirmation_and_nothing_else(
    client: FlaskClient, session: Session
) -> None:
    response = _post_search(client)
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    assert "Fast geschafft – bitte bestätigen Sie Ihre E-Mail-Adresse" in _text(page)
    sub = _only(session)
    assert (sub.email, sub.kind, sub.confirmed_at) == ("anna@example.org", "search", None)
    [message] = _messages(session)
    assert (message.kind, message.period) == ("confirm", f"confirm {sub.id}")
    assert message.recipient == "anna@example.org" and message.state == "pending"
    assert "/subscriptions/unsubscribe/" in message.unsubscribe_url
    # The same request again stores no second subscription and no second mail.
    assert _post_search(client).status_code == 302
    assert len(_messages(session)) == 1
    assert session.scalar(select(func.count(Subscription.id))) == 1


def test_a_search_subscription_keeps_the_query_and_every_filter(
    client: FlaskClient, session: Session
) -> None:
    response = _post_search(
        client,
        q="Klimaanpassung",
        applicant="ngo",
        unstated="1",
        funder_type="federal",
        language="de",
        status=["open", "closed"],
        deadline_to="2027-06-30",
        min_grant="50000",
        mail_language="en",
    )
    assert response.status_code == 302
    expected = CallFilter(
        text="Klimaanpassung",
        statuses=("open", "closed"),
        applicant_type="ngo",
        include_unstated=True,
        funder_type="federal",
        language="de",
        deadline_to=datetime(2027, 6, 30).date(),
        min_grant_eur=50_000,
    )
    sub = _only(session)
    assert sub.query == expected.to_dict()
    assert sub.language == "en", "the mail's language is not the search's language filter"


def test_the_search_page_offers_the_alert_for_the_current_search(client: FlaskClient) -> None:
    page = _text(client.get("/?q=Jugend&applicant=ngo&page=2&sort=newest"))
    box = page[page.index('class="subscribe-box"') :]
    assert 'action="/subscriptions/search"' in box
    assert '<input type="hidden" name="q" value="Jugend">' in box
    assert '<input type="hidden" name="applicant" value="ngo">' in box
    assert 'name="page"' not in box and 'name="sort"' not in box
    assert "höchstens einmal pro Woche" in box and "abbestellen mit einem Klick" in box
    for label in ("sofort", "täglich", "wöchentlich"):
        assert label in box
    assert 'for="subscribe-email"' in box and 'id="subscribe-email"' in box


def test_the_confirm_link_confirms_once_and_shows_a_manage_link(
    client: FlaskClient, session: Session
) -> None:
    _post_search(client)
    [message] = _messages(session)
    page = client.get(_link(message, "confirm"))
    assert page.status_code == 200
    assert "/subscriptions/manage/" in _text(page)
    assert "Jugendaustausch" in _text(page)
    confirmed_at = _only(session).confirmed_at
    assert confirmed_at is not None
    assert client.get(_link(message, "confirm")).status_code == 200
    assert _only(session).confirmed_at == confirmed_at
    assert len(_messages(session)) == 1, "confirming sends nothing"


def test_a_tampered_confirm_link_is_refused(client: FlaskClient, session: Session) -> None:
    _post_search(client)
    link = _link(_messages(session)[0], "confirm")
    page = client.get(link[:-3] + ("aaa" if not link.endswith("aaa") else "bbb"))
    assert page.status_code == 400
    assert "nicht gültig" in _text(page)
    forged = sign("another-secret", "confirm", {"s": _only(session).id})
    assert client.get(f"/subscriptions/confirm/{forged}").status_code == 400
    # A link made for another purpose does not confirm either.
    other = sign(SECRET, "unsubscribe", {"s": _only(session).id})
    assert client.get(f"/subscriptions/confirm/{other}").status_code == 400
    assert _only(session).confirmed_at is None


def test_an_expired_confirm_link_says_so_and_offers_to_subscribe_again(
    client: FlaskClient, session: Session
) -> None:
    with time_machine.travel(START, tick=False):
        _post_search(client)
    link = _link(_messages(session)[0], "confirm")
    with time_machine.travel(START + timedelta(days=8), tick=False):
        page = client.get(link)
    assert page.status_code == 410
    assert "abgelaufen" in _text(page)
    assert 'href="/"' in _text(page)
    assert _only(session).confirmed_at is None


@pytest.mark.parametrize("language", ["de", "en"])
def test_the_confirmation_mail_is_in_the_chosen_language(
    client: FlaskClient, session: Session, language: str
) -> None:
    _post_search(client, mail_language=language)
    [message] = _messages(session)
    words = {
        "de": ("Bitte bestätigen Sie", "Suche nach „Jugendaustausch“", "höchstens eine E-Mail"),
        "en": ("Please confirm", "Search for “Jugendaustausch”", "at most one email a week"),
    }[language]
    assert words[0] in message.subject
    for text in words[1:]:
        assert text in message.body_text and text in message.body_html
    assert _link(message, "confirm") in message.body_html
    assert "<img" not in message.body_html, "no tracking pixels"


def test_each_form_post_without_its_csrf_token_is_refused(
    client: FlaskClient, session: Session
) -> None:
    call = make_call(session)
    make_profile(session, "jugendzentrum")
    add_user(session)
    sub = subscribe(
        session, email="anna@example.org", kind="search", frequency="weekly", language="de"
    )
    session.commit()
    manage = sign(SECRET, "manage", {"e": "anna@example.org"})
    dismiss = sign(SECRET, "dismiss", {"s": sub.id, "c": call.id})
    unsubscribe = sign(SECRET, "unsubscribe", {"s": sub.id})
    posts = {
        "/subscriptions/search": {"email": "ben@example.org", "frequency": "weekly"},
        f"/subscriptions/call/{call.id}": {"email": "ben@example.org"},
        "/subscriptions/manage": {"email": "anna@example.org"},
        f"/subscriptions/unsubscribe/{unsubscribe}": {},
        f"/subscriptions/manage/{manage}/unsubscribe": {"subscription": str(sub.id)},
        f"/subscriptions/manage/{manage}/delete": {},
        f"/subscriptions/dismiss/{dismiss}": {},
    }
    for path, data in posts.items():
        assert client.post(path, data=data).status_code == 400, path
    login(client, "desk@example.org")
    assert client.post("/subscriptions/new?profile=jugendzentrum", data={}).status_code == 400
    assert session.scalar(select(func.count(Subscription.id))) == 1
    assert session.scalar(select(func.count(SubscriptionCall.id))) == 0
    assert _only(session).unsubscribed_at is None
    assert _messages(session) == []


def test_one_click_unsubscribe_needs_no_csrf_but_a_signed_link(
    client: FlaskClient, session: Session
) -> None:
    sub = subscribe(
        session, email="anna@example.org", kind="search", frequency="weekly", language="de"
    )
    session.commit()
    token = sign(SECRET, "unsubscribe", {"s": sub.id})
    one_click = {"List-Unsubscribe": "One-Click"}
    assert client.post(f"/subscriptions/unsubscribe/{token}x", data=one_click).status_code == 400
    assert _only(session).unsubscribed_at is None
    response = client.post(f"/subscriptions/unsubscribe/{token}", data=one_click)
    assert response.status_code == 200
    assert _only(session).unsubscribed_at is not None
    assert client.post(f"/subscriptions/unsubscribe/{token}", data=one_click).status_code == 200


def test_the_unsubscribe_link_asks_first_and_its_button_unsubscribes(
    client: FlaskClient, session: Session
) -> None:
    _post_search(client)
    [message] = _messages(session)
    path = _link(message, "confirm")
    client.get(path)
    unsubscribe_path = message.unsubscribe_url.split("://", 1)[1].split("/", 1)[1]
    page = client.get("/" + unsubscribe_path)
    assert page.status_code == 200 and "<form" in _text(page)
    assert _only(session).unsubscribed_at is None, "a GET changes nothing"
    token = csrf_token(client, "/" + unsubscribe_path)
    done = client.post("/" + unsubscribe_path, data={"csrf_token": token})
    assert done.status_code == 200 and "abgemeldet" in _text(done)
    assert _only(session).unsubscribed_at is not None
    # An old confirmation link cannot undo it.
    client.get(path)
    assert _only(session).unsubscribed_at is not None


def test_two_subscribers_each_get_and_manage_their_own(
    client: FlaskClient, session: Session
) -> None:
    _post_search(client, "anna@example.org", q="Jugend")
    _post_search(client, "ben@example.org", q="Kultur")
    anna_mail, ben_mail = _messages(session)
    assert (anna_mail.recipient, ben_mail.recipient) == ("anna@example.org", "ben@example.org")
    client.get(_link(anna_mail, "confirm"))
    session.expire_all()
    states = {s.email: s.confirmed_at is not None for s in session.scalars(select(Subscription))}
    assert states == {"anna@example.org": True, "ben@example.org": False}
    ben_link = sign(SECRET, "manage", {"e": "ben@example.org"})
    page = _text(client.get(f"/subscriptions/manage/{ben_link}"))
    assert "Kultur" in page and "Jugend" not in page
    assert "nicht bestätigt" in page


def test_the_manage_page_lists_unsubscribes_and_deletes_everything(
    client: FlaskClient, session: Session
) -> None:
    call = make_call(session, title="Erasmus+ Jugendbegegnungen")
    for query in ("Jugend", "Kultur"):
        subscribe(
            session,
            email="anna@example.org",
            kind="search",
            query=query,
            frequency="daily",
            language="en",
            confirmed=True,
        )
    followed = subscribe(
        session,
        email="anna@example.org",
        kind="call",
        call_id=call.id,
        frequency="immediate",
        language="de",
    )
    other = subscribe(
        session, email="ben@example.org", kind="search", frequency="weekly", language="de"
    )
    session.add(SubscriptionCall(subscription_id=followed.id, call_id=call.id, sent_at=START))
    session.commit()
    path = f"/subscriptions/manage/{sign(SECRET, 'manage', {'e': 'Anna@example.org'})}"
    page = _text(client.get(path))
    for text in ("Jugend", "Kultur", "Erasmus+ Jugendbegegnungen", "täglich", "English"):
        assert text in page
    assert page.count('name="subscription"') == 3

    token = csrf_token(client, path)
    response = client.post(
        f"{path}/unsubscribe", data={"csrf_token": token, "subscription": str(followed.id)}
    )
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Subscription, followed.id).unsubscribed_at is not None  # type: ignore[union-attr]
    # Someone else's subscription cannot be unsubscribed through Anna's link.
    refused = client.post(
        f"{path}/unsubscribe", data={"csrf_token": token, "subscription": str(other.id)}
    )
    assert refused.status_code == 404

    deleted = client.post(f"{path}/delete", data={"csrf_token": token})
    assert deleted.status_code == 200
    session.expire_all()
    assert session.scalars(select(Subscription.email)).all() == ["ben@example.org"]
    assert session.scalar(select(func.count(SubscriptionCall.id))) == 0
    assert "Keine Abonnements" in _text(client.get(path))


def test_asking_for_the_manage_link_says_the_same_for_any_address(
    client: FlaskClient, session: Session
) -> None:
    subscribe(session, email="anna@example.org", kind="search", frequency="weekly", language="de")
    session.commit()
    pages = []
    for email in ("anna@example.org", "nobody@example.org"):
        token = csrf_token(client, "/subscriptions/manage")
        response = client.post("/subscriptions/manage", data={"csrf_token": token, "email": email})
        assert response.status_code == 200
        pages.append(_text(response).replace(token, ""))
    assert pages[0] == pages[1]
    [message] = _messages(session)
    assert message.kind == "manage" and message.period.startswith("manage ")
    assert message.recipient == "anna@example.org"
    assert client.get(_link(message, "manage")).status_code == 200


def test_subscribing_again_when_confirmed_sends_the_manage_link_instead(
    client: FlaskClient, session: Session
) -> None:
    _post_search(client)
    client.get(_link(_messages(session)[0], "confirm"))
    response = _post_search(client)
    assert response.headers["Location"].endswith("/subscriptions/pending")
    _confirm_mail, manage_mail = _messages(session)
    assert manage_mail.period.startswith("manage ")
    assert "/subscriptions/manage/" in manage_mail.body_text


def test_dismiss_asks_on_get_and_dismisses_on_post(client: FlaskClient, session: Session) -> None:
    call = make_call(session, title="Quantum sensing")
    sub = subscribe(
        session, email="anna@example.org", kind="search", frequency="weekly", language="de"
    )
    session.commit()
    path = f"/subscriptions/dismiss/{sign(SECRET, 'dismiss', {'s': sub.id, 'c': call.id})}"
    page = client.get(path)
    assert page.status_code == 200 and "Quantum sensing" in _text(page)
    assert session.scalar(select(func.count(SubscriptionCall.id))) == 0
    done = client.post(path, data={"csrf_token": csrf_token(client, path)})
    assert done.status_code == 200
    session.expire_all()
    assert session.scalar(select(SubscriptionCall.dismissed_at)) is not None
    assert client.get(path + "x").status_code == 400


def test_a_signed_in_desk_dismissal_on_a_profile_subscription_marks_the_review(
    client: FlaskClient, session: Session
) -> None:
    profile = make_profile(session, "jugendzentrum")
    call = make_call(session)
    desk = add_user(session)
    sub = subscribe(
        session,
        email=desk.email,
        kind="profile",
        profile_id=profile.id,
        frequency="weekly",
        language="de",
        confirmed=True,
    )
    session.commit()
    path = f"/subscriptions/dismiss/{sign(SECRET, 'dismiss', {'s': sub.id, 'c': call.id})}"
    assert "zählt nur als Ihre Ablehnung" in _text(client.get(path))
    login(client, desk.email)
    assert "Rangfolge" in _text(client.get(path))
    client.post(path, data={"csrf_token": csrf_token(client, path)})
    session.expire_all()
    assert session.scalar(select(Review.status)) == "not_relevant"


def test_following_a_call_from_its_page(client: FlaskClient, session: Session) -> None:
    call = make_call(session, title="Town twinning")
    session.commit()
    page = _text(client.get(f"/calls/{call.id}"))
    assert f'action="/subscriptions/call/{call.id}"' in page
    token = csrf_token(client, f"/calls/{call.id}")
    response = client.post(
        f"/subscriptions/call/{call.id}",
        data={"csrf_token": token, "email": "anna@example.org", "mail_language": "en"},
    )
    assert response.status_code == 302
    sub = _only(session)
    assert (sub.kind, sub.call_id, sub.frequency) == ("call", call.id, "immediate")
    assert sub.language == "en"
    assert "Town twinning" in _messages(session)[0].body_text
    assert client.post("/subscriptions/call/999999", data={"csrf_token": token}).status_code == 404


def test_a_wrong_address_is_shown_at_its_field(client: FlaskClient, session: Session) -> None:
    response = _post_search(client, email="anna-at-example.org")
    assert response.status_code == 400
    page = _text(response)
    assert 'aria-describedby="subscribe-email-error"' in page
    assert 'id="subscribe-email-error"' in page
    assert '<input type="hidden" name="q" value="Jugendaustausch">' in page
    assert _messages(session) == []


def test_profile_subscriptions_are_for_those_who_may_read_the_profile(
    client: FlaskClient, session: Session
) -> None:
    make_profile(session, "jugendzentrum", department="Jugend")
    add_user(session, "staff@example.org", "staff", name="Sam", department="Kultur")
    add_user(session, "desk@example.org", "desk")
    path = "/subscriptions/new?profile=jugendzentrum"
    assert client.get(path).status_code == 302, "sign in first"
    login(client, "staff@example.org")
    assert client.get(path).status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, "desk@example.org")
    form = client.get(path)
    assert 'value="desk@example.org"' in _text(form)
    assert client.get("/subscriptions/new?profile=nope").status_code == 404
    response = client.post(
        path,
        data={
            "csrf_token": csrf_token(client, path),
            "email": "desk@example.org",
            "frequency": "daily",
            "mail_language": "de",
        },
    )
    assert response.status_code == 302
    sub = _only(session)
    assert (sub.kind, sub.frequency, sub.user_id is not None) == ("profile", "daily", True)


def test_subscribing_is_rate_limited_per_remote_address(
    client: FlaskClient, session: Session
) -> None:
    limit = int(SUBSCRIBE_PER_ADDRESS.split()[0])
    for n in range(limit):
        assert _post_search(client, f"person{n}@example.org").status_code == 302
    assert _post_search(client, "one-more@example.org").status_code == 429


def test_an_erased_subscribers_old_links_do_not_act_on_a_reused_id(
    client: FlaskClient, session: Session
) -> None:
    with time_machine.travel(START, tick=False):
        old = subscribe(
            session, email="mallory@example.org", kind="search", frequency="weekly", language="de"
        )
        session.commit()
        confirm_token = sign(SECRET, "confirm", {"s": old.id})
        unsubscribe_token = sign(SECRET, "unsubscribe", {"s": old.id})
        delete_everything_of(session, "mallory@example.org")
        session.commit()
    with time_machine.travel(START + timedelta(minutes=5), tick=False):
        new = subscribe(
            session, email="anna@example.org", kind="search", frequency="weekly", language="de"
        )
        session.commit()
        assert client.get(f"/subscriptions/confirm/{confirm_token}").status_code == 404
        one_click = {"List-Unsubscribe": "One-Click"}
        client.post(f"/subscriptions/unsubscribe/{unsubscribe_token}", data=one_click)
    session.expire_all()
    fresh = session.get(Subscription, new.id)
    assert fresh is not None and fresh.confirmed_at is None and fresh.unsubscribed_at is None
