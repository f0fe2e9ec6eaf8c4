"""Why a call matched: an explanation stored as JSON and rendered as sentences.

The stored form (``Match.explanation``) holds facts, not prose, so that the web app and the
emails can render it in the reader's language and an old match renders in a new wording::

    {"version": 1, "score": 0.31, "similarity": 0.28,
     "terms": [["climate mitigation", 0.061], ...],        # from TextModel.top_terms
     "applicant_type": "municipality", "eligibility": "eligible" | "unknown",
     "regions": ["EU"], "status": "open" | "forthcoming", "opening_date": "2026-10-01",
     "deadline": "2026-09-19T15:00:00+00:00" | null, "deadline_timezone": "Europe/Brussels",
     "deadline_model": "single", "budget": "budget_fits" | ... | null, "deadline_tight": false,
     "factor": 1.1, "feedback": {"relevant": 2, "not_relevant": 0}}

:func:`explanation_lines` turns it into lines such as "Kommunen antragsberechtigt" or
"Frist 19.09.2026, 17:00 Uhr Brüssel" (deadlines shown in the deadline's own time zone).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from matcher.eligibility import TIGHT_MARGIN_DAYS, Assessment, CallFacts, ProfileFacts

VERSION = 1

# Who may apply, as the plural a notice would use.
APPLICANT_LABELS = {
    "de": {
        "municipality": "Kommunen",
        "public_body": "Öffentliche Einrichtungen",
        "ngo": "Vereine und NGOs",
        "company": "Unternehmen",
        "research": "Hochschulen und Forschungseinrichtungen",
        "education": "Bildungseinrichtungen",
        "individual": "Privatpersonen",
    },
    "en": {
        "municipality": "Municipalities",
        "public_body": "Public bodies",
        "ngo": "Associations and NGOs",
        "company": "Companies",
        "research": "Universities and research organisations",
        "education": "Educational institutions",
        "individual": "Individuals",
    },
}
# Time zones by the city people know them by.
ZONE_CITIES = {
    "Europe/Brussels": ("Brüssel", "Brussels"),
    "Europe/Berlin": ("Berlin", "Berlin"),
    "Europe/Luxembourg": ("Luxemburg", "Luxembourg"),
    "Europe/Paris": ("Paris", "Paris"),
    "Europe/Vienna": ("Wien", "Vienna"),
    "Europe/Rome": ("Rom", "Rome"),
    "Europe/Amsterdam": ("Amsterdam", "Amsterdam"),
    "Europe/London": ("London", "London"),
    "UTC": ("UTC", "UTC"),
}
REGION_NAMES = {
    "EU": ("EU-weit", "EU-wide"),
    "DE": ("Deutschland", "Germany"),
    "DE-NI": ("Niedersachsen", "Lower Saxony"),
    "WORLD": ("weltweit", "worldwide"),
    "INT": ("international", "international"),
}
_MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

_TEXT = {
    "de": {
        "terms": "Passende Begriffe: {}",
        "eligible": "{} antragsberechtigt",
        "unknown": "Antragsberechtigung unbekannt – bitte prüfen",
        "regions": "Fördergebiet: {}",
        "deadline": "Frist {date}, {time} Uhr {city}",
        "no_deadline": "Keine feste Frist (laufende Antragstellung)",
        "tight": "Frist knapp: weniger als {} Tage über der Vorlaufzeit",
        "opens": "Noch nicht geöffnet – öffnet am {}",
        "budget_fits": "Fördersumme passt zum Budget",
        "grant_too_small": "Fördersumme kleiner als der Mindestbedarf",
        "grant_too_large": "Mindestfördersumme größer als das Budget",
        "feedback": "Berücksichtigt frühere Bewertungen ({} relevant, {} nicht relevant)",
    },
    "en": {
        "terms": "Matching terms: {}",
        "eligible": "{} may apply",
        "unknown": "Eligibility unknown – please check",
        "regions": "Eligible area: {}",
        "deadline": "Deadline {date}, {time} {city} time",
        "no_deadline": "No fixed deadline (continuous submission)",
        "tight": "Tight deadline: less than {} days beyond the lead time",
        "opens": "Not open yet – opens on {}",
        "budget_fits": "Grant size fits the budget",
        "grant_too_small": "Grants are smaller than the minimum need",
        "grant_too_large": "Minimum grant is larger than the budget",
        "feedback": "Takes earlier reviews into account ({} relevant, {} not relevant)",
    },
}


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
    terms: Sequence[tuple[str, float]] = (),
    feedback: tuple[int, int] = (0, 0),
    fields: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON explanation of one match (see the module docstring for the shape).

    ``fields``: :func:`call_fields` of ``call``, when the caller made them already.
    """
    return explanation(
        profile,
        verdict,
        call_fields(call) if fields is None else fields,
        score=score,
        similarity=similarity,
        terms=[[str(term), round(float(weight), 4)] for term, weight in terms],
        feedback=feedback,
    )


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
    places]`` lists (kept as given, not copied)."""
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


def _language(lang: str) -> str:
    return "en" if lang.lower().startswith("en") else "de"


def format_deadline(due_utc: datetime, timezone: str, lang: str = "de") -> str:
    """A deadline in its own time zone: "Frist 19.09.2026, 17:00 Uhr Brüssel"."""
    lang = _language(lang)
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone, timezone = ZoneInfo("UTC"), "UTC"
    local = due_utc.astimezone(zone)
    cities = ZONE_CITIES.get(timezone)
    city = (cities[0] if lang == "de" else cities[1]) if cities else timezone.split("/")[-1]
    city = city.replace("_", " ")
    if lang == "de":
        day = local.strftime("%d.%m.%Y")
    else:
        day = f"{local.day} {_MONTHS_EN[local.month - 1]} {local.year}"
    return _TEXT[lang]["deadline"].format(date=day, time=local.strftime("%H:%M"), city=city)


def _format_date(value: date, lang: str) -> str:
    if lang == "de":
        return value.strftime("%d.%m.%Y")
    return f"{value.day} {_MONTHS_EN[value.month - 1]} {value.year}"


def explanation_lines(explanation: dict[str, Any], lang: str = "de") -> list[str]:
    """The explanation as short sentences for a person, in German (default) or English.

    Unknown or missing keys are skipped, so an explanation stored by an older version still
    renders.
    """
    lang = _language(lang)
    text = _TEXT[lang]
    lines: list[str] = []
    terms = [str(t[0]) for t in explanation.get("terms") or () if t]
    if terms:
        lines.append(text["terms"].format(", ".join(terms)))
    if explanation.get("eligibility") == "unknown":
        lines.append(text["unknown"])
    elif explanation.get("applicant_type"):
        label = APPLICANT_LABELS[lang].get(
            explanation["applicant_type"], explanation["applicant_type"]
        )
        lines.append(text["eligible"].format(label))
    regions = explanation.get("regions") or []
    if regions:
        index = 0 if lang == "de" else 1
        names = [REGION_NAMES[r][index] if r in REGION_NAMES else r for r in regions]
        lines.append(text["regions"].format(", ".join(names)))
    if explanation.get("status") == "forthcoming" and explanation.get("opening_date"):
        opening = date.fromisoformat(explanation["opening_date"])
        lines.append(text["opens"].format(_format_date(opening, lang)))
    if explanation.get("deadline"):
        due = datetime.fromisoformat(explanation["deadline"])
        lines.append(format_deadline(due, explanation.get("deadline_timezone") or "UTC", lang))
        if explanation.get("deadline_tight"):
            lines.append(text["tight"].format(TIGHT_MARGIN_DAYS))
    elif "deadline" in explanation:
        lines.append(text["no_deadline"])
    budget = explanation.get("budget")
    if budget in text:
        lines.append(text[budget])
    feedback = explanation.get("feedback") or {}
    if feedback.get("relevant") or feedback.get("not_relevant"):
        lines.append(
            text["feedback"].format(feedback.get("relevant", 0), feedback.get("not_relevant", 0))
        )
    return lines
