"""Who may apply, with whom and from where: stated by the call, or inferred from its programme.

Two kinds of evidence, kept apart per applicant type:

- *stated*: the source's own applicant field (Förderdatenbank "Förderberechtigte") or a
  sentence of the call's conditions or description that says who may apply ("Antragsberechtigt
  sind Kommunen", "Eligible applicants: NGOs", "requires the involvement, as beneficiaries, of
  at least three cities");
- *inferred*: the first rule of ``eligibility_rules.yaml`` that matches the programme, the
  type of action or the identifier (Horizon Europe RIA: any legal entity, three partners from
  three countries), each rule with the public document it comes from.

Stated beats inferred: when the call says who may apply, its list is the answer; a sentence
on who must (or may also) take part adds to the rule's types. A conflict, a type the call
names and the rule leaves out, is logged with both sides, never dropped silently.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from crawler.normalize.applicants import fold, infer_applicants, map_applicants
from crawler.normalize.countries import Countries, parse_countries, strip_other_unions
from crawler.normalize.statements import (
    clauses,
    cued_sentences,
    is_about_third_parties,
    sentences,
    split_clauses,
)
from storage.models import APPLICANT_TYPES

__all__ = [
    "Consortium",
    "Countries",
    "Eligibility",
    "Rule",
    "Topic",
    "decide_eligibility",
    "load_rules",
    "match_rule",
    "parse_consortium",
    "parse_countries",
    "stated_applicants",
]

log = logging.getLogger(__name__)

RULES_FILE = Path(__file__).with_name("eligibility_rules.yaml")
MATCH_KEYS = ("identifier", "programme", "type_of_action", "title")
_RULE_KEYS = {"id", "match", "applicants", "consortium", "germany_eligible", "note", "source"}
_CONSORTIUM_KEYS = {"min_partners", "min_countries", "single_applicant"}

# --- who may apply: the sentences that say so -------------------------------------------
# "defines": the sentence says who may apply; "adds": who must (or may also) take part.
_DEFINES = re.compile(
    r"\beligib(?:le|ility)\s*:|\beligible (?:lead )?(?:applicants?|entities|organi[sz]ations|"
    r"participants|partners|beneficiar\w*|bodies|institutions|candidates)\b|"
    r"\b(?:entities|organi[sz]ations|applicants|bodies|institutions|authorities|persons|ngos|"
    r"smes|universities|companies|enterprises|municipalities|cities|partners|participants)\b"
    r"[^.]{0,60}\b(?:are|is|shall be|will be)\s+(?:\w+\s+)?eligible\b|\bwho (?:can|may) apply\b|"
    r"\b(?:can|may) (?:apply|submit)\b|\bare invited to (?:apply|submit|form)\b|"
    r"\b(?:call|calls|topic|programme|scheme|competition|prize|participation|funding|grants?)\b"
    r"[^.]{0,40}\bopen to\b|"
    r"\bapplicants? (?:must|shall|need to|have to) be\b|(?<!not )\b(?:limited|restricted) to\b|"
    r"\b(?:lead applicants?|coordinators?|lead partners?) (?:must|shall|may|can) be\b|"
    r"\bonly\b.{0,80}\b(?:may|can) be (?:lead|coordinat|applicant)|"
    r"antragsberechtigt|antragstellend|\bantragsteller\w*\s+(?:sind|ist|koennen|muessen|duerfen)|"
    r"zuwendungsempfaeng|foerderberechtigt|teilnahmeberechtigt|\bgefoerdert werden\b|"
    r"\bwer (?:wird|kann|darf)\b|\b(?:koennen|duerfen) (?:einen |ihren )?antr(?:ag|aege) "
    r"(?:stellen|einreichen)|\bantr(?:ag|aege) (?:stellen|einreichen) (?:koennen|duerfen)|"
    r"\b(?:koennen|duerfen) sich (?:\w+ ){0,3}bewerben|\bbewerben koennen\b|"
    r"\brichtet sich an\b|foerdermittelempfaeng|foerderempfaeng|"
    r"\bfoerderfaehig sind\b"
)
_ADDS = re.compile(
    r"\b(?:consorti(?:um|a)|proposals?|projects?|partnerships?|applications?)\b.{0,60}?"
    r"\b(?:must|shall|are required to|is required to|will have to)\s+(?:also\s+)?"
    r"(?:include|involve|comprise|consist|be composed|bring together|contain)|"
    r"\brequires? (?:the )?(?:active )?(?:involvement|participation)\b|"
    r"\bas (?:beneficiar(?:y|ies)|partners|co ?applicants)\b|\bmust participate\b|"
    r"\b(?:muss|muessen) (?:\w+ ){0,6}(?:beteiligt|eingebunden|einbezogen) (?:sein|werden)|"
    r"\bverbund\w* aus\b|\bbeteiligung (?:von|einer|eines|mindestens)\b"
)
# Every cue above contains one of these stems; a sentence without any is no statement.
_ANY_CUE = re.compile(
    r"eligib|apply|applicant|open to|limited to|restricted to|invited to|submit|lead partner|"
    r"coordinator|antr|zuwendung|foerder|teilnahmeberecht|wer (?:wird|kann|darf)|bewerb|"
    r"richtet sich|include|involve|comprise|consist|composed|bring together|contain|"
    r"participat|beneficiar|as partners|co.?applicant|beteilig|eingebunden|einbezogen|verbund"
)
# "are also eligible", "exceptionally eligible": additions to the usual applicants.
_ALSO = re.compile(
    r"\b(?:also|exceptionally|additionally|in addition|furthermore|auch|ebenfalls|zusaetzlich)\b|"
    r"\beligible (?:to receive|for) (?:union |eu )?funding\b"
)
# Names that look like applicant types but are not ("Joint Research Centre" is the
# Commission's own service; the "Cities Mission Platform" is a project).
_NOT_APPLICANTS = re.compile(
    r"\bjoint research cent(?:re|er)\b|\bjrc\b|\bassociat(?:ion|ed) (?:agreements?|countr\w*)|"
    r"\b(?:cities mission|mission cities)(?: platform)?\b|\bclimate neutral and smart cities\b|"
    r"\bnet ?zero ?cities\b|\bassociation\b(?! of\b)"
)


# --- with whom: consortium phrases (on folded text) --------------------------------------
_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "ein": 1, "eine": 1, "einer": 1,
    "einem": 1, "einen": 1, "zwei": 2, "drei": 3, "vier": 4, "fuenf": 5, "sechs": 6,
    "sieben": 7, "acht": 8, "neun": 9, "zehn": 10, "elf": 11, "zwoelf": 12,
}  # fmt: skip
_NUM = r"(\d{1,2}|" + "|".join(_NUMBERS) + r")(?: \d{1,2})?"
_PARTNERS = re.compile(
    r"\b(?:at least|a minimum of|minimum of|minimum|no fewer than|not less than|mindestens|"
    rf"wenigstens) {_NUM} (?:(?:independent|eligible|different|full|legal|separate|"
    r"verschiedene\w*|unabhaengige\w*|antragsberechtigte\w*) )*(?:legal entities|entities|"
    r"applicants|partners|beneficiaries|organi[sz]ations|participants|co applicants|"
    r"partner\w*|antragsteller\w*|einrichtungen|organisationen|institutionen|verbundpartner\w*|"
    r"kooperationspartner\w*|projektpartner\w*)\b"
)
_COUNTRIES = re.compile(
    rf"\b(?:from|in|aus) (?:at least |a minimum of |mindestens )?{_NUM} (?:(?:different|"
    r"distinct|eligible|participating|verschiedenen|unterschiedlichen|eu) )*(?:countries|"
    r"member states|states|laendern|staaten|mitgliedstaaten|mitgliedsstaaten)\b"
)
_EACH_DIFFERENT = re.compile(
    r"\beach (?:\w+ )?(?:established |located |based )?in a different (?:eligible )?"
    r"(?:eu )?(?:member state|country)"
)
_SINGLE = re.compile(
    r"\bsingle (?:applicants?|beneficiar\w*|legal entit\w*|entit\w*|organi[sz]ations?|"
    r"applications?)\b|\bmono beneficiar\w*|\bno consortium (?:is )?(?:required|needed)\b|"
    r"\bsubmitted by (?:a minimum of |at least |minimum )?(?:1|one) (?:applicant|legal entity|"
    r"entity|beneficiary)\b|\beinzelantr\w*|\beinzelvorhaben\b|\beinzelprojekt\w*|"
    r"\beinzel (?:und|oder) verbund\w*|\beinzelne (?:antragsteller\w*|einrichtung\w*|"
    r"organisation\w*)"
)
_CONSORTIUM_LEAD = re.compile(
    r"(?:submitted by|consorti(?:um|a) of|consist(?:s|ing)? of|composed of|involve|"
    r"zusammenschluss von|(?:verbund|konsorti|partnerschaft)\w*(?: \w+){0,2} aus)"
    r"(?: a consortium of)?\s*$"
)
# Every consortium phrase below contains one of these words.
_ANY_CONSORTIUM_WORD = re.compile(
    r"least|minimum|mindestens|wenigstens|fewer|less than|single|mono|einzel|consorti|verbund|"
    r"submitted by|"
    r"countries|member states|laendern|staaten"
)
_CONSORTIUM_ONLY = re.compile(
    r"\bonly\b(?: \w+){0,4} (?:by|as|in) (?:a )?consorti(?:a|um)\b|"
    r"\bmust be submitted by a consortium\b|"
    r"\bnur (?:als |im )?verbund\w*"
)


@dataclass(frozen=True)
class Topic:
    """What a rule looks at."""

    identifier: str = ""
    call_identifier: str = ""
    programme: str = ""
    type_of_action: str = ""
    title: str = ""


@dataclass(frozen=True)
class Consortium:
    """Can one organisation apply alone, and how many partners from how many countries."""

    min_partners: int | None = None
    min_countries: int | None = None
    single_applicant: bool | None = None  # None: not stated


@dataclass(frozen=True)
class Rule:
    """One rule of ``eligibility_rules.yaml``."""

    id: str
    match: tuple[Mapping[str, tuple[str, ...]], ...]
    applicants: tuple[str, ...]
    consortium: Consortium = Consortium()
    germany_eligible: bool | None = None
    source: Mapping[str, str] = field(default_factory=dict)

    def matches(self, topic: Topic) -> bool:
        """True when any of the rule's match mappings fits ``topic`` in every key."""
        return any(
            all(_key_matches(key, pats, topic) for key, pats in m.items()) for m in self.match
        )


