"""Item pipelines: normalise and validate each item, then store calls in small batches.

``NormalizePipeline`` turns a :class:`crawler.items.FundingCallItem` (the source's own words)
into a :class:`storage.calls.CallRecord` (dates as UTC instants, amounts in EUR, sanitised
HTML, applicant types from one vocabulary) or drops it with a counted reason. Nothing is
dropped silently: every drop is logged and counted under ``foerderdesk/dropped/<reason>``.

``StorePipeline`` upserts the records in batches of ``FOERDERDESK_BATCH_SIZE``, one
transaction per batch, so a crash loses at most the batch in flight.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, is_dataclass
from typing import Any, Self

from itemadapter import ItemAdapter
from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from sqlalchemy.exc import SQLAlchemyError

from crawler.items import DETAILS_STATES
from crawler.normalize import NormalizationError
from crawler.normalize.dates import parse_date, parse_deadline
from crawler.normalize.eligibility import decide_eligibility
from crawler.normalize.identifiers import short_identifier
from crawler.normalize.money import (
    find_grant_phrase,
    parse_amount_eur,
    parse_amount_range,
    parse_funding_rate,
    read_money,
)
from crawler.normalize.text import (
    clean_html,
    detect_language,
    html_to_text,
    is_boilerplate,
    make_summary,
    repair_mojibake,
)
from storage.calls import CallRecord, DeadlineRecord, mark_seen, upsert_call
from storage.db import make_engine, make_session_factory, session_scope
from storage.models import DEADLINE_MODELS, FUNDER_TYPES, LANGUAGES

logger = logging.getLogger(__name__)

# How sources name their deadline models, onto storage.models.DEADLINE_MODELS.
_DEADLINE_MODEL_NAMES = {
    "single": "single",
    "single-stage": "single",
    "single_stage": "single",
    "two-stage": "two_stage",
    "two_stage": "two_stage",
    "multiple cut-off": "multiple_cutoff",
    "multiple-cut-off": "multiple_cutoff",
    "multiple_cutoff": "multiple_cutoff",
    "continuous": "rolling",
    "rolling": "rolling",
    "recurring": "recurring",
    "none": "none",
}
_CLOSED_WORDS = {"closed", "31094503", "geschlossen", "abgelaufen"}
_FORTHCOMING_WORDS = {"forthcoming", "31094501", "demnächst", "in vorbereitung"}


def _status_hint(status_source: str) -> str:
    """What the source says of the status, for when the dates say nothing: closed,
    forthcoming, or nothing. Dates always win (storage.deadlines.call_status)."""
    word = status_source.strip().lower()
    if word in _CLOSED_WORDS:
        return "closed"
    if word in _FORTHCOMING_WORDS:
        return "forthcoming"
    return ""


class Dropped(DropItem):
    """An item that cannot be stored; ``reason`` is a short slug used for counting."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def _count_drop(crawler: Crawler, reason: str) -> None:
    assert crawler.stats is not None
    crawler.stats.inc_value(f"foerderdesk/dropped/{reason}")


def _text(value: Any) -> str:
    return repair_mojibake(str(value)).strip() if value not in (None, "") else ""


def _setting(defaults: dict[str, Any], key: str) -> str:
    """A source-wide value from the sources file (its entry, then its settings)."""
    value = defaults.get(key) or (defaults.get("settings") or {}).get(key) or ""
    return _text(value)


def _funder(data: dict[str, Any], defaults: dict[str, Any]) -> str:
    """Who gives the money; when neither the call nor the source says, the source's name
    (the page links "<funder>: see the call", never the slug)."""
    return _text(data.get("funder")) or _setting(defaults, "funder") or _setting(defaults, "name")


def _amount(value: Any, field_name: str, source_id: str) -> int | None:
    if value in (None, "", 0, "0"):
        return None  # the EU portal writes 0 for "not stated"
    try:
        amount = parse_amount_eur(value)
    except NormalizationError as exc:
        logger.warning(
            "%s: %s %r not understood (%s); left empty", source_id, field_name, value, exc
        )
        return None
    return amount or None


