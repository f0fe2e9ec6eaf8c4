"""Applicant terms of every source onto the one vocabulary."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.normalize.applicants import infer_applicants, map_applicants, unmapped_terms
from storage.models import APPLICANT_TYPES


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        # Förderdatenbank display labels and raw codes
        ("Kommune", ["municipality"]),
        ("kommune", ["municipality"]),
        ("Verband/Vereinigung", ["ngo"]),
        ("verband_vereinigung", ["ngo"]),
        ("Öffentliche Einrichtung", ["public_body"]),
        ("oeffentliche_einrichtung", ["public_body"]),
        ("Unternehmen", ["company"]),
        ("Existenzgründer/in", ["company"]),
        ("existenzgruenderin", ["company"]),
        ("Hochschule", ["research"]),
        ("Forschungseinrichtung", ["research"]),
        ("Bildungseinrichtung", ["education"]),
        ("Privatperson", ["individual"]),
        # German prose terms
        ("Kommunen und deren Zusammenschlüsse", ["municipality"]),
        ("freie gemeinnützige Organisationen", ["ngo"]),
        # English
        ("local authorities", ["municipality"]),
        ("non-profit organisations", ["ngo"]),
        ("SMEs", ["company"]),
        ("universities", ["research"]),
        ("schools", ["education"]),
        ("natural persons", ["individual"]),
        ("public bodies", ["public_body"]),
    ],
)
def test_map_applicants_maps_each_vocabulary(term: str, expected: list[str]) -> None:
    assert map_applicants([term]) == expected


def test_map_applicants_splits_joined_labels_and_keeps_vocabulary_order() -> None:
    assert map_applicants(["Forschungseinrichtung, Hochschule", "Kommune", "Kommune"]) == [
        "municipality",
        "research",
    ]


def test_unknown_terms_are_ignored_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="crawler.normalize.applicants"):
        assert map_applicants(["Sonstige", "Kommune"]) == ["municipality"]
    assert "Sonstige" in caplog.text
    assert unmapped_terms(["Sonstige", "Kommune"]) == ["Sonstige"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Towns/municipalities or their twinning committees or other non-profit "
            "organisations representing local authorities",
            ["municipality", "ngo"],
        ),
        (
            "Proposals may be submitted by public bodies, universities and SMEs.",
            ["public_body", "company", "research"],
        ),
        (
            "Antragsberechtigt sind Kommunen, Vereine und Bildungseinrichtungen.",
            ["municipality", "ngo", "education"],
        ),
        ("Legal entities established in an EU Member State.", []),
        ("", []),
    ],
)
def test_infer_applicants_from_prose(text: str, expected: list[str]) -> None:
    assert infer_applicants(text) == expected


@given(st.lists(st.text(max_size=30), max_size=5))
def test_results_are_always_from_the_vocabulary(terms: list[str]) -> None:
    mapped = map_applicants(terms)
    assert set(mapped) <= set(APPLICANT_TYPES)
    assert len(mapped) == len(set(mapped))
    assert set(infer_applicants(" ".join(terms))) <= set(APPLICANT_TYPES)