@dataclass(frozen=True)
class Eligibility:
    """The decision for one call, in the shape of the CallRecord fields."""

    applicants: list[str] = field(default_factory=list)
    evidence: dict[str, str] = field(default_factory=dict)  # type -> "stated" / "inferred"
    inferred: bool = False  # not from the source's own applicant field
    rule: str = ""  # the rule that filled something in
    min_partners: int | None = None
    min_countries: int | None = None
    single_applicant: bool | None = None
    eligible_countries: list[str] = field(default_factory=list)
    germany_eligible: bool | None = None


# --- rules ----------------------------------------------------------------------------------
def load_rules(path: Path | None = None) -> tuple[Rule, ...]:
    """The rules of ``path`` (default: the bundled file), in order; raises ``ValueError`` on
    a rule with an unknown key or applicant type, no match, no source, or a repeated id."""
    if path is None:
        return _bundled_rules()
    return _parse_rules(yaml.safe_load(path.read_text(encoding="utf-8")) or {}, str(path))


@cache
def _bundled_rules() -> tuple[Rule, ...]:
    return _parse_rules(
        yaml.safe_load(RULES_FILE.read_text(encoding="utf-8")) or {}, str(RULES_FILE)
    )


def _parse_rules(data: Mapping[str, Any], where: str) -> tuple[Rule, ...]:
    rules: list[Rule] = []
    for raw in data.get("rules") or []:
        rule_id = str(raw.get("id") or "")
        problem = _rule_problem(raw)
        if problem:
            raise ValueError(f"{where}: rule {rule_id or '?'}: {problem}")
        if any(r.id == rule_id for r in rules):
            raise ValueError(f"{where}: rule id {rule_id} used twice")
        matches = raw["match"] if isinstance(raw["match"], list) else [raw["match"]]
        consortium = raw.get("consortium") or {}
        rules.append(
            Rule(
                id=rule_id,
                match=tuple(
                    {key: tuple(str(p) for p in pats) for key, pats in m.items()} for m in matches
                ),
                applicants=tuple(kind for kind in APPLICANT_TYPES if kind in raw["applicants"]),
                consortium=Consortium(**consortium),
                germany_eligible=raw.get("germany_eligible"),
                source=dict(raw["source"]),
            )
        )
    return tuple(rules)