def _grant_range(min_raw: Any, max_raw: Any, source_id: str) -> tuple[int | None, int | None]:
    """The lowest and highest grant: figures as they are, a phrase of the source's as the
    range it states ("1.000 bis 20.000 Euro" → both ends, "ab 5.000 €" → the lowest)."""
    low = _amount(min_raw, "minimum grant", source_id)
    if low is not None or not isinstance(max_raw, str) or not max_raw.strip():
        return low, _amount(max_raw, "maximum grant", source_id)
    try:
        low, high = parse_amount_range(find_grant_phrase(max_raw) or max_raw)
    except NormalizationError as exc:
        logger.warning("%s: grant %r not understood (%s); left empty", source_id, max_raw, exc)
        return None, None
    return low or None, high or None


def _money(data: dict[str, Any], text: str, where: str) -> dict[str, Any]:
    """Budget, grant range and funding rate: what the source states as figures or phrases
    first, then what its description and conditions say in prose (``read_money``)."""
    low, high = _grant_range(data.get("grant_min_raw"), data.get("grant_max_raw"), where)
    rate = None
    if data.get("funding_rate_raw") not in (None, ""):
        try:
            rate = parse_funding_rate(data["funding_rate_raw"])
        except NormalizationError as exc:
            logger.warning("%s: funding rate not understood: %s", where, exc)
    budget = _amount(data.get("budget_raw"), "budget", where)
    if text and (budget is None or rate is None or (low is None and high is None)):
        prose = read_money(text)
        budget = budget if budget is not None else prose.budget_eur
        rate = rate if rate is not None else prose.funding_rate
        if low is None and high is None:
            low, high = prose.grant_min_eur, prose.grant_max_eur
    if low is not None and high is not None and low > high:
        low = None  # a minimum above the maximum is a mis-read; the maximum is the headline
    return {"budget_eur": budget, "grant_min_eur": low, "grant_max_eur": high, "funding_rate": rate}


def _deadline_model(hint: str, deadlines: list[DeadlineRecord], rolling: bool) -> str:
    named = _DEADLINE_MODEL_NAMES.get(hint.strip().lower()) if hint else None
    if named in DEADLINE_MODELS:
        if named in {"single", "two_stage", "multiple_cutoff"} and not deadlines and rolling:
            return "rolling"
        return named
    if rolling and not deadlines:
        return "rolling"
    if any(d.recurring_month_day for d in deadlines):
        return "recurring"
    if len(deadlines) > 1:
        return "multiple_cutoff"
    return "single" if deadlines else "none"


