"""Money as calls write it in prose, German and English: the grant per project, the total
budget and the funding rate, told apart by the words around each figure; and the EU
``budgetOverview`` per action."""

from __future__ import annotations

import pytest

from crawler.normalize.money import MoneyInText, find_grant_phrase, read_money
from crawler.spiders.eu_funding_tenders import topic_budget


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        # German
        ("Fördersumme: bis zu 50.000 Euro", None, 50_000),
        ("Die Förderung beträgt zwischen 5.000 und 20.000 €.", 5_000, 20_000),
        ("Gefördert wird mit maximal 1 Mio. Euro je Vorhaben.", None, 1_000_000),
        ("Zuschüsse ab 5.000 € werden gewährt.", 5_000, None),
        ("Nakopa fördert Projekte mit 50.000 bis 250.000 Euro.", 50_000, 250_000),
        (
            "Gefördert werden Projekte mit 1.000 bis 20.000 Euro, Begegnungsprojekte mit bis"
            " zu 50.000 Euro.",
            1_000,
            50_000,
        ),
        ("Sie erhalten die Förderung als stille Beteiligung bis zu EUR 140.000.", None, 140_000),
        ("Der Zuschuss beträgt 1,5 bis 2 Mio. €.", 1_500_000, 2_000_000),
        # English
        ("The lump sum is EUR 60 000 per project.", None, 60_000),
        ("Grants of up to €2 million are available.", None, 2_000_000),
        ("Budget per network up to EUR 850,000.", None, 850_000),
        (
            "The Commission estimates that an EU contribution of between EUR 3.00 and 4.00"
            " million would allow these outcomes to be addressed appropriately.",
            3_000_000,
            4_000_000,
        ),
        (
            "proposals requesting a contribution from the EU of a range of EUR 1 to 1.5 million"
            " would allow the specific objectives to be addressed",
            1_000_000,
            1_500_000,
        ),
        ("Advanced Grants may be awarded up to a maximum of EUR 2 500 000.", None, 2_500_000),
        ("The requested funding cannot exceed EUR 15 000 000.", None, 15_000_000),
    ],
)
def test_grant_range_in_prose(text: str, low: int | None, high: int | None) -> None:
    money = read_money(text)
    assert (money.grant_min_eur, money.grant_max_eur) == (low, high)


@pytest.mark.parametrize(
    "text",
    [
        "The maximum amount to be granted to each third party is EUR 60 000.",
        "Unternehmen mit einem Jahresumsatz bis zu 50 Mio. EUR werden gefördert.",
        "Antragsberechtigt sind Unternehmen mit einer Bilanzsumme von höchstens 43 Mio. Euro.",
        "a contribution of EUR 1 million to the MSCA Postdoctoral Fellowships call",
        "Additional funding up to EUR 1 000 000 can be requested for major equipment.",
        "risk capital investments below EUR 1 000 000 in social enterprises",
        "Networks of up to 9 partners.",
        "EUR 60 000",  # a figure alone says nothing about what it is
        "Der Eigenanteil beträgt mindestens 5.000 Euro.",
    ],
)
def test_money_about_something_else_is_no_grant(text: str) -> None:
    money = read_money(text)
    assert (money.grant_min_eur, money.grant_max_eur) == (None, None)


@pytest.mark.parametrize(
    ("text", "budget"),
    [
        ("Indicative budget: EUR 9 000 000 for this topic under the EDF-2026-DA call.", 9 * 10**6),
        (
            "Indicative budget: EUR 100 000 000 for this topic and EUR 2 000 000 for the"
            " remuneration of the entrusted entity.",
            100_000_000,
        ),
        ("The total indicative budget for the topic is EUR 7.00 million.", 7_000_000),
        ("With an indicative budget of EUR 120 million ERDF, the second Call …", 120_000_000),
        ("Das Fördervolumen beträgt insgesamt 2 Mio. Euro.", 2_000_000),
        ("Für den Aufruf stehen Haushaltsmittel in Höhe von 5 Millionen Euro zur Verfügung.", 5e6),
        ("Budget per network up to EUR 850,000.", None),  # a grant, not a budget
        ("A detailed budget table is mandatory.", None),
        (
            "The solutions may use financial support to third parties, with a maximum budget"
            " of EUR 100 000.",
            None,
        ),
    ],
)
def test_total_budget_in_prose(text: str, budget: float | None) -> None:
    assert read_money(text).budget_eur == budget