def _rule_problem(raw: Mapping[str, Any]) -> str:
    if not raw.get("id"):
        return "no id"
    if set(raw) - _RULE_KEYS:
        return f"unknown keys {sorted(set(raw) - _RULE_KEYS)}"
    matches = raw.get("match")
    matches = matches if isinstance(matches, list) else [matches]
    if not all(isinstance(m, dict) and m and set(m) <= set(MATCH_KEYS) for m in matches):
        return f"match must map {MATCH_KEYS} to patterns"
    if not raw.get("applicants") or set(raw["applicants"]) - set(APPLICANT_TYPES):
        return f"applicants must be among {APPLICANT_TYPES}"
    if set(raw.get("consortium") or {}) - _CONSORTIUM_KEYS:
        return f"consortium takes only {sorted(_CONSORTIUM_KEYS)}"
    source = raw.get("source") or {}
    if not (source.get("document") and str(source.get("url", "")).startswith("https://")):
        return "source needs a document and an https url"
    return ""


def match_rule(topic: Topic, rules: Sequence[Rule] | None = None) -> Rule | None:
    """The first rule that matches ``topic``, or None."""
    for rule in load_rules() if rules is None else rules:
        if rule.matches(topic):
            return rule
    return None


def _key_matches(key: str, patterns: Iterable[str], topic: Topic) -> bool:
    if key == "identifier":
        values = [topic.identifier, topic.call_identifier]
    else:
        values = [getattr(topic, key)]
    values = [" ".join(v.split()).casefold() for v in values if v]
    return any(fnmatch.fnmatchcase(v, p.casefold()) for v in values for p in patterns)


