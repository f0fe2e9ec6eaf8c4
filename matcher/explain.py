"""Why a call matched: the facts of an explanation, stored as JSON with the match.

The stored form (``Match.explanation``) holds facts, not prose, so that the web app, the
desk API and the emails render it in the reader's language (:mod:`matcher.reasons`) and an
old match renders in a new wording::

    {"version": 2, "score": 0.31, "similarity": 0.28,
     "terms": [["town twinning", 0.061, "Städtepartnerschaft", "de"],
               ["Begegnungen", 0.022], ...],
     "applicant_type": "municipality", "eligibility": "eligible" | "unknown",
     "regions": ["EU"], "status": "open" | "forthcoming", "opening_date": "2026-10-01",
     "deadline": "2026-09-19T15:00:00+00:00" | null, "deadline_timezone": "Europe/Brussels",
     "deadline_model": "single", "budget": "budget_fits" | ... | null, "deadline_tight": false,
     "factor": 1.1, "feedback": {"relevant": 2, "not_relevant": 0}}

Each term is ``[word, weight]``: the word as the call writes it (umlauts and case kept)
and its share of the score; where the bilingual bridge made the link (glossary,
dictionary, cognate), ``[word, weight, profile word, its language]`` with the profile's own
word as it writes it. Version 1 stored ``[word, weight]`` with the word folded
("gemeinnutzige"); it still renders.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matcher.eligibility import Assessment, CallFacts, ProfileFacts
from matcher.reasons import explanation_view, format_deadline

__all__ = [
    "VERSION",
    "build_explanation",
    "call_fields",
    "explanation",
    "explanation_lines",
    "format_deadline",
]

VERSION = 2

# A term as stored: word, weight, and (bridged) the profile's word and its language.
Term = tuple[str, float] | tuple[str, float, str | None, str | None]


def call_fields(call: CallFacts) -> dict[str, Any]:
    """The part of an explanation that depends on the call alone (the same for every profile
    it matches, so a re-match makes it once per call)."""
    return {
        "regions": list(call.regions),
        "status": call.status,
        "opening_date": call.opening_date.isoformat() if call.opening_date else None,
        "deadline": call.next_deadline_at.isoformat() if call.next_deadline_at else None,
        "deadline_timezone": call.deadline_timezone,
        "deadline_model": call.deadline_model,
    }


def build_explanation(
    call: CallFacts,
    profile: ProfileFacts,
    verdict: Assessment,
    *,
    score: float,
    similarity: float,
    terms: Sequence[Term] = (),
    feedback: tuple[int, int] = (0, 0),
    fields: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON explanation of one match (see the module docstring for the shape).

    ``terms``: (word, weight) or (word, weight, profile word, its language), best first.
    ``fields``: :func:`call_fields` of ``call``, when the caller made them already.
    """
    return explanation(
        profile,
        verdict,
        call_fields(call) if fields is None else fields,
        score=score,
        similarity=similarity,
        terms=[_stored_term(term) for term in terms],
        feedback=feedback,
    )


def _stored_term(term: Term) -> list[Any]:
    stored: list[Any] = [str(term[0]), round(float(term[1]), 4)]
    if len(term) > 2 and term[2]:
        stored += [term[2], term[3] if len(term) > 3 else None]
    return stored


def explanation(
    profile: ProfileFacts,
    verdict: Assessment,
    known: dict[str, Any],
    *,
    score: float,
    similarity: float,
    terms: list[list[Any]],
    feedback: tuple[int, int],
) -> dict[str, Any]:
    """:func:`build_explanation` from parts made once for many matches: the call's
    :func:`call_fields` (``known``) and the ``terms`` as ``[word, weight rounded to 4
    places]`` lists, bridged ones with the profile's word and its language (kept as given,
    not copied)."""
    return {
        "version": VERSION,
        "score": round(float(score), 4),
        "similarity": round(float(similarity), 4),
        "terms": terms,
        "applicant_type": profile.applicant_type,
        "eligibility": "unknown" if verdict.unknown else "eligible",
        "regions": list(known["regions"]),
        "status": known["status"],
        "opening_date": known["opening_date"],
        "deadline": known["deadline"],
        "deadline_timezone": known["deadline_timezone"],
        "deadline_model": known["deadline_model"],
        "budget": verdict.budget,
        "deadline_tight": verdict.tight,
        "factor": round(verdict.factor, 4),
        "feedback": {"relevant": feedback[0], "not_relevant": feedback[1]},
    }


def explanation_lines(explanation: dict[str, Any], lang: str = "de") -> list[str]:
    """The explanation as one list of short sentences: the reasons, the deadline, then the
    cautions (:func:`matcher.reasons.explanation_view` keeps them apart)."""
    view = explanation_view(explanation, lang)
    return [*view.reasons, *([view.deadline] if view.deadline else []), *view.cautions]