def test_budget_and_grant_in_one_text_are_told_apart() -> None:
    text = "Indicative budget EUR 60 million; co-financing up to 80 %, EUR 5 million per project."
    assert read_money(text) == MoneyInText(
        grant_max_eur=5_000_000, budget_eur=60_000_000, funding_rate=80.0
    )


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("Förderquote 90 %", 90.0),
        ("Förderquote: bis zu 70 %", 70.0),
        ("Zuschuss von bis zu 80 Prozent der zuwendungsfähigen Ausgaben", 80.0),
        ("Die Förderquote beträgt bis zu 90 Prozent.", 90.0),
        ("Unsere Förderleistungen: bis zu 55 % in SER-Gebieten, bis zu 70 % in ÜR-Gebieten", 70.0),
        ("with a co-financing rate of 80%", 80.0),
        ("The funding rate is 70 % of the eligible costs.", 70.0),
        (
            "The funding rate is 60% of the eligible costs, except for non-profit legal"
            " entities, where the funding rate is up to 100%.",
            100.0,
        ),
        ("ERDF up to 80 %, max €5 M per project", 80.0),
        ("Funding rateOther Action Grants (OAGs) — 95%", 95.0),
        # not a funding rate
        ("At least 30% of the beneficiaries must be legal entities established in …", None),
        ("targets (78% employment rate, 60% of population with yearly training)", None),
        ("These costs may not exceed 20% of the total eligible costs of the project.", None),
        ("Principal Investigators funded must spend a minimum of 50% of their working time", None),
        (
            "between 10% and 25% of the EU contribution through financial support to third parties",
            None,
        ),
        ("30% co-funding to be covered by the beneficiary through its own resources", None),
        ("Der Frauenanteil soll 50 % betragen.", None),
    ],
)
def test_funding_rate_in_prose(text: str, rate: float | None) -> None:
    assert read_money(text).funding_rate == rate


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        (
            "Zuschüsse von 1.000 bis 20.000 Euro (bei Begegnungsprojekten bis zu 50.000 Euro)"
            " für Kommunalverwaltungen; Förderquote bis zu 90 Prozent.",
            "1.000 bis 20.000 Euro (bei Begegnungsprojekten bis zu 50.000 Euro)",
        ),
        (
            "Projekte mit 50.000 bis 250.000 Euro. Zweistufiges Verfahren.",
            "50.000 bis 250.000 Euro",
        ),
        ("Cities transfer a good practice. Up to EUR 600,000 per network.", "Up to EUR 600,000"),
        ("Unternehmen mit einem Jahresumsatz bis zu 50 Mio. EUR", None),
        ("", None),
    ],
)
def test_grant_phrase_keeps_the_range(text: str, phrase: str | None) -> None:
    assert find_grant_phrase(text) == phrase


def _overview(*entries: dict) -> dict:
    return {"budgetYearsColumns": ["2026"], "budgetTopicActionMap": {"1": list(entries)}}


@pytest.mark.parametrize(
    ("overview", "expected"),
    [
        (  # one action: its range, its grants, its budget summed over the years
            _overview(
                {"action": "T-01 - HORIZON-RIA", "minContribution": 2_000_000,
                 "maxContribution": 3_000_000, "expectedGrants": 4,
                 "budgetYearMap": {"2026": "5000000", "2027": "7000000"}},
            ),
            {"budget": 12_000_000, "min": 2_000_000, "max": 3_000_000, "expected": 4},
        ),
        (  # two actions of one topic: the range spans both, grants add up
            _overview(
                {"action": "T-01 - HORIZON-RIA", "minContribution": 3_000_000,
                 "maxContribution": 4_000_000, "expectedGrants": 2, "budgetYearMap": {}},
                {"action": "T-01 - HORIZON-IA", "minContribution": "1000000",
                 "maxContribution": "6000000", "expectedGrants": 1, "budgetYearMap": {}},
            ),
            {"budget": None, "min": 1_000_000, "max": 6_000_000, "expected": 3},
        ),
        (  # 0 means "not stated"; a sibling topic's action is not ours
            _overview(
                {"action": "T-01 - CERV-LS", "minContribution": 0, "maxContribution": 60_000,
                 "expectedGrants": 0, "budgetYearMap": {"2026": "900000"}},
                {"action": "T-02 - CERV-LS", "minContribution": 1, "maxContribution": 9,
                 "budgetYearMap": {"2026": "100"}},
            ),
            {"budget": 900_000, "min": None, "max": 60_000, "expected": None},
        ),
        (  # the pot every sibling repeats is the call's, not this topic's
            _overview(
                {"action": "T-01 - JU-RIA", "budgetYearMap": {"2026": "170760699"}},
                {"action": "T-02 - JU-RIA", "budgetYearMap": {"2026": "170760699"}},
            ),
            {"budget": None, "min": None, "max": None, "expected": None},
        ),
        (None, {"budget": None, "min": None, "max": None, "expected": None}),
    ],
)  # fmt: skip
def test_budget_overview_per_action(overview: dict | None, expected: dict) -> None:
    assert topic_budget("T-01", overview) == expected