# --- stated: the call's own words --------------------------------------------------------------
def stated_applicants(text: str) -> tuple[list[str], list[str]]:
    """The applicant types ``text`` states, as ``(defined, required)``: types a sentence says
    may apply ("Antragsberechtigt sind Vereine"), and types a sentence says must take part
    ("consortia must include at least one civil society organisation"). Vocabulary order."""
    found: dict[str, set[str]] = {"defines": set(), "adds": set()}
    for kind, sentence in cued_sentences(text, _cue):
        if is_about_third_parties(sentence):
            continue
        for clause in clauses(sentence):
            folded = _NOT_APPLICANTS.sub(" ", fold(clause))
            found[kind].update(infer_applicants(folded))
    return (
        [k for k in APPLICANT_TYPES if k in found["defines"]],
        [k for k in APPLICANT_TYPES if k in found["adds"]],
    )


def _cue(lowered: str) -> str:
    if not _ANY_CUE.search(lowered):
        return ""  # most sentences: one cheap search instead of the full patterns
    folded = fold(lowered)
    if _ADDS.search(folded) or (_DEFINES.search(lowered) and _ALSO.search(folded)):
        return "adds"
    return "defines" if _DEFINES.search(lowered) else ""


def parse_consortium(text: str) -> Consortium:
    """Partners, countries and "single applicants" as ``text`` states them.

    "at least three independent legal entities from three different Member States" → 3 and
    3; "each established in a different Member State" → as many countries as partners;
    "single applicants", "mono-beneficiary", "Einzelantrag" → single applicant allowed;
    "mindestens zwei Partner aus zwei Ländern" → 2 and 2. Anything not stated stays None.
    """
    partners = countries = None
    single: bool | None = None
    for sentence in sentences(text):
        folded = strip_other_unions(fold(sentence))
        if not _ANY_CONSORTIUM_WORD.search(folded):
            continue
        for match in _PARTNERS.finditer(folded):
            count = _number(match.group(1))
            before = folded[max(0, match.start() - 40) : match.start()]
            rest = folded[match.end() : match.end() + 160]
            each_different = _EACH_DIFFERENT.search(rest)
            # "at least two legal entities established in <a region>" is a condition on some
            # partners, not the size of the consortium.
            sized = (
                _CONSORTIUM_LEAD.search(before) or each_different or _COUNTRIES.search(rest[:60])
            )
            if not (count and count > 1 and sized):
                continue
            partners = max(partners or 0, count)
            if each_different:
                countries = max(countries or 0, count)
        for match in _COUNTRIES.finditer(folded):
            count = _number(match.group(1))
            if count and count > 1:
                countries = max(countries or 0, count)
        if _CONSORTIUM_ONLY.search(folded):
            single = False if single is None else single
        if not _SINGLE.search(folded):
            continue
        for clause, negated in split_clauses(sentence):
            if _SINGLE.search(fold(clause)):
                # "single applicants are not eligible" says the opposite
                single = single or not negated
    if single is None and partners:
        single = False
    return Consortium(partners, countries, single)


