"""Amounts in euro and funding rates, as German and English sources write them.

"€ 450.000", "EUR 1.5 million", "bis zu 50.000 Euro", "max. 50.000 €", "1,5 Mio. Euro",
"1.000–20.000 €"; rates "bis zu 45 Prozent", "70 %", "up to 80%". German sources write "."
for thousands and "," for decimals, English ones the other way round; a lone separator
followed by exactly three digits is read as thousands unless a multiplier ("Mio.") follows.

:func:`read_money` reads a call's prose clause by clause and tells the grant per project
("bis zu 50.000 Euro", "zwischen 5.000 und 20.000 €", "up to €2 million") from the total
budget ("Indicative budget: EUR 9 000 000 for this topic") and the funding rate ("Förderquote
90 %", "co-financing rate of 80%") by the words around each figure; figures about something
else (third parties, turnover, the share of beneficiaries) are left alone.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from crawler.normalize import NormalizationError

_NUMBER = r"\d{1,3}(?:[.,\u00a0\u202f ]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?"
_MULTIPLIERS = {
    "mrd": 1_000_000_000, "milliarde": 1_000_000_000, "milliarden": 1_000_000_000,
    "billion": 1_000_000_000, "billions": 1_000_000_000, "bn": 1_000_000_000,
    "mio": 1_000_000, "million": 1_000_000, "millionen": 1_000_000, "millions": 1_000_000,
    "m": 1_000_000, "tsd": 1_000, "tausend": 1_000, "thousand": 1_000, "k": 1_000,
}  # fmt: skip
_MULT = (
    r"(?:Mrd|Milliarden|Milliarde|billions?|bn|Mio|Millionen|millions?|Tsd|tausend|thousand|m|k)"
    r"\b\.?"
)
_CURRENCY = r"(?:€|EUR\b|Euros?\b|euros?\b)"
_AMOUNT = re.compile(
    rf"(?P<cur1>{_CURRENCY})\s*(?P<num1>{_NUMBER})\s*(?P<mult1>{_MULT})?(?:\s*{_CURRENCY})?"
    rf"|(?P<num2>{_NUMBER})\s*(?P<mult2>{_MULT})?\s*(?P<cur2>{_CURRENCY})",
    re.IGNORECASE,
)
_RANGE = re.compile(
    rf"(?:{_CURRENCY}\s*)?(?P<lo>{_NUMBER})\s*(?P<lo_mult>{_MULT})?\s*(?:{_CURRENCY}\s*)?"
    rf"(?:-|–|—|bis|to|und|and)\s*(?:{_CURRENCY}\s*)?(?P<hi>{_NUMBER})\s*(?P<hi_mult>{_MULT})?"
    rf"\s*(?:{_CURRENCY})?",
    re.IGNORECASE,
)
_BARE = re.compile(rf"\s*(?P<num>{_NUMBER})\s*(?P<mult>{_MULT})?\s*", re.IGNORECASE)
_FOREIGN = re.compile(r"\$|£|¥|\b(?:USD|GBP|CHF|US dollars?|dollars?)\b", re.IGNORECASE)
_RATE = re.compile(
    r"(?P<num>\d{1,3}(?:[.,]\d+)?)\s*(?:%|Prozent\b|per\s?cent\b|percent\b|v\.\s?H\.)",
    re.IGNORECASE,
)


def parse_amount_eur(raw: str | int | float | None) -> int | None:
    """The amount in whole euro, or ``None`` when ``raw`` states none (empty, "keine
    Angabe", a percentage only, another currency). A text with several amounts gives the
    largest ("1.000–20.000 €" → 20000: the headline figure a reader compares)."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise NormalizationError(f"not an amount: {raw!r}")
    if isinstance(raw, int | float):
        return _whole_euro(float(raw), raw)
    if not isinstance(raw, str):
        raise NormalizationError(f"not an amount: {raw!r}")
    amounts = _amounts(raw)
    return max(amounts) if amounts else None


def parse_amount_range(raw: str | None) -> tuple[int | None, int | None]:
    """The lowest and the highest amount in ``raw`` ("1.000 bis 20.000 Euro" →
    (1000, 20000); "bis zu 50.000 Euro" → (None, 50000); "ab 5.000 €" → (5000, None))."""
    if raw is None or not str(raw).strip():
        return None, None
    text = str(raw)
    amounts = _amounts(text)
    if not amounts:
        return None, None
    if len(amounts) == 1:
        if re.search(r"\b(?:ab|mindestens|min\.|at least|from|minimum)\s*\S*\s*\d", text, re.I):
            return amounts[0], None
        if re.search(r"\b(?:zwischen|between)\b", text, re.I) is None:
            return None, amounts[0]
    return min(amounts), max(amounts)


def parse_funding_rate(raw: str | int | float | None) -> float | None:
    """The funding rate in percent of eligible costs ("bis zu 45 Prozent" → 45.0), or
    ``None`` when none is stated. With several rates the highest counts ("bis zu 55 % ... bis
    zu 70 %" → 70.0). A number is read as percent; a fraction in (0, 1) is converted."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise NormalizationError(f"not a funding rate: {raw!r}")
    if isinstance(raw, int | float):
        value = float(raw)
        if math.isnan(value) or not 0 <= value <= 100:
            raise NormalizationError(f"funding rate out of range: {raw!r}")
        return value * 100 if 0 < value < 1 and isinstance(raw, float) else value
    if not isinstance(raw, str):
        raise NormalizationError(f"not a funding rate: {raw!r}")
    rates = []
    for match in _RATE.finditer(raw):
        value = float(match.group("num").replace(",", "."))
        if 0 < value <= 100:
            rates.append(value)
    return max(rates) if rates else None


# --- internals ----------------------------------------------------------------------------
def _amounts(text: str) -> list[int]:
    text = re.sub(r"[\u00a0\u202f\u2009]", " ", text)
    if _FOREIGN.search(text) and not re.search(_CURRENCY, text, re.IGNORECASE):
        return []
    found: list[int] = []
    spans: list[tuple[int, int]] = []
    for match in _RANGE.finditer(text):
        # A range counts as money only if a euro sign or word belongs to it.
        if not re.search(_CURRENCY, match.group(0), re.IGNORECASE):
            continue
        hi_mult = match.group("hi_mult")
        lo_mult = match.group("lo_mult") or hi_mult  # "1,5 bis 2 Mio. €": both in millions
        found.append(_value(match.group("lo"), lo_mult, text))
        found.append(_value(match.group("hi"), hi_mult, text))
        spans.append(match.span())
    for match in _AMOUNT.finditer(text):
        if any(match.start() < end and start < match.end() for start, end in spans):
            continue
        number = match.group("num1") or match.group("num2")
        mult = match.group("mult1") or match.group("mult2")
        found.append(_value(number, mult, text))
    if not found:
        bare = _BARE.fullmatch(text)
        if bare:
            found.append(_value(bare.group("num"), bare.group("mult"), text))
    return found


def _value(number: str, multiplier: str | None, raw: str) -> int:
    factor = 1
    if multiplier:
        key = multiplier.rstrip(".").lower()
        factor = _MULTIPLIERS.get(key, 1)
    return _whole_euro(_number(number, has_multiplier=factor > 1) * factor, raw)


def _number(text: str, *, has_multiplier: bool) -> float:
    digits = re.sub(r"[\u00a0\u202f ]", "", text)
    dots, commas = digits.count("."), digits.count(",")
    if dots and commas:
        decimal = "." if digits.rfind(".") > digits.rfind(",") else ","
        thousands = "," if decimal == "." else "."
        digits = digits.replace(thousands, "").replace(decimal, ".")
    elif dots or commas:
        sep = "." if dots else ","
        head, _, tail = digits.rpartition(sep)
        if (dots + commas) > 1 or (len(tail) == 3 and not has_multiplier):
            digits = digits.replace(sep, "")
        else:
            digits = f"{head.replace(sep, '')}.{tail}"
    return float(digits)


def _whole_euro(value: float, raw: object) -> int:
    if math.isnan(value) or math.isinf(value) or value < 0:
        raise NormalizationError(f"not an amount: {raw!r}")
    if value >= 10**15:  # more than all EU budgets together: a mis-read, not money
        raise NormalizationError(f"implausible amount: {raw!r}")
    return round(value)


# --- finding amounts in prose -------------------------------------------------------------
_PHRASE_AMOUNT = (
    r"(?:€|EUR)?\s*\d[\d.,]*\s*(?:million|Millionen|Mio\.?|billion|Mrd\.?|k\b)?"
    r"\s*(?:€|EUR\b|euros?\b|Euro\b)?"
)
_BUDGET_PHRASE = re.compile(
    rf"(?:budget|envelope|Gesamtvolumen|Fördervolumen|Gesamtbudget)\b[^.;\d€]{{0,40}}"
    rf"{_PHRASE_AMOUNT}",
    re.IGNORECASE,
)
_NAMES_MONEY = re.compile(r"€|EUR\b|euros?\b|Euro\b|million|Mio", re.IGNORECASE)


def find_grant_phrase(text: str) -> str | None:
    """The grant phrase of ``text``, e.g. for ``grant_max_raw``: the amounts of the first
    clause that states a grant, from the first to the last ("1.000 bis 20.000 Euro (bei …
    bis zu 50.000 Euro)"; "up to 9 partners" names no money), or ``None``. Its largest
    amount is the highest grant, its smallest (with a range) the lowest."""
    if not isinstance(text, str):
        raise NormalizationError(f"not text: {type(text).__name__}")
    for clause in _clauses(text):
        grants = [m for m in _mentions(clause) if m.kind == "grant"]
        if grants:
            phrase = " ".join(clause[grants[0].start : grants[-1].end].split())
            if phrase.count("(") > phrase.count(")") and ")" in clause[grants[-1].end :]:
                phrase += ")"  # "… (bei Begegnungsprojekten bis zu 50.000 Euro)"
            return phrase
    return None


def find_budget_phrase(text: str) -> str | None:
    """The first "budget … <amount>" phrase in ``text``, e.g. for ``budget_raw``."""
    return _first_money(_BUDGET_PHRASE, text)


def _first_money(pattern: re.Pattern[str], text: str) -> str | None:
    if not isinstance(text, str):
        raise NormalizationError(f"not text: {type(text).__name__}")
    for match in pattern.finditer(text):
        if _NAMES_MONEY.search(match.group(0)):
            return " ".join(match.group(0).split())
    return None


# --- reading money in a call's prose ------------------------------------------------------
@dataclass(frozen=True)
class MoneyInText:
    """What a call's prose says about money; ``None`` where it says nothing."""

    grant_min_eur: int | None = None
    grant_max_eur: int | None = None
    budget_eur: int | None = None
    funding_rate: float | None = None


@dataclass(frozen=True)
class _Mention:
    start: int
    end: int
    low: int | None  # the lower bound this mention states
    high: int | None  # the upper bound (or the amount itself)
    kind: str  # "grant", "budget" or "" (money about something else)


# A clause ends at a sentence end (not after "Mio.", "max.", "z.B.", an ordinal "31."), a
# semicolon or a line break.
_CLAUSE_END = re.compile(
    r"(?<!\bMio\.)(?<!\bMrd\.)(?<!\bTsd\.)(?<!\bmax\.)(?<!\bmin\.)(?<!\bca\.)(?<!\bbzw\.)"
    r"(?<!\bz\.B\.)(?<!\bNr\.)(?<!\be\.g\.)(?<!\bi\.e\.)(?<![0-9]\.)(?<=[.!?])\s+|;\s*|\n+"
)
_UP_TO = re.compile(
    r"(?:up\s+to(?:\s+a)?(?:\s+maximum(?:\s+of)?)?|maximum(?:\s+of)?|max\.|maximal|maximally|"
    r"not\s+exceed(?:ing)?|cannot\s+exceed|höchstens|bis\s+zu|bis\s+maximal|limited\s+to(?:\s+a)?"
    r"(?:\s+maximum\s+of)?)\s*$",
    re.IGNORECASE,
)
_AT_LEAST = re.compile(
    r"(?:at\s+least|minimum(?:\s+of)?|min\.|mindestens|ab|from)\s*$", re.IGNORECASE
)
_BUDGET_CUE = re.compile(
    r"\bbudget\b(?!\s+(?:per|pro|je|table|section|form|categor|line|of\s+the\s+(?:project|"
    r"proposal|action)))|\benvelope\b|Gesamtbudget|Gesamtvolumen|Fördervolumen|Mittelvolumen|"
    r"Programmvolumen|Gesamtmittel|Haushaltsmittel|\bBudget\b|zur\s+Verfügung|"
    r"total\s+(?:EU\s+)?funding\s+(?:available|of\s+the\s+call)",
    re.IGNORECASE,
)
_PER_UNIT = re.compile(
    r"\b(?:per|pro|je|each|jede[nrs]?)\s+(?:funded\s+)?(?:project|projekt|proposal|network|grant|"
    r"vorhaben|antrag|maßnahme|beneficiar|applicant|partnership|action|vessel|fellow|"
    r"participant|organi[sz]ation|träger|einrichtung|kommune|antragsteller)|\beach\b",
    re.IGNORECASE,
)
_GRANT_CUE = re.compile(
    r"grant|contribution|lump\s+sum|award|request|funding\s+of|financial\s+support|prize|"
    r"Zuschuss|Zuschüsse|Förder(?!volumen)\w*|gefördert|fördert|Zuwendung|Darlehen|Kredit|"
    r"Beteiligung|Preisgeld|Höchstbetrag|erhalten",
    re.IGNORECASE,
)
# Money that is not the grant or the budget: sub-grants to third parties, company size
# limits, the applicant's own share, procurement, investments by others.
_NOT_THE_GRANT = re.compile(
    r"third[-\s]+part(?:y|ies)|\bDritte[nrs]?\b|turnover|balance\s+sheet|\bUmsatz|Jahresumsatz|"
    r"Bilanzsumme|Beschäftigte|employees|Mitarbeit|Stammkapital|Grundkapital|procure|"
    r"investments?\s+(?:below|of\s+less)|ticket\s+sizes?|salar(?:y|ies)|Gehalt|Eigenanteil|"
    r"own\s+contribution|Eigenmittel|Kofinanzierung\s+durch|remuneration|Vergütung|"
    r"additional\s+funding|of\s+investments?\b|investee|risk\s+capital|leverag",
    re.IGNORECASE,
)
# A clause about sub-grants is about them throughout ("… financial support to third
# parties … with a maximum budget of EUR 100 000").
_ABOUT_THIRD_PARTIES = re.compile(r"third[-\s]+part(?:y|ies)|\bDritte[nrs]?\b", re.IGNORECASE)
_TO_THE_CALL = re.compile(r"\s*(?:to|for)\s+the\s+(?:[\w+-]+\s+){0,6}call\b", re.IGNORECASE)
_RATE_CUE = re.compile(
    r"Förder\w*|gefördert|Zuschuss\w*|Zuwendung\w*|förderfähig\w*|zuwendungsfähig\w*|"
    r"erstatt\w*|Finanzierungsanteil|funding(?:\s+rate)?|co-?financ\w*|cofinanc\w*|"
    r"co-?fund\w*|reimburs\w*|eligible\s+costs|\bfunded\b|support\s+rate|grant\s+rate|"
    r"\bERDF\b|\bEFRE\b|EU\s+contribution|der\s+(?:Gesamt)?(?:kosten|ausgaben)",
    re.IGNORECASE,
)
_NOT_A_RATE = re.compile(
    r"beneficiar|Begünstigte|employment|\bGDP\b|\bBIP\b|share\s+of|Anteil\s+der|"
    r"Eigenanteil|own\s+contribution|covered\s+by\s+the|at\s+least|mindestens|of\s+the\s+"
    r"(?:population|companies|budget)|of\s+their\s+budget|Frauenanteil|emission|energy|"
    r"(?:not|never)\s+exceed|no\s+more\s+than|working\s+time|Arbeitszeit",
    re.IGNORECASE,
)
_YEAR = range(1990, 2101)


def read_money(text: str) -> MoneyInText:
    """The grant range, total budget and funding rate that ``text`` (a call's description
    and conditions, German or English) states.

    The lowest and highest grant come from every clause that states a grant ("bis zu 50.000
    Euro", "zwischen 5.000 und 20.000 €", "maximal 1 Mio. Euro", "up to €2 million", "a
    lump sum of EUR 60 000"), the budget is the first figure after a budget word, the rate
    the highest rate next to a rate word ("Förderquote 90 %", "Zuschuss von bis zu 80
    Prozent", "co-financing rate of 80%").
    """
    if not isinstance(text, str):
        raise NormalizationError(f"not text: {type(text).__name__}")
    lows: list[int] = []
    highs: list[int] = []
    budget: int | None = None
    rates: list[float] = []
    for clause in _clauses(text):
        for mention in _mentions(clause):
            if mention.kind == "budget" and budget is None:
                budget = mention.high or mention.low
            elif mention.kind == "grant":
                lows += [mention.low] if mention.low is not None else []
                highs += [mention.high] if mention.high is not None else []
        rates += _rates(clause)
    low = min(lows) if lows else None
    high = max(highs) if highs else None
    if low is not None and high is not None and low > high:
        low = None
    return MoneyInText(
        grant_min_eur=low,
        grant_max_eur=high,
        budget_eur=budget,
        funding_rate=max(rates) if rates else None,
    )


def _clauses(text: str) -> list[str]:
    text = re.sub(r"[\u00a0\u202f\u2009]", " ", text)
    return [clause for clause in _CLAUSE_END.split(text) if clause and clause.strip()]


def _mentions(clause: str) -> list[_Mention]:
    """Every euro amount or range in ``clause``, with what it is about."""
    if _FOREIGN.search(clause) and not re.search(_CURRENCY, clause, re.IGNORECASE):
        return []
    if _ABOUT_THIRD_PARTIES.search(clause):
        return []
    found: list[tuple[int, int, int | None, int | None]] = []
    for match in _RANGE.finditer(clause):
        if not re.search(_CURRENCY, match.group(0), re.IGNORECASE):
            continue
        hi_mult = match.group("hi_mult")
        lo_mult = match.group("lo_mult") or hi_mult
        try:
            low = _value(match.group("lo"), lo_mult, clause)
            high = _value(match.group("hi"), hi_mult, clause)
        except NormalizationError:
            continue
        if not hi_mult and low in _YEAR and high in _YEAR:
            continue  # "2021-2027 EUR …": a period, not a range of money
        found.append((match.start(), match.end(), low, high))
    for match in _AMOUNT.finditer(clause):
        if any(match.start() < end and start < match.end() for start, end, _, _ in found):
            continue
        try:
            value = _value(
                match.group("num1") or match.group("num2"),
                match.group("mult1") or match.group("mult2"),
                clause,
            )
        except NormalizationError:
            continue
        found.append((match.start(), match.end(), None, value))
    found.sort()
    mentions: list[_Mention] = []
    previous_end = 0
    for start, end, low, high in found:
        before = clause[max(previous_end, start - 90) : start]
        after = clause[end : end + 50]
        previous_end = end
        per_unit = bool(_PER_UNIT.search(before) or _PER_UNIT.search(after))
        if low is None and _AT_LEAST.search(before):
            low, high = high, None
        if _NOT_THE_GRANT.search(before) or _NOT_THE_GRANT.search(after):
            kind = ""
        elif _BUDGET_CUE.search(before) and not per_unit:
            kind = "budget"
        elif _TO_THE_CALL.match(after):
            kind = ""  # "a contribution of EUR 1 million to the … call": the call's money
        elif (
            per_unit
            or _UP_TO.search(before)
            or _GRANT_CUE.search(before)
            or _GRANT_CUE.search(after)
            or low is not None
        ):
            kind = "grant"
        else:
            kind = ""
        qualifier = _UP_TO.search(before) or _AT_LEAST.search(before)
        mentions.append(
            _Mention(start - (len(qualifier.group(0)) if qualifier else 0), end, low, high, kind)
        )
    return mentions


def _rates(clause: str) -> list[float]:
    if _ABOUT_THIRD_PARTIES.search(clause):
        return []  # "between 10% and 25% of the EU contribution … to third parties"
    rates = []
    for match in _RATE.finditer(clause):
        before = clause[max(0, match.start() - 70) : match.start()]
        after = clause[match.end() : match.end() + 50]
        window = before + " " + after
        if not _RATE_CUE.search(window) or _NOT_A_RATE.search(window):
            continue
        value = float(match.group("num").replace(",", "."))
        if 0 < value <= 100:
            rates.append(value)
    return rates
