"""Amounts in euro and funding rates, German and English."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.normalize import NormalizationError
from crawler.normalize.money import (
    find_budget_phrase,
    find_grant_phrase,
    parse_amount_eur,
    parse_amount_range,
    parse_funding_rate,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("€ 450.000", 450_000),
        ("€ 450,000", 450_000),
        ("EUR 1.5 million", 1_500_000),
        ("bis zu 50.000 Euro", 50_000),
        ("max. 50.000 €", 50_000),
        ("1,5 Mio. Euro", 1_500_000),
        ("EUR 150.000", 150_000),
        ("maximal EUR 150.000", 150_000),
        ("1.234.567,89 EUR", 1_234_568),
        ("EUR 120 million", 120_000_000),
        ("€850k", 850_000),
        ("60 M€", 60_000_000),
        ("2 Mrd. Euro", 2_000_000_000),
        ("450 000 €", 450_000),
        ("1.000–20.000 €", 20_000),
        ("zwischen 1.000 und 20.000 Euro", 20_000),
        ("170760699", 170_760_699),  # SEDIA budgetYearMap values are bare strings
        (450_000, 450_000),
        (1.5e6, 1_500_000),
        (None, None),
        ("", None),
        ("keine Angabe", None),
        ("bis zu 45 Prozent", None),
        ("USD 50,000", None),
    ],
)
def test_parse_amount_eur(raw: object, expected: int | None) -> None:
    assert parse_amount_eur(raw) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1.000–20.000 €", (1_000, 20_000)),
        ("zwischen 50.000 und 250.000 Euro", (50_000, 250_000)),
        ("bis zu 50.000 Euro", (None, 50_000)),
        ("ab 5.000 €", (5_000, None)),
        ("mindestens 5.000 Euro", (5_000, None)),
        ("1,5 bis 2 Mio. €", (1_500_000, 2_000_000)),
        ("", (None, None)),
        (None, (None, None)),
    ],
)
def test_parse_amount_range(raw: str | None, expected: tuple[int | None, int | None]) -> None:
    assert parse_amount_range(raw) == expected


@pytest.mark.parametrize("raw", [True, -5, float("nan"), float("inf"), 10**16, object()])
def test_impossible_amounts_are_normalization_errors(raw: object) -> None:
    with pytest.raises(NormalizationError):
        parse_amount_eur(raw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("bis zu 45 Prozent", 45.0),
        ("70 %", 70.0),
        ("up to 80%", 80.0),
        ("bis zu 55 % in SER-Gebieten, bis zu 70 % in ÜR-Gebieten", 70.0),
        ("Förderquote 62,5 %", 62.5),
        ("60 v. H.", 60.0),
        (90, 90.0),
        (0.8, 80.0),
        ("nicht angegeben", None),
        (None, None),
    ],
)
def test_parse_funding_rate(raw: object, expected: float | None) -> None:
    assert parse_funding_rate(raw) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", [150, -1, True])
def test_rates_outside_0_to_100_are_errors(raw: object) -> None:
    with pytest.raises(NormalizationError):
        parse_funding_rate(raw)  # type: ignore[arg-type]


def _german(value: int) -> str:
    return f"{value:,}".replace(",", ".")


_STYLES = [
    lambda v: f"€ {_german(v)}",
    lambda v: f"bis zu {_german(v)} Euro",
    lambda v: f"max. {_german(v)} €",
    lambda v: f"EUR {v:,}",
    lambda v: f"{v:,} EUR",
    lambda v: f"EUR {v}",
    lambda v: str(v),
]


@given(value=st.integers(min_value=0, max_value=10**12), style=st.sampled_from(_STYLES))
def test_amounts_round_trip(value: int, style) -> None:  # type: ignore[no-untyped-def]
    assert parse_amount_eur(style(value)) == value


@given(millions=st.integers(min_value=1, max_value=9999), tenths=st.integers(0, 9))
def test_millions_with_decimals_round_trip(millions: int, tenths: int) -> None:
    expected = millions * 1_000_000 + tenths * 100_000
    assert parse_amount_eur(f"{millions},{tenths} Mio. Euro") == expected
    assert parse_amount_eur(f"EUR {millions}.{tenths} million") == expected


@given(st.one_of(st.text(max_size=60), st.integers(), st.floats(), st.none()))
def test_random_input_raises_nothing_but_normalization_error(raw: object) -> None:
    for parse in (parse_amount_eur, parse_funding_rate):
        try:
            result = parse(raw)  # type: ignore[arg-type]
        except NormalizationError:
            continue
        assert result is None or result >= 0


@pytest.mark.parametrize(
    ("text", "grant", "budget"),
    [
        (
            "Indicative budget EUR 60 million; up to 80 % and up to EUR 5 million per project.",
            "up to EUR 5 million",
            "budget EUR 60 million",
        ),
        ("Networks of up to 9 partners, up to EUR 850,000 each.", "up to EUR 850,000", None),
        ("Zuschüsse bis zu 20.000 Euro; Gesamtbudget 2 Mio. Euro.", "bis zu 20.000 Euro", None),
        ("No money named here, up to 3 partners.", None, None),
    ],
)
def test_amount_phrases_in_prose(text: str, grant: str | None, budget: str | None) -> None:
    assert find_grant_phrase(text) == grant
    if budget is not None:
        assert find_budget_phrase(text) == budget