def normalize_item(item: Any, *, source_defaults: dict[str, Any] | None = None) -> CallRecord:
    """The stored form of one item; raises :class:`Dropped` when it cannot be stored."""
    defaults = source_defaults or {}
    data = asdict(item) if is_dataclass(item) else dict(ItemAdapter(item))
    source = str(data.get("source") or defaults.get("slug") or "")
    source_id = str(data.get("source_id") or "").strip()
    if not source:
        raise Dropped("missing_source", f"item {source_id!r} names no source")
    if not source_id:
        raise Dropped("missing_source_id", f"{source}: item without source_id")
    title = " ".join(html_to_text(_text(data.get("title"))).split())
    if not title:
        raise Dropped("missing_title", f"{source}/{source_id}: item without title")
    url = str(data.get("url") or "").strip()
    if not url.startswith(("http://", "https://")):
        raise Dropped("bad_url", f"{source}/{source_id}: url {url!r}")
    details = str(data.get("details") or "fetched")
    if details not in DETAILS_STATES:
        raise Dropped("bad_details_state", f"{source}/{source_id}: details {details!r}")

    deadlines: list[DeadlineRecord] = []
    rolling = False
    for position, raw_deadline in enumerate(data.get("deadlines") or [], start=1):
        raw = raw_deadline.get("raw") if isinstance(raw_deadline, dict) else raw_deadline
        if raw in (None, ""):
            continue
        try:
            parsed = parse_deadline(raw)
        except NormalizationError as exc:
            # Dropping keeps the stored version intact; a half-understood deadline would not.
            raise Dropped("bad_deadline", f"{source}/{source_id}: {raw!r}: {exc}") from exc
        if parsed.rolling:
            rolling = True
            continue
        stage = str(raw_deadline.get("stage", "")) if isinstance(raw_deadline, dict) else ""
        label = str(raw_deadline.get("label", "")) if isinstance(raw_deadline, dict) else ""
        deadlines.append(
            DeadlineRecord(
                due_at=parsed.due_at,
                stage=stage or ("" if position == 1 else str(position)),
                label=label,
                timezone=parsed.timezone,
                recurring_month_day=parsed.recurring_month_day,
                raw=str(parsed.raw),
            )
        )
    deadline_model = _deadline_model(str(data.get("deadline_model") or ""), deadlines, rolling)

    opening_date = None
    if data.get("opening_date_raw") not in (None, ""):
        try:
            opening_date = parse_date(data["opening_date_raw"])
        except NormalizationError as exc:
            logger.warning("%s/%s: opening date not understood: %s", source, source_id, exc)

    description_html = str(data.get("description_html") or "")
    conditions_html = str(data.get("conditions_html") or "")
    description = clean_html(description_html) if description_html else ""
    description_text = html_to_text(description_html) if description_html else ""
    if description_text and is_boilerplate(description_text):
        description = description_text = ""  # "described in the call document" says nothing
    conditions = clean_html(conditions_html) if conditions_html else ""
    conditions_text = html_to_text(conditions_html) if conditions_html else ""
    if conditions_text and is_boilerplate(conditions_text):
        conditions = conditions_text = ""
    summary = make_summary(description_text, html_to_text(_text(data.get("summary"))))
    money = _money(data, f"{description_text}\n{conditions_text}", f"{source}/{source_id}")

    language = str(data.get("language") or "").lower()
    if language not in LANGUAGES:
        language = detect_language(f"{title} {description_text}") if description_text else ""
        language = language or str(defaults.get("language") or "en")

    funder_type = str(data.get("funder_type") or defaults.get("funder_type") or "other")
    if funder_type not in FUNDER_TYPES:
        raise Dropped("bad_funder_type", f"{source}/{source_id}: {funder_type!r}")

    eligibility_text = str(data.get("eligibility_text") or "")
    if eligibility_text in conditions_html:
        eligibility_text = ""  # the EU spider's conditions again: read once
    eligibility_basis = dict.fromkeys(
        part for part in (html_to_text(eligibility_text), conditions_text, description_text) if part
    )
    eligibility = decide_eligibility(
        text="\n\n".join(eligibility_basis),
        source_terms=[str(t) for t in data.get("applicants_raw") or [] if t],
        identifier=source_id,
        call_identifier=_text(data.get("call_identifier")),
        programme=_text(data.get("programme")) or _setting(defaults, "programme"),
        type_of_action=_text(data.get("type_of_action")),
        title=title,
    )

    expected = data.get("expected_grants")
    status_source = str(data.get("status_source") or "")
    return CallRecord(
        source=source,
        source_id=source_id[:300],
        url=url[:2000],
        title=title,
        summary=summary,
        description=description,
        description_text=description_text,
        conditions=conditions,
        language=language,
        funder=_funder(data, defaults)[:300],
        funder_type=funder_type,
        programme=(_text(data.get("programme")) or _setting(defaults, "programme"))[:300],
        call_identifier=(_text(data.get("call_identifier")) or short_identifier(source_id))[:300],
        type_of_action=_text(data.get("type_of_action"))[:300],
        status_source=status_source[:64],
        status_hint=_status_hint(status_source),
        opening_date=opening_date,
        deadline_model=deadline_model,
        deadlines=deadlines,
        expected_grants=int(expected) if expected else None,
        **money,
        eligible_applicants=eligibility.applicants,
        eligibility_inferred=eligibility.inferred,
        eligibility_evidence=eligibility.evidence,
        eligibility_rule=eligibility.rule[:200],
        min_partners=eligibility.min_partners,
        min_countries=eligibility.min_countries,
        single_applicant=eligibility.single_applicant,
        eligible_countries=eligibility.eligible_countries,
        germany_eligible=eligibility.germany_eligible,
        regions=[str(r) for r in data.get("regions") or []],
        keywords=list(dict.fromkeys(str(k) for k in data.get("keywords") or [] if k)),
        attribution=_text(data.get("attribution"))[:500],
        details_missing=details == "missing",
        details_fetched=details == "fetched",
        record_hash=str(data.get("record_hash") or "")[:64],
    )


