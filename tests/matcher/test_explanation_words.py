"""The words an explanation shows: as the call writes them (umlauts and case kept), and the
profile's own word where the bilingual bridge made the link — stored by a re-match of a
small corpus, and rendered in each language."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from sqlalchemy.orm import Session

from matcher.documents import Document
from matcher.reasons import explanation_view
from matcher.runs import rematch
from matcher.terms import bridge_words, top_columns
from matcher.vectorize import TextModel
from storage.matching import matches_for_profile
from storage.models import FundingCall, Match, Profile
from tests.storage.factories import make_call, make_profile

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
DUE = datetime(2026, 9, 19, 15, 0, tzinfo=UTC)


def _corpus(session: Session) -> dict[str, FundingCall | Profile]:
    items: dict[str, FundingCall | Profile] = {
        "inclusion": make_call(
            session,
            title="Inklusionsprojekte",
            summary="Gemeinnützige Träger fördern Begegnungen von Menschen mit Behinderung.",
            description_text=(
                "Gefördert werden gemeinnützige Organisationen, die Begegnungen von Menschen "
                "mit und ohne Behinderung ermöglichen. Anträge können bis Juni gestellt werden."
            ),
            language="de",
            deadlines=[DUE],
            eligible_applicants=[],
            grant_min_eur=500_000,
        ),
        "roads": make_call(
            session,
            title="Straßenbau in Gemeinden",
            description_text="Sanierung von Straßen und Brücken im ländlichen Raum.",
            language="de",
            deadlines=[DUE],
        ),
        "twinning": make_call(
            session,
            title="Town twinning",
            description_text="Citizens of twinned towns meet in town twinning projects.",
            language="en",
            deadlines=[DUE],
            eligible_applicants=["municipality"],
            regions=["EU"],
        ),
        "robots": make_call(
            session,
            title="Manufacturing robots",
            description_text="Robots in factories of the future.",
            language="en",
            deadlines=[DUE],
        ),
    }
    items["verein"] = make_profile(
        session,
        "verein",
        name="Inklusive Begegnungen",
        description="Unser gemeinnütziger Verein organisiert Begegnungen für Menschen mit "
        "Behinderung.",
        language="de",
        applicant_type="ngo",
        budget_min_eur=10_000,
        budget_max_eur=40_000,
    )
    items["partnerschaft"] = make_profile(
        session,
        "partnerschaft",
        name="Städtepartnerschaft",
        description="Bürgerbegegnungen in der Städtepartnerschaft mit unseren Partnerstädten.",
        language="de",
    )
    session.flush()
    return items


def _match(session: Session, profile: Profile, call: FundingCall) -> Match:
    found = [m for m in matches_for_profile(session, profile.id) if m.call_id == call.id]
    assert found, f"{profile.slug} should match {call.title}"
    return found[0]


def test_a_german_call_is_explained_by_its_own_words_with_umlauts(
    session: Session,
) -> None:
    c = _corpus(session)
    rematch(session, trigger="manual", now=NOW)
    match = _match(session, c["verein"], c["inclusion"])  # type: ignore[arg-type]
    view = explanation_view(match.explanation, "de")
    words = " ".join(term.word for term in view.terms).split()
    assert "gemeinnützige" in words  # small letters: an adjective, capitalised only as the
    assert "Begegnungen" in words  # summary's first word; a noun keeps its capital
    assert all(term.profile_word is None for term in view.terms)  # both German: no bridge
    line = view.reasons[0]
    assert line.startswith("Passende Begriffe: ")
    assert "gemeinnutzige" not in line and "begegnungen" not in line


def test_an_english_call_reached_by_the_bridge_shows_both_words(
    session: Session,
) -> None:
    c = _corpus(session)
    rematch(session, trigger="manual", now=NOW)
    match = _match(session, c["partnerschaft"], c["twinning"])  # type: ignore[arg-type]
    stored = match.explanation
    assert stored["version"] == 2
    bridged = [term for term in stored["terms"] if term[2] == "Städtepartnerschaft"]
    assert {term[0] for term in bridged} == {"town", "twinning", "town twinning"}
    assert all(term[3] == "de" for term in bridged)
    german = explanation_view(stored, "de")
    english = explanation_view(stored, "en")
    assert "Städtepartnerschaft ↔ town twinning" in german.reasons[0]
    assert "town twinning ↔ Städtepartnerschaft" in english.reasons[0]
    assert english.reasons[0].startswith("Matching words: ")
    assert "Municipalities may apply" in english.reasons
    assert "Kommunen antragsberechtigt" in german.reasons


def test_a_real_match_keeps_its_cautions_out_of_its_reasons(session: Session) -> None:
    c = _corpus(session)
    rematch(session, trigger="manual", now=NOW)
    match = _match(session, c["verein"], c["inclusion"])  # type: ignore[arg-type]
    german = explanation_view(match.explanation, "de")
    assert german.cautions == [
        "Antragsberechtigung nicht angegeben – bitte prüfen",
        "Mindestfördersumme über dem Budget",
    ]
    assert not set(german.cautions) & set(german.reasons)
    assert not any("antragsberechtigt" in line or "Budget" in line for line in german.reasons)
    english = explanation_view(match.explanation, "en")
    assert english.cautions == [
        "Eligibility not stated – please check",
        "Minimum grant above the budget",
    ]
    assert english.deadline == "Deadline 19 Sep 2026, 17:00 Brussels time"


def test_the_calls_write_a_word_as_in_running_text_not_as_a_heading_starts_it() -> None:
    model = TextModel()
    analysis = model.reader.analyse_calls(
        [
            Document(
                title="Climate mitigation in Europe",
                summary="Europe supports climate action. Young people take part.",
                language="en",
            ),
            Document(
                title="Gemeinnützige Träger",
                description="Für gemeinnützige Träger. Städte und Gemeinden. Begegnungs- und "
                "Partnerschaftsprojekte.",
                language="de",
            ),
            Document(title="Kommunale Wärmeplanung", description="Kommunale Wärmeplanung."),
        ],
    )
    written = analysis.written or {}
    assert written["climate"] == "climate"  # the title's capital is the heading's
    assert written["europe"] == "Europe"  # a name: capitalised inside a sentence too
    assert written["young"] == "young"  # English: only ever capitalised as a sentence opens
    assert written["stadte"] == "Städte"  # German: a noun keeps its capital
    assert written["gemeinnutzige"] == "gemeinnützige"
    assert written["trager"] == "Träger"
    assert written["kommunale"] == "Kommunale"  # not English: the capital stays
    assert written["begegnungs"] == "Begegnungs-"  # the compound the next word finishes


def test_bridge_words_name_the_profiles_own_words_as_it_writes_them() -> None:
    calls = [
        Document(
            title="Climate protection in municipalities",
            description="Municipalities plan climate protection and digital services for the "
            "region.",
            language="en",
        ),
        Document(title="Town twinning", description="Twinned towns meet.", language="en"),
        Document(title="Ocean observation", description="Marine data.", language="en"),
    ]
    model = TextModel()
    by_term = model.fit_index(calls)
    queries = model.transform_queries(
        [
            Document(
                title="Unser Klimaschutzkonzept",
                description="Klimaschutz in Kommunen und digitale Dienste für die Region.",
                language="de",
            ),
            Document(title="Ein Klimaschutzkonzept", language="de"),
        ]
    )
    named = {}
    for row in (0, 1):
        (columns,) = top_columns(model, queries, by_term, [row], [0], 10)
        cols = [col for col, _ in columns]
        found = bridge_words(model, [row] * len(cols), cols)
        named[row] = {model.vocabulary.term(c): f for c, f in zip(cols, found, strict=True)}
    assert named[0]["climat protect"] == ("Klimaschutz", "de")  # the word itself first
    assert named[0]["municip"] == ("Kommunen", "de")
    assert named[0]["servic"] == ("Dienste", "de")
    assert named[0]["digit"] == ("digitale", "de")  # a cognate
    assert named[0]["region"] is None  # the profile writes the call's word itself
    assert named[1]["climat protect"] == ("Klimaschutzkonzept", "de")  # by a compound's part
    # Nothing for a column no expansion reached.
    unseen = int(np.flatnonzero([model.vocabulary.term(c) not in named[0] for c in range(5)])[0])
    assert bridge_words(model, [0], [unseen]) == [None]
