"""Explanations a person understands, in German and English."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy.orm import Session

from matcher.eligibility import CallFacts, ProfileFacts, assess
from matcher.explain import build_explanation, explanation_lines, format_deadline
from matcher.runs import rematch
from storage.matching import matches_for_profile
from tests.storage.factories import make_call, make_profile

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
SUMMER_DUE = datetime(2026, 9, 19, 15, 0, tzinfo=UTC)  # 17:00 in Brussels (CEST)


def _explain(call: CallFacts, profile: ProfileFacts, **kwargs: object) -> dict[str, object]:
    return build_explanation(
        call, profile, assess(call, profile, NOW), score=0.4, similarity=0.36, **kwargs
    )  # type: ignore[arg-type]


def test_deadline_is_shown_in_the_deadlines_time_zone() -> None:
    assert format_deadline(SUMMER_DUE, "Europe/Brussels") == "Frist 19.09.2026, 17:00 Uhr Brüssel"
    winter = datetime(2027, 1, 14, 16, 0, tzinfo=UTC)  # CET, one hour ahead of UTC
    assert format_deadline(winter, "Europe/Brussels") == "Frist 14.01.2027, 17:00 Uhr Brüssel"
    assert format_deadline(winter, "Europe/Brussels", "en") == (
        "Deadline 14 Jan 2027, 17:00 Brussels time"
    )
    assert format_deadline(winter, "Not/AZone") == "Frist 14.01.2027, 16:00 Uhr UTC"


def test_lines_name_terms_eligibility_deadline_and_budget() -> None:
    call = CallFacts(
        call_id=1,
        eligible_applicants=("municipality", "ngo"),
        regions=("EU",),
        next_deadline_at=SUMMER_DUE,
        grant_min_eur=50_000,
        grant_max_eur=200_000,
    )
    profile = ProfileFacts(1, "municipality", budget_min_eur=60_000, budget_max_eur=150_000)
    lines = explanation_lines(
        _explain(call, profile, terms=[("Klimaschutz", 0.2), ("town twinning", 0.1)])
    )
    assert lines == [
        "Passende Begriffe: Klimaschutz, town twinning",
        "Kommunen antragsberechtigt",
        "Fördergebiet: EU-weit",
        "Frist 19.09.2026, 17:00 Uhr Brüssel",
        "Fördersumme passt zum Budget",
    ]
    english = explanation_lines(_explain(call, profile), lang="en")
    assert "Municipalities may apply" in english
    assert "Grant size fits the budget" in english


def test_unknown_eligibility_asks_to_check() -> None:
    lines = explanation_lines(_explain(CallFacts(call_id=1), ProfileFacts(1, "ngo")))
    assert "Antragsberechtigung unbekannt – bitte prüfen" in lines
    assert not any("antragsberechtigt" in line for line in lines)
    assert "Keine feste Frist (laufende Antragstellung)" in lines


def test_forthcoming_tight_and_mismatched_budget_are_said() -> None:
    call = CallFacts(
        call_id=1,
        status="forthcoming",
        opening_date=date(2026, 6, 15),
        eligible_applicants=("ngo",),
        next_deadline_at=datetime(2026, 7, 5, 10, 0, tzinfo=UTC),
        grant_max_eur=5_000,
    )
    profile = ProfileFacts(1, "ngo", lead_time_days=28, budget_min_eur=20_000)
    lines = explanation_lines(_explain(call, profile, feedback=(2, 1)))
    assert "Vereine und NGOs antragsberechtigt" in lines
    assert "Noch nicht geöffnet – öffnet am 15.06.2026" in lines
    assert any(line.startswith("Frist knapp") for line in lines)
    assert "Fördersumme kleiner als der Mindestbedarf" in lines
    assert "Berücksichtigt frühere Bewertungen (2 relevant, 1 nicht relevant)" in lines


def test_old_or_partial_explanations_still_render() -> None:
    assert explanation_lines({}) == []
    assert explanation_lines({"terms": [["Jugend", 0.3]], "unexpected": 1}) == [
        "Passende Begriffe: Jugend"
    ]


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
    lines = explanation_lines(match.explanation)
    assert lines[0].startswith("Passende Begriffe: ")
    assert "town" in lines[0] or "twinning" in lines[0]
    assert "Kommunen antragsberechtigt" in lines
    assert "Frist 19.09.2026, 17:00 Uhr Brüssel" in lines


def test_top_terms_name_a_term_by_the_word_the_call_wrote() -> None:
    from matcher.vectorize import Document, TextModel

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
    plain = " ".join(w for w, _ in model.top_terms(0, queries, 0, documents))
    own = model.top_terms(0, queries, 0, documents, words=model.surface_words(calls[0]))
    text = " ".join(w for w, _ in own)
    assert "twinning" in text and "twins" not in text.split()
    assert "twinning" not in plain  # the corpus' shortest form alone reads otherwise


@pytest.mark.parametrize("forked", [False, True])
def test_batched_explanations_equal_the_one_pair_path(
    monkeypatch: pytest.MonkeyPatch, forked: bool
) -> None:
    """match_rows explains every match with one pass per profile and one over the calls'
    texts (in chunks, here of 37 calls; ``forked``: read by two processes); each match's
    terms must be those of top_terms with the call's own words, and its eligibility facts
    those of the pairwise rules."""
    import matcher.vectorize
    from matcher.bench import NOW, build_corpus
    from matcher.eligibility import assess
    from matcher.runs import match_rows, rank_corpus

    monkeypatch.setattr(matcher.vectorize, "_ANALYSE_CHUNK", 37)
    if forked:
        monkeypatch.setattr(matcher.vectorize, "_PARALLEL_MIN_CALLS", 2)

    corpus = build_corpus(300, 12, seed=7)
    call_docs = list(corpus.call_docs)
    ranking = rank_corpus(
        call_docs, corpus.call_facts, corpus.profile_docs, corpus.profile_facts, NOW
    )
    rows = match_rows(ranking, call_docs, NOW, terms=4)
    assert len(rows) == sum(len(r) for r in ranking.results) > 50
    model = ranking.model
    documents = ranking.by_term.T.tocsr()  # calls x terms, as top_terms takes them
    at = 0
    for i, ranked in enumerate(ranking.results):
        for rank, hit in enumerate(ranked, start=1):
            row = rows[at]
            at += 1
            assert (row["profile_id"], row["call_id"], row["rank"]) == (
                corpus.profile_facts[i].profile_id,
                hit.call_id,
                rank,
            )
            one = model.top_terms(
                i,
                ranking.queries,
                hit.row,
                documents,
                n=4,
                words=model.surface_words(call_docs[hit.row]),
            )
            assert row["explanation"]["terms"] == [[t, round(v, 4)] for t, v in one]
            assert 1 <= len(one) <= 4
            verdict = assess(corpus.call_facts[hit.row], corpus.profile_facts[i], NOW)
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
                terms=one,
            )
