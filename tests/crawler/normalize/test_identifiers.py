"""Short identifiers for calls their source knows only by an address."""

from __future__ import annotations

import pytest

from crawler.normalize.identifiers import short_identifier


@pytest.mark.parametrize(
    ("source_id", "identifier"),
    [
        # the source's own ids stay as they are
        ("HORIZON-CL6-2026-01-BIODIV-04", "HORIZON-CL6-2026-01-BIODIV-04"),
        ("EuropeAid/186246/DD/ACT/NG", "EuropeAid/186246/DD/ACT/NG"),
        # addresses: a fragment naming one offer, an id parameter, the path's slug
        (
            "https://www.aktion-mensch.de/foerderung/angebote/foerderfinder#mikroprojekte",
            "mikroprojekte",
        ),
        ("https://www2.fundsforngos.org/?p=100001", "100001"),
        ("https://skew.engagement-global.de/kleinprojektefonds.html", "kleinprojektefonds"),
        ("https://urbact.eu/calls/call-action-planning-networks", "call-action-planning-networks"),
        ("https://www.dbu.de/foerderung/index.html", "foerderung"),
        (
            "https://www.nbank.de/F%C3%B6rderprogramme/Aktuelle-F%C3%B6rderprogramme/Resiliente-Innenst%C3%A4dte.html",
            "resiliente-innenstädte",
        ),
        ("https://example.org/", "example.org"),
        ("https://example.org/" + "-".join(["word"] * 40), "-".join(["word"] * 16)),
    ],
)
def test_short_identifier(source_id: str, identifier: str) -> None:
    assert short_identifier(source_id) == identifier
    assert len(short_identifier(source_id)) <= 80
