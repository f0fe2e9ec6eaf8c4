"""Explanations a person understands, in German and English: reasons apart from cautions."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session

from matcher.eligibility import Assessment, CallFacts, CallTable, ProfileFacts, eligible_verdict
from matcher.explain import VERSION, build_explanation, explanation_lines, format_deadline
from matcher.reasons import MAX_LINES, TEXT, explanation_view
from matcher.runs import rematch
from storage.matching import matches_for_profile
from tests.storage.factories import make_call, make_profile

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
SUMMER_DUE = datetime(2026, 9, 19, 15, 0, tzinfo=UTC)  # 17:00 in Brussels (CEST)
BRIDGED = [("town twinning", 0.2, "Städtepartnerschaft", "de"), ("Begegnungen", 0.1)]
# Every caution either language can give, with its placeholder filled as the view fills it.
CAUTIONS = {
    lang: {
        text[key].split("{")[0]
        for key in ("unknown", "grant_too_large", "grant_too_small", "tight", "opens", "not_open")
    }
    for lang, text in TEXT.items()
}


def _stated(call: CallFacts, profile: ProfileFacts) -> Assessment:
    """What the rules state of a pair, whether or not it passes the hard filters."""
    mask = CallTable([call], NOW).mask(profile)
    return eligible_verdict(bool(mask.unknown[0]), int(mask.budget_fit[0]), bool(mask.tight[0]))


def _explain(call: CallFacts, profile: ProfileFacts, **kwargs: Any) -> dict[str, Any]:
    return build_explanation(
        call, profile, _stated(call, profile), score=0.4, similarity=0.36, **kwargs
    )


def _is_caution(line: str, lang: str) -> bool:
    return any(line.startswith(start) for start in CAUTIONS[lang])


def test_deadline_is_shown_in_the_deadlines_time_zone() -> None:
    assert format_deadline(SUMMER_DUE, "Europe/Brussels") == "Frist 19.09.2026, 17:00 Uhr Brüssel"
    winter = datetime(2027, 1, 14, 16, 0, tzinfo=UTC)  # CET, one hour ahead of UTC
    assert format_deadline(winter, "Europe/Brussels") == "Frist 14.01.2027, 17:00 Uhr Brüssel"
    assert format_deadline(winter, "Europe/Brussels", "en") == (
        "Deadline 14 Jan 2027, 17:00 Brussels time"
    )
    assert format_deadline(winter, "Not/AZone") == "Frist 14.01.2027, 16:00 Uhr UTC"


def test_a_fitting_call_gives_reasons_and_no_cautions() -> None:
    call = CallFacts(
        call_id=1,
        eligible_applicants=("municipality", "ngo"),
        regions=("EU",),
        next_deadline_at=SUMMER_DUE,
        grant_min_eur=50_000,
        grant_max_eur=200_000,
    )
    profile = ProfileFacts(1, "municipality", budget_min_eur=60_000, budget_max_eur=150_000)
    stored = _explain(call, profile, terms=BRIDGED)
    assert stored["version"] == VERSION == 2
    assert stored["terms"] == [
        ["town twinning", 0.2, "Städtepartnerschaft", "de"],
        ["Begegnungen", 0.1],
    ]
    view = explanation_view(stored, "de")
    assert view.reasons == [
        "Passende Begriffe: Städtepartnerschaft ↔ town twinning, Begegnungen",
        "Kommunen antragsberechtigt",
        "Fördersumme passt zum Budget",
        "Fördergebiet: EU-weit",
    ]
    assert view.cautions == []
    assert view.deadline == "Frist 19.09.2026, 17:00 Uhr Brüssel"
    english = explanation_view(stored, "en_GB")
    assert english.reasons == [
        "Matching words: town twinning ↔ Städtepartnerschaft, Begegnungen",
        "Municipalities may apply",
        "Grant size fits the budget",
        "Eligible area: EU-wide",
    ]
    assert english.deadline == "Deadline 19 Sep 2026, 17:00 Brussels time"


def test_a_minimum_grant_above_the_budget_is_a_caution_not_a_reason() -> None:
    call = CallFacts(call_id=1, eligible_applicants=("ngo",), grant_min_eur=500_000)
    profile = ProfileFacts(1, "ngo", budget_min_eur=10_000, budget_max_eur=50_000)
    view = explanation_view(_explain(call, profile), "de")
    assert view.cautions == ["Mindestfördersumme über dem Budget"]
    assert "Vereine und NGOs antragsberechtigt" in view.reasons
    assert not any("Budget" in line for line in view.reasons)
    small = CallFacts(call_id=2, eligible_applicants=("ngo",), grant_max_eur=5_000)
    assert explanation_view(_explain(small, profile), "en").cautions == [
        "Grants below the minimum need"
    ]


def test_unstated_eligibility_asks_to_check_instead_of_naming_who_may_apply() -> None:
    view = explanation_view(_explain(CallFacts(call_id=1), ProfileFacts(1, "ngo")))
    assert view.cautions == ["Antragsberechtigung nicht angegeben – bitte prüfen"]
    assert not any("antragsberechtigt" in line for line in view.reasons)
    assert view.deadline == "Keine feste Frist (laufende Antragstellung)"
    english = explanation_view(_explain(CallFacts(call_id=1), ProfileFacts(1, "ngo")), "en")
    assert english.cautions == ["Eligibility not stated – please check"]


@pytest.mark.parametrize("budget", [None, "budget_fits", "grant_too_small", "grant_too_large"])
@pytest.mark.parametrize("eligibility", ["eligible", "unknown"])
@pytest.mark.parametrize("tight", [False, True])
@pytest.mark.parametrize("status", ["open", "forthcoming"])
@pytest.mark.parametrize("lang", ["de", "en"])
def test_cautions_are_never_among_the_reasons(
    budget: str | None, eligibility: str, tight: bool, status: str, lang: str
) -> None:
    stored = {
        "version": 2,
        "terms": [["Klimaschutz", 0.2, None, None]],
        "applicant_type": "municipality",
        "eligibility": eligibility,
        "regions": ["EU"],
        "status": status,
        "opening_date": "2026-10-01" if status == "forthcoming" else None,
        "deadline": SUMMER_DUE.isoformat(),
        "deadline_timezone": "Europe/Brussels",
        "budget": budget,
        "deadline_tight": tight,
        "feedback": {"relevant": 1, "not_relevant": 0},
    }
    view = explanation_view(stored, lang)
    assert not any(_is_caution(line, lang) for line in view.reasons)
    assert all(_is_caution(line, lang) for line in view.cautions)
    expected = (
        (eligibility == "unknown")
        + (budget in ("grant_too_small", "grant_too_large"))
        + tight
        + (status == "forthcoming")
    )
    assert len(view.cautions) == expected
    assert len(view.reasons) <= MAX_LINES and len(view.cautions) <= MAX_LINES


def test_forthcoming_tight_and_reviewed_are_said() -> None:
    call = CallFacts(
        call_id=1,
        status="forthcoming",
        opening_date=date(2026, 6, 15),
        eligible_applicants=("ngo",),
        next_deadline_at=datetime(2026, 7, 5, 10, 0, tzinfo=UTC),
    )
    profile = ProfileFacts(1, "ngo", lead_time_days=28)
    view = explanation_view(_explain(call, profile, feedback=(2, 1)))
    assert "Noch nicht geöffnet – öffnet am 15.06.2026" in view.cautions
    assert any(line.startswith("Frist knapp") for line in view.cautions)
    assert "Frühere Bewertungen berücksichtigt (2 relevant, 1 nicht relevant)" in view.reasons
    english = explanation_view(_explain(call, profile, feedback=(2, 1)), "en")
    assert "Not open yet – opens on 15 Jun 2026" in english.cautions
    undated = explanation_view({"status": "forthcoming", "opening_date": None}, "en")
    assert undated.cautions == ["Not open yet"]


# Words of each language's wording that the other language's wording never uses.
_GERMAN = ("Frist", "Förder", "antragsberechtigt", "Uhr", "Brüssel", "Bewertungen", "Noch")
_ENGLISH = ("Deadline", "Grant", "may apply", "Brussels", "reviews", "Eligib", "Not open")


def test_each_language_renders_only_its_own_wording() -> None:
    call = CallFacts(
        call_id=1,
        status="forthcoming",
        opening_date=date(2026, 6, 15),
        regions=("EU", "DE"),
        next_deadline_at=datetime(2026, 7, 5, 10, 0, tzinfo=UTC),
        grant_min_eur=400_000,
    )
    profile = ProfileFacts(1, "municipality", lead_time_days=28, budget_max_eur=100_000)
    stored = _explain(call, profile, feedback=(1, 1))
    for lang, foreign in (("de", _ENGLISH), ("en", _GERMAN)):
        view = explanation_view(stored, lang)
        lines = [*view.reasons, *view.cautions, view.deadline or ""]
        assert len(lines) >= 6
        assert not [line for line in lines if any(word in line for word in foreign)]
    german = explanation_view(stored, "de")
    assert "Fördergebiet: EU-weit, Deutschland" in german.reasons
    assert "Mindestfördersumme über dem Budget" in german.cautions
    assert "Antragsberechtigung nicht angegeben – bitte prüfen" in german.cautions


def test_a_phrase_stands_for_its_words_and_one_profile_word_lists_its_renderings() -> None:
    stored = {
        "version": 2,
        "terms": [
            ["young", 0.3, None, None],
            ["young people", 0.2, None, None],
            ["people", 0.1, None, None],
            ["town twinning", 0.05, "Städtepartnerschaft", "de"],
            ["twinned towns", 0.04, "Städtepartnerschaft", "de"],
            ["innovation", 0.03, "Innovation", "de"],  # a cognate: the same word twice
        ],
    }
    view = explanation_view(stored, "de")
    assert [(t.word, t.profile_word) for t in view.terms] == [
        ("young people", None),
        ("town twinning / twinned towns", "Städtepartnerschaft"),
        ("innovation", None),
    ]
    assert view.reasons[0] == (
        "Passende Begriffe: young people, "
        "Städtepartnerschaft ↔ town twinning / twinned towns, innovation"
    )


def test_a_version_1_explanation_still_renders() -> None:
    # As a re-match before version 2 stored it: folded words, no profile words.
    old = {
        "version": 1,
        "score": 0.0531,
        "similarity": 0.059,
        "terms": [["citizens", 0.0129], ["gemeinnutzige", 0.0121]],
        "applicant_type": "municipality",
        "eligibility": "eligible",
        "regions": ["EU"],
        "status": "forthcoming",
        "opening_date": None,
        "deadline": "2027-06-08T15:00:00+00:00",
        "deadline_timezone": "Europe/Brussels",
        "deadline_model": "single",
        "budget": "grant_too_large",
        "deadline_tight": False,
        "factor": 0.9,
        "feedback": {"relevant": 0, "not_relevant": 0},
    }
    view = explanation_view(old, "de")
    assert [(t.word, t.profile_word) for t in view.terms] == [
        ("citizens", None),
        ("gemeinnutzige", None),
    ]
    assert view.reasons == [
        "Passende Begriffe: citizens, gemeinnutzige",
        "Kommunen antragsberechtigt",
        "Fördergebiet: EU-weit",
    ]
    assert view.cautions == ["Mindestfördersumme über dem Budget", "Noch nicht geöffnet"]
    assert view.deadline == "Frist 08.06.2027, 17:00 Uhr Brüssel"
    assert explanation_view({}).reasons == [] and explanation_view({}).cautions == []
    assert explanation_view({"terms": [["Jugend", 0.3]], "unexpected": 1}).reasons == [
        "Passende Begriffe: Jugend"
    ]


def test_the_view_as_data_and_the_lines_of_old_callers() -> None:
    call = CallFacts(call_id=1, eligible_applicants=("ngo",), grant_min_eur=500_000)
    profile = ProfileFacts(1, "ngo", budget_max_eur=50_000)
    stored = _explain(call, profile, terms=BRIDGED)
    data = explanation_view(stored, "en").as_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["terms"] == [
        {"word": "town twinning", "profile_word": "Städtepartnerschaft"},
        {"word": "Begegnungen", "profile_word": None},
    ]
    assert data["cautions"] == ["Minimum grant above the budget"]
    assert data["reasons"][0] == "Matching words: town twinning ↔ Städtepartnerschaft, Begegnungen"
    view = explanation_view(stored)
    assert explanation_lines(stored) == [*view.reasons, view.deadline, *view.cautions]


def test_stored_matches_explain_with_the_words_they_share(session: Session) -> None:
    make_call(
        session,
        title="Town twinning",
        description_text="Citizens of twinned towns meet in town twinning projects.",
        deadlines=[SUMMER_DUE],
        eligible_applicants=["municipality"],
    )
    make_call(session, title="Manufacturing robots", description_text="Robots in factories.")
    profile = make_profile(
        session,
        "twin",
        name="Städtepartnerschaft",
        description="Bürgerbegegnungen in der Städtepartnerschaft mit unseren Partnerstädten.",
    )
    rematch(session, trigger="manual", now=NOW)
    match = matches_for_profile(session, profile.id)[0]
    view = explanation_view(match.explanation)
    assert view.reasons[0].startswith("Passende Begriffe: ")
    assert "town" in view.reasons[0] or "twinning" in view.reasons[0]
    assert "Kommunen antragsberechtigt" in view.reasons
    assert view.deadline == "Frist 19.09.2026, 17:00 Uhr Brüssel"


def test_top_terms_name_a_term_by_the_word_the_call_wrote() -> None:
    from matcher.documents import Document
    from matcher.terms import surface_words, top_terms
    from matcher.vectorize import TextModel

    calls = [
        Document(
            title="Town twinning between cities", description="Twinning of towns.", language="en"
        ),
        Document(
            title="Digital twins", description="Twins of factories and twin engines.", language="en"
        ),
        Document(title="Ocean observation", description="Marine data.", language="en"),
    ]
    model = TextModel()
    documents = model.fit_transform(calls)
    queries = model.transform_queries(
        [Document(description="Städtepartnerschaft für Städte", language="de")]
    )
    plain = " ".join(w for w, _ in top_terms(model, 0, queries, 0, documents))
    own = top_terms(model, 0, queries, 0, documents, words=surface_words(model, calls[:1])[0])
    text = " ".join(w for w, _ in own)
    assert "twinning" in text and "twins" not in text.split()
    assert "twinning" not in plain  # the corpus' shortest form alone reads otherwise


def test_batched_explanations_equal_the_one_pair_path() -> None:
    """match_rows explains every match with one pass per profile and one over the calls'
    texts (in chunks, here of 37 calls); each match's
    terms must be those of top_terms with the call's own words and the profile's words of
    bridge_words, and its eligibility facts those of the pairwise rules."""
    from benchmarks.match import NOW, build_corpus
    from matcher.params import Parallelism
    from matcher.runs import match_rows, rank_corpus
    from matcher.terms import bridge_words, surface_words, top_columns, top_terms
    from matcher.vectorize import TextModel

    corpus = build_corpus(300, 12, seed=7)
    call_docs = list(corpus.call_docs)
    # Chunks of 37 calls, so that reading and counting take several.
    parallelism = Parallelism(read_chunk=37)
    ranking = rank_corpus(
        call_docs,
        corpus.call_facts,
        corpus.profile_docs,
        corpus.profile_facts,
        NOW,
        model_factory=lambda: TextModel(parallelism=parallelism),
    )
    rows = match_rows(ranking, call_docs, terms=4)
    assert len(rows) == sum(len(r) for r in ranking.results) > 50
    model = ranking.model
    documents = ranking.by_term.T.tocsr()  # calls x terms, as top_terms takes them
    at = 0
    bridged = 0
    for i, ranked in enumerate(ranking.results):
        for rank, hit in enumerate(ranked, start=1):
            row = rows[at]
            at += 1
            assert (row["profile_id"], row["call_id"], row["rank"]) == (
                corpus.profile_facts[i].profile_id,
                hit.call_id,
                rank,
            )
            one = top_terms(
                model,
                i,
                ranking.queries,
                hit.row,
                documents,
                n=4,
                words=surface_words(model, [call_docs[hit.row]])[0],
            )
            (columns,) = top_columns(
                model, ranking.queries, documents[hit.row].T.tocsr(), [i], [0], 4
            )
            sources = bridge_words(model, [i] * len(columns), [c for c, _ in columns])
            expected = [
                [t, round(v, 4), *(source or ())]
                for (t, v), source in zip(one, sources, strict=True)
            ]
            assert row["explanation"]["terms"] == expected
            bridged += sum(source is not None for source in sources)
            assert 1 <= len(one) <= 4
            verdict = ranking.table.verdict(hit.row, corpus.profile_facts[i])
            assert verdict is not None
            explained = row["explanation"]
            assert (explained["budget"], explained["deadline_tight"]) == (
                verdict.budget,
                verdict.tight,
            )
            assert explained["factor"] == round(verdict.factor, 4)
            # The whole explanation, made from parts shared by many matches, is the one
            # build_explanation makes for this pair alone.
            assert explained == build_explanation(
                corpus.call_facts[hit.row],
                corpus.profile_facts[i],
                verdict,
                score=hit.score,
                similarity=hit.similarity,
                terms=[tuple(term) for term in expected],  # type: ignore[misc]
            )
    # The German profiles reach the English calls through the bridge.
    assert bridged > 0