def _number(word: str) -> int | None:
    return int(word) if word.isdigit() else _NUMBERS.get(word)


# --- the decision --------------------------------------------------------------------------------
def decide_eligibility(
    *,
    text: str = "",
    source_terms: Sequence[str] = (),
    identifier: str = "",
    call_identifier: str = "",
    programme: str = "",
    type_of_action: str = "",
    title: str = "",
    rules: Sequence[Rule] | None = None,
) -> Eligibility:
    """Who may apply for one call, with whom and from where.

    ``source_terms`` is the source's own applicant field; ``text`` the call's conditions and
    description as plain text. Types named by the source or by a sentence that says who may
    apply are *stated* and are the answer; types a sentence says must take part are stated
    and added to the matching rule's types, which are *inferred*. Consortium and countries
    come from the text where it says, else from the rule. ``inferred`` is True whenever the
    answer was not given by the source's own field (read from the text, or from a rule).
    """
    topic = Topic(identifier, call_identifier, programme, type_of_action, title)
    rule = match_rule(topic, rules)
    from_source = map_applicants(source_terms) if source_terms else []
    defined, required = stated_applicants(text)
    defining = from_source or defined
    if from_source:
        stated = from_source  # the source's field is the authority; prose does not add to it
    else:
        stated = [kind for kind in APPLICANT_TYPES if kind in defined or kind in required]

    used_rule = False
    evidence = dict.fromkeys(stated, "stated")
    if rule is not None:
        if any(kind not in rule.applicants for kind in stated):
            log.warning(
                "%s: eligibility conflict: the call states %s, rule %s (%s) says %s; %s",
                identifier or title,
                stated,
                rule.id,
                rule.source.get("document", ""),
                list(rule.applicants),
                "the call's own list is kept" if defining else "both are kept",
            )
        if not defining:  # a sentence on who must take part never narrows the rule
            for kind in rule.applicants:
                evidence.setdefault(kind, "inferred")
            used_rule = True
    applicants = [kind for kind in APPLICANT_TYPES if kind in evidence]

    consortium, rule_filled = _merge_consortium(parse_consortium(text), rule, identifier)
    countries = parse_countries(text)
    germany = countries.germany_eligible
    if germany is None and rule is not None and rule.germany_eligible is not None:
        germany, rule_filled = rule.germany_eligible, True
    return Eligibility(
        applicants=applicants,
        evidence={kind: evidence[kind] for kind in applicants},
        inferred=bool(applicants) and not from_source,
        rule=rule.id if rule is not None and (used_rule or rule_filled) else "",
        min_partners=consortium.min_partners,
        min_countries=consortium.min_countries,
        single_applicant=consortium.single_applicant,
        eligible_countries=list(countries.eligible),
        germany_eligible=germany,
    )


def _merge_consortium(
    stated: Consortium, rule: Rule | None, identifier: str
) -> tuple[Consortium, bool]:
    """The stated consortium, completed from the rule where the text is silent; and whether
    the rule filled anything in."""
    if rule is None:
        return stated, False
    default = rule.consortium
    if stated == Consortium():
        return default, default != Consortium()
    said = (stated.min_partners, stated.single_applicant)
    fixed = (default.min_partners, default.single_applicant)
    if said == (None, None):
        # Only the countries are stated: the rule's partner numbers complete them.
        return Consortium(
            default.min_partners, stated.min_countries, default.single_applicant
        ), True
    if fixed != (None, None) and said != fixed:
        log.info(
            "%s: the call's consortium (min_partners=%s, single_applicant=%s) differs from "
            "rule %s (min_partners=%s, single_applicant=%s); the call's own words are kept",
            identifier,
            *said,
            rule.id,
            *fixed,
        )
    return stated, False
