"""A match's explanation for a person: the words to recognise, the reasons, the cautions.

:func:`explanation_view` renders the facts a match stores (``Match.explanation``, made by
:mod:`matcher.explain`) in the reader's language, "de" or "en", and in that one only:

* ``terms``: the words profile and call share, as the call writes them ("Begegnungen",
  "gemeinnützige"), and where the bilingual bridge made the link the profile's own word
  too, the reader's language first: "Städtepartnerschaft ↔ town twinning";
* ``reasons``: why the call fits — the shared words, who may apply, the grant fits the
  budget, the eligible area, earlier reviews taken into account;
* ``cautions``: what speaks against it or needs checking first — a minimum grant above the
  budget, grants below the minimum need, eligibility not stated, a tight deadline, a call
  not open yet. A caution is never listed as a reason;
* ``deadline``: when the call is due, in the deadline's own time zone.

At most :data:`MAX_LINES` lines each. The web pages, the desk API and the emails render
the same view; it holds text, no markup, so this module needs no web framework.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from matcher.analysis import fold
from matcher.eligibility import TIGHT_MARGIN_DAYS

MAX_LINES = 4
BRIDGE = " ↔ "

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
# Regions as calls state them: codes, and the German names some sources write.
REGION_NAMES = {
    "EU": ("EU-weit", "EU-wide"),
    "DE": ("Deutschland", "Germany"),
    "bundesweit": ("bundesweit", "Germany-wide"),
    "DE-NI": ("Niedersachsen", "Lower Saxony"),
    "Niedersachsen": ("Niedersachsen", "Lower Saxony"),
    "DE-BY": ("Bayern", "Bavaria"),
    "Bayern": ("Bayern", "Bavaria"),
    "Hessen": ("Hessen", "Hesse"),
    "Thüringen": ("Thüringen", "Thuringia"),
    "WORLD": ("weltweit", "worldwide"),
    "INT": ("international", "international"),
}
_MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

TEXT = {
    "de": {
        "terms": "Passende Begriffe: {}",
        "eligible": "{} antragsberechtigt",
        "regions": "Fördergebiet: {}",
        "budget_fits": "Fördersumme passt zum Budget",
        "feedback": "Frühere Bewertungen berücksichtigt ({} relevant, {} nicht relevant)",
        "unknown": "Antragsberechtigung nicht angegeben – bitte prüfen",
        "grant_too_large": "Mindestfördersumme über dem Budget",
        "grant_too_small": "Fördersumme unter dem Mindestbedarf",
        "tight": "Frist knapp: weniger als {} Tage über der Vorlaufzeit",
        "opens": "Noch nicht geöffnet – öffnet am {}",
        "not_open": "Noch nicht geöffnet",
        "deadline": "Frist {date}, {time} Uhr {city}",
        "no_deadline": "Keine feste Frist (laufende Antragstellung)",
    },
    "en": {
        "terms": "Matching words: {}",
        "eligible": "{} may apply",
        "regions": "Eligible area: {}",
        "budget_fits": "Grant size fits the budget",
        "feedback": "Earlier reviews taken into account ({} relevant, {} not relevant)",
        "unknown": "Eligibility not stated – please check",
        "grant_too_large": "Minimum grant above the budget",
        "grant_too_small": "Grants below the minimum need",
        "tight": "Tight deadline: less than {} days beyond the lead time",
        "opens": "Not open yet – opens on {}",
        "not_open": "Not open yet",
        "deadline": "Deadline {date}, {time} {city} time",
        "no_deadline": "No fixed deadline (continuous submission)",
    },
}
_CAUTION_BUDGETS = ("grant_too_large", "grant_too_small")


@dataclass(frozen=True)
class TermView:
    """A word profile and call share: the call's word, and the profile's own word where the
    bilingual bridge made the link (None where both use the same word)."""

    word: str
    profile_word: str | None = None
    profile_language: str | None = None

    def label(self, lang: str) -> str:
        """The word for a reader of ``lang``: "Städtepartnerschaft ↔ town twinning" (the
        word in the reader's language first), or the call's word alone."""
        if not self.profile_word:
            return self.word
        if self.profile_language == language(lang):
            return f"{self.profile_word}{BRIDGE}{self.word}"
        return f"{self.word}{BRIDGE}{self.profile_word}"

    def as_dict(self) -> dict[str, str | None]:
        return {"word": self.word, "profile_word": self.profile_word}


@dataclass(frozen=True)
class ExplanationView:
    """A match explained in one language (see the module docstring)."""

    lang: str
    terms: list[TermView] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    cautions: list[str] = field(default_factory=list)
    deadline: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The view as JSON-ready data (for the desk API)."""
        return {
            "lang": self.lang,
            "terms": [term.as_dict() for term in self.terms],
            "reasons": list(self.reasons),
            "cautions": list(self.cautions),
            "deadline": self.deadline,
        }


def language(lang: str | None) -> str:
    """The reader's language: "en" for any English locale ("en", "en_GB"), else "de"."""
    return "en" if (lang or "").lower().startswith("en") else "de"


def explanation_view(explanation: dict[str, Any], lang: str = "de") -> ExplanationView:
    """The stored ``explanation`` of a match for a reader of ``lang`` ("de" or "en").

    Any version renders: unknown or missing keys are skipped, and terms stored as
    ``[word, weight]`` (version 1) have no profile word.
    """
    lang = language(lang)
    text = TEXT[lang]
    terms = term_views(explanation.get("terms") or ())
    reasons: list[str] = []
    cautions: list[str] = []
    if terms:
        reasons.append(text["terms"].format(", ".join(term.label(lang) for term in terms)))
    if explanation.get("eligibility") == "unknown":
        cautions.append(text["unknown"])
    elif explanation.get("applicant_type"):
        kind = str(explanation["applicant_type"])
        reasons.append(text["eligible"].format(APPLICANT_LABELS[lang].get(kind, kind)))
    budget = explanation.get("budget")
    if budget == "budget_fits":
        reasons.append(text["budget_fits"])
    elif budget in _CAUTION_BUDGETS:
        cautions.append(text[budget])
    regions = explanation.get("regions") or []
    if regions:
        index = 0 if lang == "de" else 1
        names = [REGION_NAMES[r][index] if r in REGION_NAMES else str(r) for r in regions]
        reasons.append(text["regions"].format(", ".join(names)))
    feedback = explanation.get("feedback") or {}
    if feedback.get("relevant") or feedback.get("not_relevant"):
        reasons.append(
            text["feedback"].format(feedback.get("relevant", 0), feedback.get("not_relevant", 0))
        )
    deadline = None
    if explanation.get("deadline"):
        due = datetime.fromisoformat(explanation["deadline"])
        deadline = format_deadline(due, explanation.get("deadline_timezone") or "UTC", lang)
        if explanation.get("deadline_tight"):
            cautions.append(text["tight"].format(TIGHT_MARGIN_DAYS))
    elif "deadline" in explanation:
        deadline = text["no_deadline"]
    if explanation.get("status") == "forthcoming":
        opening = explanation.get("opening_date")
        if opening:
            cautions.append(text["opens"].format(format_date(date.fromisoformat(opening), lang)))
        else:
            cautions.append(text["not_open"])
    return ExplanationView(
        lang, terms, reasons[:MAX_LINES], cautions[:MAX_LINES], deadline=deadline
    )


def term_views(stored: Any) -> list[TermView]:
    """The stored terms as a reader sees them, best first: a phrase stands in for the
    single words it holds ("young people", not also "young" and "people"), in the place of
    the best of them, and the terms bridged from one profile word are listed together
    ("Städtepartnerschaft ↔ town twinning / twinned towns")."""
    terms: list[TermView] = []
    for item in stored:
        if not item:
            continue
        word = str(item[0])
        profile_word = str(item[2]) if len(item) > 2 and item[2] else None
        if profile_word and fold(profile_word) == fold(word):
            profile_word = None  # the same word in both ("Innovation", "innovation")
        said_in = str(item[3]) if profile_word and len(item) > 3 and item[3] else None
        terms.append(TermView(word, profile_word, said_in))
    parts = [frozenset(fold(term.word).split()) for term in terms]
    # Each term at the place of the first term whose words it holds (its own, or a word's).
    place: dict[int, int] = {}
    for k, own in enumerate(parts):
        if any(own < other for other in parts):
            continue  # a phrase below holds its words
        place.setdefault(k, min(j for j, words in enumerate(parts) if words <= own))
    views: list[TermView] = []
    for k in sorted(place, key=lambda k: (place[k], k)):
        term = terms[k]
        same = [
            v
            for v, seen in enumerate(views)
            if term.profile_word and seen.profile_word == term.profile_word
        ]
        if same:
            seen = views[same[0]]
            views[same[0]] = TermView(
                f"{seen.word} / {term.word}", seen.profile_word, seen.profile_language
            )
        elif not any(parts[k] == frozenset(fold(seen.word).split()) for seen in views):
            views.append(term)
    return views


def format_deadline(due_utc: datetime, timezone: str, lang: str = "de") -> str:
    """A deadline in its own time zone: "Frist 19.09.2026, 17:00 Uhr Brüssel"."""
    lang = language(lang)
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone, timezone = ZoneInfo("UTC"), "UTC"
    local = due_utc.astimezone(zone)
    cities = ZONE_CITIES.get(timezone)
    city = (cities[0] if lang == "de" else cities[1]) if cities else timezone.split("/")[-1]
    city = city.replace("_", " ")
    return TEXT[lang]["deadline"].format(
        date=format_date(local.date(), lang), time=local.strftime("%H:%M"), city=city
    )


def format_date(value: date, lang: str) -> str:
    """A date as the reader writes it: "15.06.2026" or "15 Jun 2026"."""
    if language(lang) == "de":
        return value.strftime("%d.%m.%Y")
    return f"{value.day} {_MONTHS_EN[value.month - 1]} {value.year}"
