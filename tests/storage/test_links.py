"""Signed links: they round-trip, and a tampered, expired or re-purposed link is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from storage.links import BadLink, call_url, link, sign, unsign

SECRET = "test-secret-key"


def test_a_link_carries_its_payload_to_the_web_app() -> None:
    url = link("https://foerder.example/", SECRET, "unsubscribe", {"s": 42})
    assert url.startswith("https://foerder.example/subscriptions/unsubscribe/")
    token = url.rsplit("/", 1)[1]
    assert unsign(SECRET, "unsubscribe", token) == {"s": 42}
    assert call_url("https://foerder.example/", 7) == "https://foerder.example/calls/7"


def test_a_tampered_token_or_another_key_is_refused() -> None:
    token = sign(SECRET, "unsubscribe", {"s": 42})
    other_payload = sign(SECRET, "unsubscribe", {"s": 43}).split(".")[0]
    forged = ".".join([other_payload, *token.split(".")[1:]])  # s=43 under s=42's signature
    # A changed first character of the signature (the last one may carry only padding bits,
    # which base64 ignores, so changing it can leave the signature the same).
    head, _, signature = token.rpartition(".")
    tampered = f"{head}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"
    for bad in (forged, tampered):
        with pytest.raises(BadLink):
            unsign(SECRET, "unsubscribe", bad)
    with pytest.raises(BadLink):
        unsign("another-installation", "unsubscribe", token)


def test_a_token_works_only_for_its_purpose() -> None:
    token = sign(SECRET, "dismiss", {"s": 1, "c": 2})
    with pytest.raises(BadLink):
        unsign(SECRET, "unsubscribe", token)


def test_a_confirmation_link_expires_after_a_week_an_unsubscribe_link_never() -> None:
    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        confirm = sign(SECRET, "confirm", {"s": 3})
        unsubscribe = sign(SECRET, "unsubscribe", {"s": 3})
    with time_machine.travel(start + timedelta(days=6), tick=False):
        assert unsign(SECRET, "confirm", confirm) == {"s": 3}
    with time_machine.travel(start + timedelta(days=8), tick=False):
        with pytest.raises(BadLink) as refused:
            unsign(SECRET, "confirm", confirm)
        assert refused.value.expired
    with time_machine.travel(start + timedelta(days=800), tick=False):
        assert unsign(SECRET, "unsubscribe", unsubscribe) == {"s": 3}
