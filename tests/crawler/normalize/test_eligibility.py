"""Who may apply, with whom, from where: every rule alone, every stated-text pattern in German
and English, consortium and country phrases, and the decision that combines them."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from crawler.normalize.eligibility import (
    Consortium,
    Topic,
    decide_eligibility,
    load_rules,
    match_rule,
    parse_consortium,
    parse_countries,
    stated_applicants,
)
from storage.models import APPLICANT_TYPES

ANY_LEGAL = ["municipality", "public_body", "ngo", "company", "research", "education"]
PUBLIC_OR_NON_PROFIT = ["municipality", "public_body", "ngo", "research", "education"]

# One fake topic per rule, and who the programme's documents say may apply.
RULE_CASES = [
    ("horizon-erc", Topic("ERC-2027-STG", type_of_action="HORIZON ERC Grants"),
     ["research", "individual"]),
    ("horizon-eic-accelerator", Topic("HORIZON-EIC-2026-ACCELERATOR-01"),
     ["company", "individual"]),
    ("horizon-eic-equity-only", Topic("HORIZON-EIC-2026-DEFENCE-01",
                                      type_of_action="HORIZON EIC Equity Only"), ["company"]),
    ("horizon-eic-pathfinder-open", Topic("HORIZON-EIC-2026-PATHFINDEROPEN-01"), ANY_LEGAL),
    ("horizon-eic-pathfinder-challenges",
     Topic("HORIZON-EIC-2026-PATHFINDERCHALLENGES-01-02"), ANY_LEGAL),
    ("horizon-eic-transition", Topic("HORIZON-EIC-2026-TRANSITIONOPEN"), ["company", "research"]),
    ("horizon-eic", Topic("HORIZON-EIC-2026-BOOSTER-01"), ANY_LEGAL),
    ("horizon-msca-postdoctoral-fellowships",
     Topic("HORIZON-WIDERA-2026-05-WIDENING-01",
           type_of_action="HORIZON TMA MSCA Postdoctoral Fellowships - European Fellowships"),
     [*ANY_LEGAL, "individual"]),
    ("horizon-msca-doctoral-networks",
     Topic("HORIZON-MSCA-2027-DN-01-01", type_of_action="HORIZON TMA MSCA Doctoral Networks"),
     ANY_LEGAL),
    ("horizon-msca-staff-exchanges",
     Topic("HORIZON-MSCA-2027-SE-01-01", type_of_action="HORIZON TMA MSCA Staff Exchanges"),
     ANY_LEGAL),
    ("horizon-msca-cofund",
     Topic("HORIZON-MSCA-2027-COFUND-01-01",
           type_of_action="HORIZON TMA MSCA Cofund Doctoral programme"), ANY_LEGAL),
    ("horizon-edctp3-prizes",
     Topic("HORIZON-JU-EDCTP3-2026-OUTSRESEARCHTEAMPRIZE",
           type_of_action="HORIZON Recognition Prize"),
     ["research", "individual"]),
    ("horizon-gender-equality-prizes",
     Topic("HORIZON-WIDERA-2026-GENDER-Prize-01", type_of_action="HORIZON Recognition Prize"),
     ["research", "education"]),
    ("horizon-pcp-ppi",
     Topic("HORIZON-CL3-2026-01-SSRI-02", type_of_action="HORIZON Pre-commercial Procurement"),
     ANY_LEGAL),
    ("euratom-cofund",
     Topic("HORIZON-EURATOM-2026-01-08", type_of_action="EURATOM Cofund Actions"),
     ["public_body", "research"]),
    ("euratom-csa",
     Topic("HORIZON-EURATOM-2026-01-03",
           type_of_action="EURATOM Coordination and Support Actions"), ANY_LEGAL),
    ("euratom-ria-ia",
     Topic("HORIZON-EURATOM-2026-01-01", type_of_action="EURATOM Research and Innovation Actions"),
     ANY_LEGAL),
    ("horizon-programme-cofund",
     Topic("HORIZON-HLTH-2026-02-DISEASE-12", type_of_action="HORIZON Programme Cofund Actions"),
     ["public_body", "research"]),
    ("horizon-csa",
     Topic("HORIZON-CL6-2026-01-CIRCBIO-02",
           type_of_action="HORIZON Coordination and Support Actions"), ANY_LEGAL),
    ("horizon-ria-ia",
     Topic("HORIZON-CL5-2026-09-D2-01", type_of_action="HORIZON  Research and Innovation Actions"),
     ANY_LEGAL),
    ("cerv-town-twinning", Topic("CERV-2026-CITIZENS-TOWN-TT", programme="CERV"),
     ["municipality", "ngo"]),
    ("cerv-networks-of-towns", Topic("CERV-2027-CITIZENS-TOWN-NT", programme="CERV"),
     ["municipality", "ngo"]),
    ("cerv", Topic("CERV-2026-DAPHNE-PREVENTION", programme="CERV"), PUBLIC_OR_NON_PROFIT),
    ("justice-transnational-action-grants", Topic("JUST-2027-JACC-EJUSTICE-DIGITAL"),
     PUBLIC_OR_NON_PROFIT),
    ("justice", Topic("JUST-2027-JTRA-OG"), PUBLIC_OR_NON_PROFIT),
    ("erasmus-centres-of-vocational-excellence", Topic("ERASMUS-EDU-2026-PEX-COVE"),
     ["public_body", "ngo", "company", "research", "education"]),
    ("erasmus", Topic("ERASMUS-SPORT-2026-EU-AWARDS-PEACE"), ANY_LEGAL),
    ("creative-europe-media-development", Topic("CREA-MEDIA-2026-DEVMINISLATE"), ["company"]),
    ("creative-europe", Topic("CREA-CULT-2026-COOP-1"), ANY_LEGAL),
    ("european-solidarity-corps", Topic("ESC-2026-VTHPA"), ANY_LEGAL),
    ("life-operating-grants", Topic("LIFE-2026-NGO-OG-FPA", programme="LIFE"), ["ngo"]),
    ("life-clean-energy-transition", Topic("LIFE-2026-CET-ENERPOV", programme="LIFE"), ANY_LEGAL),
    ("life-standard-and-technical-assistance", Topic("LIFE-2026-SAP-NAT-NATURE"), ANY_LEGAL),
    ("life", Topic("LIFE-2026-STRAT-NAT-SNAP-two-stage"), ANY_LEGAL),
    ("digital-europe", Topic("DIGITAL-2026-SKILLS-10-EDTECH"), ANY_LEGAL),
    ("connecting-europe-facility", Topic("CEF-T-2026-AFIFGEN-COSTS"),
     ["municipality", "public_body", "company"]),
    ("interregional-innovation-investments", Topic("I3-2026-INV1"), ANY_LEGAL),
    ("european-urban-initiative", Topic("eui-ia-4", programme="EUI Innovative Actions"),
     ["municipality"]),
    ("urbact", Topic("apn", programme="URBACT IV"), ["municipality", "public_body", "research"]),
    ("interreg", Topic("nsr-2026-1", programme="Interreg North Sea"), ANY_LEGAL),
    ("single-market-programme", Topic("SMP-FOOD-2026-FW-STAKEHOLDERS-PJ"), ANY_LEGAL),
    ("eu4health", Topic("EU4H-2026-PJ-03"), ANY_LEGAL),
    ("esf-plus-easi", Topic("ESF-2026-POW"), ANY_LEGAL),
    ("erdf-technical-assistance", Topic("ERDFTA-2026-UAACQUIS22"), ANY_LEGAL),
    ("just-transition-public-sector-loan-facility", Topic("JTM-2026-PSLF"),
     ["municipality", "public_body"]),
    ("innovation-fund", Topic("INNOVFUND-2026-NZT-GENERAL"), ANY_LEGAL),
    ("renewable-energy-financing-mechanism", Topic("RENEWFM-2026-INVEST-TECH-SPEC"), ANY_LEGAL),
    ("research-fund-coal-steel", Topic("RFCS-2026-02-RPJ"), ANY_LEGAL),
    ("emfaf", Topic("EMFAF-2026-PIA-ARCTIC"), ANY_LEGAL),
    ("pilot-projects-preparatory-actions", Topic("PPPA-2026-SOCIAL-ECONOMY-TOURISM"), ANY_LEGAL),
    ("edip-industrial-reinforcement", Topic("EDF-EDIP-USI-2026-LS-IRA-MAB"), ["company"]),
    ("edip-procurement-and-support", Topic("EDF-EDIP-P-2026-FNLC-CPA-CDS"), ["public_body"]),
    ("edf-sme-research-organisations", Topic("EDF-2026-LS-DIS-RA-SMERO-NT"),
     ["company", "research"]),
    ("edf-sme", Topic("EDF-2026-LS-DA-SME-NT"), ["company"]),
    ("edf-disruptive-technologies", Topic("EDF-2026-LS-DIS-NT"),
     ["public_body", "company", "research"]),
    ("european-defence-fund", Topic("EDF-2026-RA-CYBER-QSTN"),
     ["public_body", "company", "research"]),
    ("internal-security-fund", Topic("ISF-2026-TF2-AG-THB"), ANY_LEGAL),
    ("asylum-migration-integration-fund", Topic("AMIF-2026-TF2-AG-INTE"), ANY_LEGAL),
    ("union-anti-fraud-programme", Topic("EUAF-2026-TA"),
     ["public_body", "ngo", "research", "education"]),
    ("pericles-iv", Topic("PERI-2026-ANTI-COUNTERFEIT"), ["public_body"]),
    ("union-civil-protection-mechanism", Topic("UCPM-2026-PP"), PUBLIC_OR_NON_PROFIT),
    ("efsa-article-36-organisations", Topic("EUBA-EFSA-2026-PLANTS-01"),
     ["public_body", "research"]),
    ("eu-bodies-and-agencies", Topic("EUBA-EUAA-2026-ASYLUMCASELAW"), ANY_LEGAL),
    ("external-action-civil-society",
     Topic("EuropeAid/186246/DD/ACT/NG",
           title="Support to Civil Society and Human Rights in Nigeria"),
     ["ngo"]),
    ("external-action-grants",
     Topic("EuropeAid/187388/DD/ACT/GM", title="Support to the Food Safety and Quality Authority"),
     ["municipality", "public_body", "ngo"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rule_id", "topic", "expected"), RULE_CASES, ids=[c[0] for c in RULE_CASES]
)
def test_each_rule_gives_its_programme_s_applicants(
    rule_id: str, topic: Topic, expected: list[str]
) -> None:
    decided = decide_eligibility(
        identifier=topic.identifier,
        programme=topic.programme,
        type_of_action=topic.type_of_action,
        title=topic.title,
    )
    assert decided.rule == rule_id
    assert set(decided.applicants) == set(expected)
    assert set(decided.evidence.values()) == {"inferred"}
    assert decided.inferred


def test_every_rule_has_a_case_and_the_cases_are_all_rules() -> None:
    assert [rule.id for rule in load_rules()] == [case[0] for case in RULE_CASES]


def test_every_rule_names_its_public_document_and_uses_the_vocabulary() -> None:
    for rule in load_rules():
        assert rule.source["document"] and rule.source["url"].startswith("https://"), rule.id
        assert rule.applicants and set(rule.applicants) <= set(APPLICANT_TYPES), rule.id


@pytest.mark.parametrize(
    ("topic", "defaults"),
    [
        (Topic("HORIZON-CL5-2026-09-D2-01", type_of_action="HORIZON Innovation Actions"),
         Consortium(3, 3, False)),
        (Topic("HORIZON-CL6-2026-01-CIRCBIO-02",
               type_of_action="HORIZON Coordination and Support Actions"),
         Consortium(None, None, True)),
        (Topic("CERV-2026-CITIZENS-TOWN-TT"), Consortium(2, 2, None)),
        (Topic("EDF-2026-RA-CYBER-QSTN"), Consortium(3, 3, False)),
        (Topic("LIFE-2026-NGO-OG-SGA"), Consortium(None, None, True)),
    ],
)  # fmt: skip
def test_rules_carry_the_consortium_their_programme_fixes(
    topic: Topic, defaults: Consortium
) -> None:
    decided = decide_eligibility(identifier=topic.identifier, type_of_action=topic.type_of_action)
    assert (decided.min_partners, decided.min_countries, decided.single_applicant) == (
        defaults.min_partners,
        defaults.min_countries,
        defaults.single_applicant,
    )


def test_the_first_matching_rule_wins_so_specific_rules_come_first() -> None:
    town = match_rule(Topic("CERV-2026-CITIZENS-TOWN-TT"))
    daphne = match_rule(Topic("CERV-2026-DAPHNE-CHILDREN"))
    assert (town.id, daphne.id) == ("cerv-town-twinning", "cerv")  # type: ignore[union-attr]


def test_a_topic_no_rule_knows_stays_unknown() -> None:
    decided = decide_eligibility(identifier="XYZ-2026-01", programme="Something else")
    assert decided.applicants == [] and decided.rule == "" and not decided.inferred
    assert (decided.min_partners, decided.single_applicant, decided.germany_eligible) == (
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("rules:\n- {id: a, match: {identifier: [X-*]}, applicants: [ngo]}\n", "source"),
        ("rules:\n- {id: a, match: {identifier: [X-*]}, applicants: [charity],"
         " source: {document: d, url: 'https://x'}}\n", "applicants"),
        ("rules:\n- {id: a, match: {colour: [X-*]}, applicants: [ngo],"
         " source: {document: d, url: 'https://x'}}\n", "match"),
        ("rules:\n- {id: a, match: {identifier: [X-*]}, applicants: [ngo], typo: 1,"
         " source: {document: d, url: 'https://x'}}\n", "unknown keys"),
        ("rules:\n- {id: a, match: {identifier: [X-*]}, applicants: [ngo],"
         " source: {document: d, url: 'https://x'}}\n"
         "- {id: a, match: {identifier: [Y-*]}, applicants: [ngo],"
         " source: {document: d, url: 'https://x'}}\n", "twice"),
    ],
)  # fmt: skip
def test_a_broken_rules_file_is_refused(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(content)
    with pytest.raises(ValueError, match=problem):
        load_rules(path)


# --- stated: the call's own words, German and English -------------------------------------
@pytest.mark.parametrize(
    ("text", "defined", "added"),
    [
        # English: who may apply
        ("Eligible applicants: NGOs and local authorities.", ["municipality", "ngo"], []),
        ("Eligible applicants:\nNGOs;\nlocal authorities\n\nCities will benefit.",
         ["municipality", "ngo"], []),
        ("Applicants must be non-profit organisations.", ["ngo"], []),
        ("The call is open to universities and research organisations.", ["research"], []),
        ("Only cities may be lead partners.", ["municipality"], []),
        ("SMEs are eligible to apply.", ["company"], []),
        ("Who can apply?\nSchools and training centres", ["education"], []),
        ("Public bodies may apply.", ["public_body"], []),
        # English: who must, or may also, take part
        ("This topic requires the active involvement, as beneficiaries, of at least 3 Police "
         "Authorities from 3 Member States.", [], ["public_body"]),
        ("Consortia must include at least one civil society organisation.", [], ["ngo"]),
        ("At least three cities, represented by a local authority, must participate as "
         "beneficiaries.", [], ["municipality"]),
        ("International European research organisations are eligible to receive funding.",
         [], ["research"]),
        # English: said, but not of applicants
        ("Natural persons are NOT eligible (with the exception of sole traders).", [], []),
        ("Stakeholders include, but are not limited to, universities and SMEs.", [], []),
        ("The Joint Research Centre (JRC) may participate as member of the consortium.", [], []),
        ("Financial Support to Third Parties may only be awarded to local authorities.", [], []),
        ("Expected outcome: greener cities and stronger civil society.", [], []),
        # German
        ("Antragsberechtigt sind Kommunen und Landkreise.", ["municipality"], []),
        ("Antragsberechtigt sind Vereine, nicht jedoch Privatpersonen.", ["ngo"], []),
        ("Wer wird gefördert?\nGemeinnützige Vereine und Stiftungen", ["ngo"], []),
        ("Zuwendungsempfänger sind kleine und mittlere Unternehmen (KMU).", ["company"], []),
        ("Gefördert werden Schulen und Kitas.", ["education"], []),
        ("Anträge stellen können Hochschulen und Forschungseinrichtungen.", ["research"], []),
        ("Die Förderung richtet sich an Privatpersonen.", ["individual"], []),
        ("Bewerben können sich Behörden des Landes.", ["public_body"], []),
        ("An dem Vorhaben müssen Kommunen beteiligt sein.", [], ["municipality"]),
        ("Unsere Stadt hat viele Vereine.", [], []),
    ],
)  # fmt: skip
def test_stated_applicants_read_who_may_apply(
    text: str, defined: list[str], added: list[str]
) -> None:
    assert stated_applicants(text) == (defined, added)


# --- with whom ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("at least three independent legal entities from three different Member States",
         Consortium(3, 3, False)),
        ("Applications must be submitted by a consortium including at least three independent "
         "legal entities: each established in a different Member State or Associated Country.",
         Consortium(3, 3, False)),
        ("Proposals must be submitted by at least 3 applicants (beneficiaries; not affiliated "
         "entities) from 3 different eligible countries.", Consortium(3, 3, False)),
        ("Proposals must be submitted by a consortium of at least 4 partners.",
         Consortium(4, None, False)),
        ("The project must involve municipalities from at least 2 eligible countries.",
         Consortium(None, 2, None)),
        ("Proposals may be submitted by single applicants or by consortia.",
         Consortium(None, None, True)),
        ("This is a mono-beneficiary action.", Consortium(None, None, True)),
        ("Single applicants are not eligible.", Consortium(None, None, False)),
        ("Proposals can only be submitted by consortia.", Consortium(None, None, False)),
        # a condition on some partners is not the size of the consortium
        ("At least two legal entities established in at least two different African Union "
         "member states must be part of the consortium.", Consortium(None, None, None)),
        # German
        ("Gefördert werden Verbünde aus mindestens zwei Partnern aus zwei Ländern.",
         Consortium(2, 2, False)),
        ("mindestens zwei Partner aus zwei Ländern", Consortium(2, 2, False)),
        ("Der Verbund muss aus mindestens drei Partnern bestehen.", Consortium(3, None, False)),
        ("Einzelanträge sind möglich.", Consortium(None, None, True)),
        ("Es werden Einzel- und Verbundvorhaben gefördert.", Consortium(None, None, True)),
        ("Einzelanträge sind nicht möglich.", Consortium(None, None, False)),
        ("Die Förderung erfolgt nur im Verbund.", Consortium(None, None, False)),
        ("Kein Wort dazu.", Consortium(None, None, None)),
    ],
)  # fmt: skip
def test_parse_consortium(text: str, expected: Consortium) -> None:
    assert parse_consortium(text) == expected


# --- from where ---------------------------------------------------------------------------
EU27 = {
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
}  # fmt: skip


@pytest.mark.parametrize(
    ("text", "countries", "germany"),
    [
        ("Participation is limited to legal entities established in Member States, Norway and "
         "Iceland.", EU27 | {"NO", "IS"}, True),
        ("Applicants must be established in EU Member States except Denmark.", EU27 - {"DK"},
         True),
        # open-ended: Germany is in, the list is not closed
        ("Participation is limited to legal entities established in Member States and "
         "Associated Countries.", set(), True),
        ("Applicants must be established in one of the EU Member States.", EU27, True),
        # an addition is not a closed list
        ("Any legal entity established in the United States of America is eligible to receive "
         "Union funding.", set(), None),
        ("Applicants must be established in Norway or Iceland.", {"NO", "IS"}, False),
        ("Applicants established in Germany are not eligible.", set(), False),
        ("Legal entities established in all African Union member states are exceptionally "
         "eligible for Union funding.", set(), None),
        ("Third parties receiving financial support must be located in Member States.", set(),
         None),
        # German
        ("Antragsberechtigt sind Vereine mit Sitz in Niedersachsen.", {"DE"}, True),
        ("Antragsberechtigt sind Unternehmen mit Sitz in Deutschland.", {"DE"}, True),
        ("Gefördert werden Kommunen aus allen EU-Mitgliedstaaten.", set(), True),
        ("Eligible countries: described in the call document.", set(), None),
    ],
)  # fmt: skip
def test_parse_countries(text: str, countries: set[str], germany: bool | None) -> None:
    found = parse_countries(text)
    assert set(found.eligible) == countries
    assert found.germany_eligible is germany


# --- the decision -------------------------------------------------------------------------
def test_stated_beats_inferred_and_keeps_the_rule_s_consortium() -> None:
    decided = decide_eligibility(
        text="Eligible applicants: non-profit organisations.",
        identifier="CERV-2026-CITIZENS-TOWN-TT",
    )
    assert decided.applicants == ["ngo"]
    assert decided.evidence == {"ngo": "stated"}
    assert decided.inferred  # read from the text, not from the source's own field
    assert (decided.min_partners, decided.rule) == (2, "cerv-town-twinning")


def test_a_required_type_is_stated_and_the_rule_adds_the_others() -> None:
    decided = decide_eligibility(
        text="At least three cities, represented by a local authority, each from a different "
        "Member State, must participate as beneficiaries.",
        identifier="HORIZON-MISS-2026-04-CIT-01",
        type_of_action="HORIZON  Research and Innovation Actions",
    )
    assert decided.evidence["municipality"] == "stated"
    assert {k for k, v in decided.evidence.items() if v == "inferred"} == set(ANY_LEGAL) - {
        "municipality"
    }
    assert decided.rule == "horizon-ria-ia"


def test_a_conflict_is_logged_with_both_sides_and_the_call_s_list_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="crawler.normalize.eligibility"):
        decided = decide_eligibility(
            text="Eligible applicants: universities.", identifier="HORIZON-EIC-2026-ACCELERATOR-01"
        )
    assert decided.applicants == ["research"]
    assert decided.evidence == {"research": "stated"}
    message = caplog.records[0].getMessage()
    assert caplog.records[0].levelno == logging.WARNING
    assert "HORIZON-EIC-2026-ACCELERATOR-01" in message
    assert "horizon-eic-accelerator" in message
    assert "'research'" in message and "'company'" in message and "'individual'" in message


def test_a_required_type_outside_the_rule_is_logged_and_both_are_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="crawler.normalize.eligibility"):
        decided = decide_eligibility(
            text="The consortium must include at least one university.",
            identifier="HORIZON-EIC-2026-ACCELERATOR-01",
        )
    assert decided.evidence == {
        "company": "inferred",
        "research": "stated",
        "individual": "inferred",
    }
    assert "conflict" in caplog.text and "horizon-eic-accelerator" in caplog.text


def test_the_source_s_own_field_is_stated_and_not_inferred() -> None:
    decided = decide_eligibility(
        source_terms=["Kommune", "Verband/Vereinigung"],
        text="Antragsberechtigt sind auch Privatpersonen.",
    )
    assert decided.applicants == ["municipality", "ngo"]
    assert decided.evidence == {"municipality": "stated", "ngo": "stated"}
    assert not decided.inferred


def test_the_call_s_consortium_words_beat_the_rule_s_defaults() -> None:
    decided = decide_eligibility(
        text="Proposals may be submitted by a single applicant or by applicants from a single "
        "eligible country.",
        identifier="LIFE-2026-CET-BUILDSKILLS",
    )
    assert (decided.single_applicant, decided.min_partners) == (True, None)


def test_germany_comes_from_the_text_where_it_says_else_from_the_rule() -> None:
    silent = decide_eligibility(identifier="HORIZON-CL5-2026-09-D2-01",
                                type_of_action="HORIZON Innovation Actions")  # fmt: skip
    closed = decide_eligibility(
        text="Applicants must be established in Norway or Iceland.",
        identifier="HORIZON-CL5-2026-09-D2-01",
        type_of_action="HORIZON Innovation Actions",
    )
    assert silent.germany_eligible is True and silent.eligible_countries == []
    assert closed.germany_eligible is False and set(closed.eligible_countries) == {"IS", "NO"}
