"""The admin's mail page: only administrators see which addresses get no mail and why (the
server's reason, what was held back, the failed messages), and lift a suppression through a
CSRF-protected form; lifting lets new mail out and resends nothing old."""

from __future__ import annotations

import html
import logging
import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Notification, Subscription, SuppressedAddress, User, utcnow
from storage.outbox import enqueue, is_suppressed, mark_failed
from tests.webui.logins import add_user, csrf_token, login

REFUSAL = "550 5.1.1 <gone@verein.example>: Recipient address rejected: no such user"


def _subscription(session: Session, email: str) -> Subscription:
    subscription = Subscription(email=email, kind="search", query={"q": "Jugend"},
                                confirmed_at=utcnow())  # fmt: skip
    session.add(subscription)
    session.flush()
    return subscription


@pytest.fixture
def bounced(session: Session) -> Notification:
    """A digest refused for good: it failed and its address is suppressed; one more digest
    was held back since."""
    subscription = _subscription(session, "Gone@Verein.example")
    message = enqueue(session, subscription, kind="digest", period="2026-W49",
                      subject="Neue Förderaufrufe für Sie", body_text="t")  # fmt: skip
    assert message is not None
    mark_failed(session, message, REFUSAL)
    enqueue(session, subscription, kind="digest", period="2026-W50", subject="s", body_text="t")
    session.commit()
    return message


def _suppression(session: Session, email: str = "gone@verein.example") -> SuppressedAddress:
    return session.scalars(select(SuppressedAddress).where(SuppressedAddress.email == email)).one()


def _lift_form(page: str, address_id: int) -> tuple[str, str]:
    """The action and the CSRF token of the lift button in an address's row."""
    row = re.search(rf'<tr id="suppressed-{address_id}".*?</tr>', page, re.S)
    assert row, f"no row for suppressed address {address_id}"
    form = re.search(r'<form method="post" action="([^"]+)">\s*<input[^>]*name="csrf_token"'
                     r'[^>]*value="([^"]+)"', row.group(0))  # fmt: skip
    assert form, "the row has no lift form with a CSRF token"
    return html.unescape(form.group(1)), form.group(2)


def test_anonymous_visitors_are_sent_to_the_login(
    client: FlaskClient, session: Session, bounced: Notification
) -> None:
    address = _suppression(session)
    for response in (
        client.get("/admin/mail"),
        client.post(
            f"/admin/mail/suppressed/{address.id}/lift",
            data={"csrf_token": csrf_token(client, "/")},
        ),
    ):
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")
    assert is_suppressed(session, "gone@verein.example")


@pytest.mark.parametrize("role", ["desk", "staff"])
def test_desk_and_staff_get_403_and_cannot_lift(
    client: FlaskClient, session: Session, bounced: Notification, role: str
) -> None:
    address = _suppression(session)
    add_user(session, f"{role}@example.org", role)
    login(client, f"{role}@example.org")
    page = client.get("/admin/mail")
    assert page.status_code == 403
    assert "gone@verein.example" not in page.get_data(as_text=True)
    assert "/admin/mail" not in client.get("/").get_data(as_text=True)  # no link either
    lift = client.post(f"/admin/mail/suppressed/{address.id}/lift",
                       data={"csrf_token": csrf_token(client, "/")})  # fmt: skip
    assert lift.status_code == 403
    assert is_suppressed(session, "gone@verein.example")


def test_the_page_shows_the_suppressed_address_its_reason_and_the_failed_message(
    client: FlaskClient, session: Session, admin: User, bounced: Notification
) -> None:
    response = client.get("/admin/mail")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    address = _suppression(session)
    row = re.search(rf'<tr id="suppressed-{address.id}".*?</tr>', page, re.S)
    assert row
    assert "gone@verein.example" in row.group(0)
    assert html.escape(REFUSAL) in row.group(0)
    assert "1 message" in row.group(0) and "<time datetime=" in row.group(0)
    failed = re.search(rf'<tr id="message-{bounced.id}".*?</tr>', page, re.S)
    assert failed
    assert "Gone@Verein.example" in failed.group(0)
    assert "Digest: Neue Förderaufrufe für Sie" in failed.group(0)
    assert html.escape(REFUSAL) in failed.group(0) and "<time datetime=" in failed.group(0)
    # The outbox by state: one failed, one held back.
    assert re.search(r"<dt>Failed</dt>\s*<dd><strong>1</strong>", page)
    assert re.search(r"<dt>Held back</dt>\s*<dd><strong>1</strong>", page)
    # Beside the users page in the navigation, and the current one of the two.
    assert re.search(r'href="/admin/users">Users</a>\s*<a href="/admin/mail" '
                     r'aria-current="page">Mail</a>', page)  # fmt: skip
    assert page.count('aria-current="page"') == 1
    assert "<script" not in page and "style=" not in page