class NormalizePipeline:
    """Normalise and validate; drop duplicates and broken items with a counted reason."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.source_defaults: dict[str, Any] = dict(
            crawler.settings.getdict("FOERDERDESK_SOURCE") or {}
        )
        self.seen: set[tuple[str, str]] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build the pipeline for ``crawler``."""
        return cls(crawler)

    def process_item(self, item: Any, spider: Spider | None = None) -> CallRecord:
        """The item's :class:`CallRecord`, or :class:`Dropped`."""
        try:
            record = normalize_item(item, source_defaults=self.source_defaults)
        except Dropped as exc:
            _count_drop(self.crawler, exc.reason)
            raise
        key = (record.source, record.source_id)
        if key in self.seen:
            _count_drop(self.crawler, "duplicate")
            raise Dropped("duplicate", f"{record.source}/{record.source_id} seen twice in one run")
        self.seen.add(key)
        return record


class StorePipeline:
    """Upsert records in small batches, one transaction per batch."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.batch_size = crawler.settings.getint("FOERDERDESK_BATCH_SIZE", 25)
        url = crawler.settings.get("FOERDERDESK_DATABASE_URL")
        if not url:
            raise ValueError("FOERDERDESK_DATABASE_URL is not set for the crawl")
        self.engine = make_engine(url, write_lock_first=True)  # other processes write too
        self.factory = make_session_factory(self.engine)
        self.batch: list[CallRecord] = []
        self.dropped_keys: list[tuple[str, str]] = []
        crawler.signals.connect(self.item_dropped, signal=signals.item_dropped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build the pipeline for ``crawler``."""
        return cls(crawler)

    def item_dropped(self, item: Any, exception: BaseException, **_: Any) -> None:
        """Remember a dropped item's key: a stored call is still listed, not withdrawn."""
        adapter = ItemAdapter(item) if not isinstance(item, CallRecord) else None
        if adapter is not None:
            source = str(
                adapter.get("source")
                or self.crawler.settings.getdict("FOERDERDESK_SOURCE").get("slug", "")
            )
            source_id = str(adapter.get("source_id") or "")
        else:
            source, source_id = item.source, item.source_id
        if source and source_id:
            self.dropped_keys.append((source, source_id))

    def process_item(self, item: CallRecord, spider: Spider | None = None) -> CallRecord:
        """Queue ``item``; store the batch when it is full."""
        self.batch.append(item)
        if len(self.batch) >= self.batch_size:
            self.flush()
        return item

    def close_spider(self, spider: Spider | None = None) -> None:
        """Store what is left, then let go of the database."""
        self.flush()
        self.engine.dispose()

    def flush(self) -> None:
        """Store the pending batch in one transaction (a savepoint per call, so one bad
        call costs only itself)."""
        assert self.stats is not None
        batch, self.batch = self.batch, []
        dropped, self.dropped_keys = self.dropped_keys, []
        if not batch and not dropped:
            return
        run_id = self.crawler.settings.getint("FOERDERDESK_RUN_ID") or None
        try:
            with session_scope(self.factory) as session:
                for record in batch:
                    try:
                        with session.begin_nested():
                            result = upsert_call(session, record, crawl_run_id=run_id)
                    except (SQLAlchemyError, ValueError) as exc:
                        logger.error("%s/%s not stored: %s", record.source, record.source_id, exc)
                        _count_drop(self.crawler, "store_error")
                        continue
                    self.stats.inc_value(f"foerderdesk/calls_{result}")
                for source, source_id in dropped:
                    mark_seen(session, source, source_id)
        except SQLAlchemyError as exc:
            logger.error("batch of %d call(s) not stored: %s", len(batch), exc)
            self.stats.inc_value("foerderdesk/lost_in_batch", len(batch))
