"""Amounts in euro and funding rates, as German and English sources write them.

"€ 450.000", "EUR 1.5 million", "bis zu 50.000 Euro", "max. 50.000 €", "1,5 Mio. Euro",
"1.000–20.000 €"; rates "bis zu 45 Prozent", "70 %", "up to 80%". German sources write "."
for thousands and "," for decimals, English ones the other way round; a lone separator
followed by exactly three digits is read as thousands unless a multiplier ("Mio.") follows.
"""

from __future__ import annotations

import math
import re

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
_GRANT_PHRASE = re.compile(
    rf"(?:up to|maximum(?: of)?|max\.|bis zu|maximal|höchstens)\s+{_PHRASE_AMOUNT}", re.IGNORECASE
)
_BUDGET_PHRASE = re.compile(
    rf"(?:budget|envelope|Gesamtvolumen|Fördervolumen|Gesamtbudget)\b[^.;\d€]{{0,40}}"
    rf"{_PHRASE_AMOUNT}",
    re.IGNORECASE,
)
_NAMES_MONEY = re.compile(r"€|EUR\b|euros?\b|Euro\b|million|Mio", re.IGNORECASE)


def find_grant_phrase(text: str) -> str | None:
    """The first "up to / bis zu <amount>" phrase in ``text`` that names money (not "up to 9
    partners"), e.g. for ``grant_max_raw``; ``None`` when there is none."""
    return _first_money(_GRANT_PHRASE, text)


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
