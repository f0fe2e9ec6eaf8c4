"""Who may apply: every source's vocabulary mapped onto ``storage.models.APPLICANT_TYPES``.

The Förderdatenbank writes display labels ("Verband/Vereinigung") or raw codes
("verband_vereinigung"), NBank and the foundations write German prose, the EU portal English
prose ("non-profit organisations representing local authorities"). All of it ends up as
municipality, public_body, ngo, company, research, education or individual.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable

from storage.models import APPLICANT_TYPES

log = logging.getLogger(__name__)

# Exact terms (after folding: lower case, umlauts spelt out, separators as spaces).
_TERMS: dict[str, str] = {
    # Förderdatenbank labels and codes (cl2Processes_Foerderberechtigte)
    "kommune": "municipality",
    "kommunen": "municipality",
    "oeffentliche einrichtung": "public_body",
    "verband vereinigung": "ngo",
    "unternehmen": "company",
    "existenzgruenderin": "company",
    "existenzgruender in": "company",
    "existenzgruender": "company",
    "bildungseinrichtung": "education",
    "forschungseinrichtung": "research",
    "hochschule": "research",
    "privatperson": "individual",
    # German terms of NBank, SKEW, the foundations
    "gemeinde": "municipality",
    "gemeinden": "municipality",
    "landkreis": "municipality",
    "landkreise": "municipality",
    "stadt": "municipality",
    "staedte": "municipality",
    "kommunalverwaltung": "municipality",
    "kommunalverwaltungen": "municipality",
    "gebietskoerperschaft": "municipality",
    "behoerde": "public_body",
    "behoerden": "public_body",
    "oeffentliche einrichtungen": "public_body",
    "verein": "ngo",
    "vereine": "ngo",
    "verband": "ngo",
    "verbaende": "ngo",
    "stiftung": "ngo",
    "stiftungen": "ngo",
    "ggmbh": "ngo",
    "gemeinnuetzige organisation": "ngo",
    "gemeinnuetzige organisationen": "ngo",
    "kmu": "company",
    "schule": "education",
    "schulen": "education",
    "universitaet": "research",
    "hochschulen": "research",
    "privatpersonen": "individual",
    # English
    "municipality": "municipality",
    "municipalities": "municipality",
    "local authority": "municipality",
    "local authorities": "municipality",
    "city": "municipality",
    "cities": "municipality",
    "public body": "public_body",
    "public bodies": "public_body",
    "public authority": "public_body",
    "public authorities": "public_body",
    "ngo": "ngo",
    "ngos": "ngo",
    "non profit organisations": "ngo",
    "non profit organizations": "ngo",
    "civil society organisations": "ngo",
    "associations": "ngo",
    "foundations": "ngo",
    "sme": "company",
    "smes": "company",
    "company": "company",
    "companies": "company",
    "enterprises": "company",
    "businesses": "company",
    "university": "research",
    "universities": "research",
    "research organisations": "research",
    "research institutions": "research",
    "schools": "education",
    "educational institutions": "education",
    "individual": "individual",
    "individuals": "individual",
    "natural persons": "individual",
}

# Prose patterns, German and English, per applicant type (searched in folded text).
_PATTERNS: dict[str, re.Pattern[str]] = {
    "municipality": re.compile(
        r"\b(?:municipalit(?:y|ies)|local (?:(?:and|or) regional )?authorit(?:y|ies)|towns?\b|"
        r"regional (?:and|or) local authorit(?:y|ies)|municipal (?:authorit(?:y|ies)|"
        r"administrations?|governments?|councils?)|"
        r"cities\b|city (?:council|administration)s?|local governments?|urban authorit(?:y|ies)|"
        r"kommun(?:e|en|alverwaltung\w*)\b|gemeinden?\b|landkreise?\b|staedte\b|"
        r"gebietskoerperschaft\w*)"
    ),
    "public_body": re.compile(
        r"\b(?:public (?:bodies|body|authorit(?:y|ies)|entit(?:y|ies)|administrations?|"
        r"institutions?|sector bodies)|oeffentliche\w* (?:einrichtung\w*|stelle\w*|hand)|"
        r"behoerden?\b|koerperschaft\w* des oeffentlichen rechts|"
        r"(?:national|regional|competent|governmental|state) (?:public )?authorit(?:y|ies)|"
        r"police authorit(?:y|ies)|law enforcement (?:authorit(?:y|ies)|agenc(?:y|ies))|"
        r"border (?:(?:and|or) coast guard )?authorit(?:y|ies)|public procurers?|"
        r"ministr(?:y|ies)\b)"
    ),
    "ngo": re.compile(
        r"(?:\bnon ?profit|\bnot for profit|\bngos?\b|\bnon governmental|\bcivil society|"
        r"\bcharit(?:y|ies)\b|\bassociations?\b|\bfoundations?\b|\btwinning committees?|"
        r"\bvereine?\b|\bverbaende\b|\bverband\b|\bstiftung(?:en)?\b|gemeinnuetzig\w*|"
        r"\bggmbh\b|\bwohlfahrtsverb\w*|\bmigrant\w*organisation\w*)"
    ),
    "company": re.compile(
        r"\b(?:smes?\b|small and medium sized enterprises|compan(?:y|ies)\b|enterprises?\b|"
        r"businesses\b|private (?:for profit )?(?:entit(?:y|ies)|companies)|unternehmen\b|"
        r"kmu\b|start ?ups?\b|existenzgruend\w*|selbststaendige\w*)"
    ),
    "research": re.compile(
        r"\b(?:universit(?:y|ies|aet\w*)|research (?:organi[sz]ations?|institutions?|centres?|"
        r"centers?|performing)|higher education|hochschul\w*|forschungseinrichtung\w*|"
        r"forschungsinstitut\w*)"
    ),
    "education": re.compile(
        r"\b(?:schools?\b|educational (?:institutions?|establishments?|organi[sz]ations?)|"
        r"education (?:and training )?providers?|training (?:providers?|centres?)|"
        r"bildungseinrichtung\w*|bildungstraeger\w*|schulen?\b|kitas?\b|"
        r"kindertageseinrichtung\w*)"
    ),
    "individual": re.compile(
        r"\b(?:natural persons?|individuals\b|private persons?|privatperson\w*|"
        r"einzelpersonen\b|buergerinnen und buerger)"
    ),
}


def fold(term: str) -> str:
    """``term`` in the form the tables use: lower case, umlauts as ae/oe/ue, ß as ss,
    separators ("/", "_", "-", ",") as single spaces."""
    text = term.casefold().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    text = text.replace("ß", "ss")
    # Other accents (é, è) are dropped rather than spelt out.
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[\s/_\-,;:()]+", " ", text).strip()


def map_applicants(terms: Iterable[str]) -> list[str]:
    """The applicant types named by a source's terms, in vocabulary order, without repeats.

    A term is looked up whole ("Verband/Vereinigung", "verband_vereinigung"), else read as
    prose ("Kommunen und deren Zusammenschlüsse"). Terms that name no type are ignored and
    logged at debug level; :func:`unmapped_terms` lists them.
    """
    found: set[str] = set()
    for term in _split(terms):
        types = _types_of(term)
        if not types:
            log.debug("applicant term not mapped: %r", term)
        found.update(types)
    return [kind for kind in APPLICANT_TYPES if kind in found]


def unmapped_terms(terms: Iterable[str]) -> list[str]:
    """The terms :func:`map_applicants` could not map (for a crawl's "unknown terms" log)."""
    return [term for term in _split(terms) if not _types_of(term)]


def infer_applicants(text: str) -> list[str]:
    """The applicant types a prose text names (EU conditions, NBank "Wen fördern wir"),
    in vocabulary order. The caller marks the result as inferred."""
    if not text:
        return []
    folded = fold(text)
    return [kind for kind in APPLICANT_TYPES if _PATTERNS[kind].search(folded)]


def _split(terms: Iterable[str]) -> list[str]:
    if isinstance(terms, str):
        terms = [terms]
    parts = []
    for term in terms:
        if not isinstance(term, str):
            continue
        # Sources join several labels with commas or semicolons in one field.
        parts.extend(piece.strip() for piece in re.split(r"[,;]", term) if piece.strip())
    return parts


def _types_of(term: str) -> set[str]:
    folded = fold(term)
    if folded in _TERMS:
        return {_TERMS[folded]}
    return {kind for kind, pattern in _PATTERNS.items() if pattern.search(folded)}