def test_an_empty_outbox_says_so(client: FlaskClient, admin: User) -> None:
    page = client.get("/admin/mail").get_data(as_text=True)
    assert "No address is suppressed" in page and "No message has failed." in page


def test_the_search_finds_an_address_in_any_case(
    client: FlaskClient, session: Session, admin: User, bounced: Notification
) -> None:
    _subscription(session, "anna@example.org")
    from storage.outbox import suppress

    suppress(session, "anna@example.org", "554 spam")
    session.commit()
    everyone = client.get("/admin/mail").get_data(as_text=True)
    assert "anna@example.org" in everyone and "gone@verein.example" in everyone
    found = client.get("/admin/mail?q=VEREIN").get_data(as_text=True)
    assert "gone@verein.example" in found and "anna@example.org" not in found
    assert "Only addresses containing “VEREIN”." in found
    none = client.get("/admin/mail?q=nobody").get_data(as_text=True)
    assert "No suppressed address contains “nobody”." in none
    assert client.get("/admin/mail?q=" + "x" * 400).status_code == 400


def test_lifting_through_the_form_lets_new_mail_out_and_resends_nothing_old(
    client: FlaskClient,
    session: Session,
    admin: User,
    bounced: Notification,
    caplog: pytest.LogCaptureFixture,
) -> None:
    address = _suppression(session)
    action, token = _lift_form(client.get("/admin/mail?q=gone").get_data(as_text=True),
                               address.id)  # fmt: skip
    assert action == f"/admin/mail/suppressed/{address.id}/lift?q=gone"
    with caplog.at_level(logging.INFO, logger="webui.admin.routes"):
        response = client.post(action, data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/mail?q=gone"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "gone@verein.example gets new mail again" in page
    assert "No suppressed address contains “gone”." in page
    assert "lifted by admin@example.org" in caplog.text  # who did it

    session.expire_all()
    assert not is_suppressed(session, "gone@verein.example")
    states = session.scalars(select(Notification.state).order_by(Notification.id)).all()
    assert states == ["failed", "suppressed"]  # nothing old goes out again
    new = enqueue(session, bounced.subscription, kind="digest", period="2026-W51",
                  subject="s", body_text="t")  # fmt: skip
    assert new is not None and new.state == "pending"


def test_lifting_an_address_that_is_not_suppressed_says_so(
    client: FlaskClient, session: Session, admin: User, bounced: Notification
) -> None:
    address = _suppression(session)
    action, token = _lift_form(client.get("/admin/mail").get_data(as_text=True), address.id)
    assert client.post(action, data={"csrf_token": token}).status_code == 302
    again = client.post(action, data={"csrf_token": token}, follow_redirects=True)  # twice
    assert again.status_code == 200
    assert "This address is not suppressed (any more)" in again.get_data(as_text=True)
    never = client.post("/admin/mail/suppressed/999999/lift", data={"csrf_token": token},
                        follow_redirects=True)  # fmt: skip
    assert never.status_code == 200
    assert "This address is not suppressed (any more)" in never.get_data(as_text=True)


def test_lifting_needs_the_csrf_token(
    client: FlaskClient, session: Session, admin: User, bounced: Notification
) -> None:
    address = _suppression(session)
    assert client.post(f"/admin/mail/suppressed/{address.id}/lift").status_code == 400
    wrong = client.post(f"/admin/mail/suppressed/{address.id}/lift",
                        data={"csrf_token": "forged"})  # fmt: skip
    assert wrong.status_code == 400
    assert is_suppressed(session, "gone@verein.example")
