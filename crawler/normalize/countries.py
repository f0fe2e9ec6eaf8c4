"""Where applicants must be established: the countries a call's text names, as ISO 3166 codes.

"Participation is limited to legal entities established in Member States, Norway and
Iceland" is a closed list (the 27 Member States, NO, IS); "Member States and Associated
Countries" is open-ended (Germany is in, the full list is not stated); "antragsberechtigt sind
Vereine mit Sitz in Niedersachsen" puts Germany in; "except Denmark" takes a country out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from crawler.normalize.applicants import fold
from crawler.normalize.statements import (
    is_about_third_parties,
    lower,
    sentences,
    split_clauses,
)

EU_MEMBER_STATES = (
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
)  # fmt: skip

# Country names (folded: lower case, umlauts spelt out), English and German.
_NAMES: dict[str, str] = {
    "austria": "AT", "oesterreich": "AT", "belgium": "BE", "belgien": "BE",
    "bulgaria": "BG", "bulgarien": "BG", "croatia": "HR", "kroatien": "HR",
    "cyprus": "CY", "zypern": "CY", "czechia": "CZ", "czech republic": "CZ",
    "tschechien": "CZ", "tschechische republik": "CZ", "denmark": "DK", "daenemark": "DK",
    "estonia": "EE", "estland": "EE", "finland": "FI", "finnland": "FI", "france": "FR",
    "frankreich": "FR", "germany": "DE", "deutschland": "DE", "greece": "GR",
    "griechenland": "GR", "hungary": "HU", "ungarn": "HU", "ireland": "IE", "irland": "IE",
    "italy": "IT", "italien": "IT", "latvia": "LV", "lettland": "LV", "lithuania": "LT",
    "litauen": "LT", "luxembourg": "LU", "luxemburg": "LU", "malta": "MT",
    "netherlands": "NL", "niederlande": "NL", "poland": "PL", "polen": "PL",
    "portugal": "PT", "romania": "RO", "rumaenien": "RO", "slovakia": "SK",
    "slowakei": "SK", "slovenia": "SI", "slowenien": "SI", "spain": "ES", "spanien": "ES",
    "sweden": "SE", "schweden": "SE",
    "norway": "NO", "norwegen": "NO", "iceland": "IS", "liechtenstein": "LI",
    "switzerland": "CH", "schweiz": "CH", "united kingdom": "GB", "grossbritannien": "GB",
    "vereinigtes koenigreich": "GB", "ukraine": "UA", "moldova": "MD", "moldau": "MD",
    "serbia": "RS", "serbien": "RS", "montenegro": "ME", "north macedonia": "MK",
    "nordmazedonien": "MK", "albania": "AL", "albanien": "AL", "kosovo": "XK",
    "bosnia and herzegovina": "BA", "bosnien und herzegowina": "BA", "turkiye": "TR",
    "turkey": "TR", "tuerkei": "TR", "georgia": "GE", "georgien": "GE", "armenia": "AM",
    "armenien": "AM", "israel": "IL", "tunisia": "TN", "tunesien": "TN", "morocco": "MA",
    "marokko": "MA", "egypt": "EG", "aegypten": "EG", "faroe islands": "FO",
    "united states of america": "US", "united states": "US", "usa": "US", "canada": "CA",
    "kanada": "CA", "japan": "JP", "new zealand": "NZ", "neuseeland": "NZ",
    "republic of korea": "KR", "south korea": "KR", "suedkorea": "KR",
}  # fmt: skip
# Places that put an applicant in Germany: the Länder, "bundesweit", the Hannover region.
_GERMAN_PLACES = (
    "baden wuerttemberg", "bayern", "bavaria", "berlin", "brandenburg", "bremen", "hamburg",
    "hessen", "mecklenburg vorpommern", "niedersachsen", "lower saxony",
    "nordrhein westfalen", "rheinland pfalz", "saarland", "sachsen", "sachsen anhalt",
    "schleswig holstein", "thueringen", "bundesweit", "bundesgebiet", "hannover",
)  # fmt: skip
_NAME = re.compile(
    r"\b(?:" + "|".join(sorted(map(re.escape, _NAMES), key=len, reverse=True)) + r")\b"
)
_GERMAN_PLACE = re.compile(r"\b(?:" + "|".join(map(re.escape, _GERMAN_PLACES)) + r")\b")
_MEMBER_STATES = re.compile(
    r"\b(?:eu |european union )?member states?\b|\beu countries\b|\beu (?:mitglied|mitglieds)"
    r"staat\w*|\bmitgliedsstaat\w*|\bmitgliedstaat\w*|\beu staaten\b|\beu laendern?\b"
)
# "Member States" of another union are not the EU's.
_OTHER_UNIONS = re.compile(
    r"\b(?:african union|au|eea|edctp|asean) (?:member )?(?:states?|countries)\b"
)
# A negated clause that takes countries out ("except Denmark", "are not eligible").
_EXCLUDES = re.compile(
    r"\bexcept\b|\bexcluding\b|\bexception of\b|\bother than\b|\bnot (?:\w+ )?eligible\b|"
    r"\bineligible\b|\bausser\b|\bausgenommen\b|\bmit ausnahme\b|\bnicht (?:\w+ )?berechtigt\b"
)
_OPEN_ENDED = re.compile(
    r"\bassociated countr\w*|\bthird countr\w*|\bnon associated\b|\bany country\b|"
    r"\ball countries\b|\bworldwide\b|\bweltweit\b|\bdrittstaat\w*|\bdrittlaend\w*|"
    r"\bassoziiert\w*|\boverseas countries\b|\bpartner countr\w*"
)
# A sentence about where applicants are, and one that closes the list.
_WHERE = re.compile(
    r"eligible countr|\bestablished in\b|\bbased in\b|\blocated in\b|\bregistered in\b|"
    r"\bparticipation is\b|(?<!not )\b(?:limited|restricted) to\b|\bopen to\b|\bsitz in\b|"
    r"\bsitz (?:hat|haben)\b|ansaessig|niedergelassen|antragsberechtigt|\bgefoerdert werden\b"
)
_CLOSED = re.compile(
    r"(?<!not )\b(?:limited|restricted) to\b|\bonly\b|\b(?:must|shall) be (?:established|based|"
    r"located|registered)\b|\beligible countries (?:are|:)|\bnur\b|\bausschliesslich\b|"
    r"\bmit sitz in\b|\b(?:muessen|muss) (?:ihren |seinen )?sitz\b"
)


@dataclass(frozen=True)
class Countries:
    """Where applicants may be established, as far as the text says."""

    eligible: tuple[str, ...] = ()  # a closed list, ISO 3166 alpha-2; empty if not stated
    germany_eligible: bool | None = None  # None: the text does not say


def parse_countries(text: str) -> Countries:
    """The eligible countries ``text`` states, and whether applicants from Germany qualify.

    Only sentences about where applicants are established count. A list is stored only when
    it is closed ("limited to", "only", "mit Sitz in"); "Member States and Associated
    Countries" says Germany is in without closing the list.
    """
    closed: set[str] = set()
    named: set[str] = set()
    excluded: set[str] = set()
    open_ended = saw_closed = False
    for sentence in sentences(text):
        low = lower(sentence)
        if not _WHERE.search(low):
            continue
        is_closed = bool(_CLOSED.search(low))
        if is_about_third_parties(sentence):
            continue
        for clause, negated in split_clauses(sentence):
            folded = fold(clause)
            codes = _codes(folded)
            if negated:
                if _EXCLUDES.search(folded):
                    excluded |= codes
                continue
            named |= codes
            if is_closed and codes:
                closed |= codes
                saw_closed = True
            if _OPEN_ENDED.search(folded):
                open_ended = True
    if "DE" in excluded:
        return Countries((), False)
    eligible = tuple(sorted(closed - excluded)) if saw_closed and not open_ended else ()
    if "DE" in named:
        return Countries(eligible, True)
    return Countries(eligible, False if eligible else None)


def strip_other_unions(folded: str) -> str:
    """``folded`` without "African Union member states" and the like, which are not the
    EU's Member States."""
    return _OTHER_UNIONS.sub(" ", folded)


def _codes(folded: str) -> set[str]:
    folded = strip_other_unions(folded)
    codes = {_NAMES[m.group(0)] for m in _NAME.finditer(folded)}
    if _MEMBER_STATES.search(folded):
        codes |= set(EU_MEMBER_STATES)
    if _GERMAN_PLACE.search(folded):
        codes.add("DE")
    return codes
