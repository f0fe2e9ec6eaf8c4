"""EU Funding & Tenders Portal: the SEDIA search API, topic details and the programme facet.

The search API takes a POST with a ``multipart/form-data`` body of JSON parts ``query``,
``languages`` and ``sort`` (a GET answers 405, a plain JSON body is ignored or fails). We ask
for grants (types 1, 2, 8) that are forthcoming (31094501) or open (31094502), follow
``pageNumber`` until a page is empty or ``totalResults`` are seen, whatever page size the
server actually returns, then fetch each topic's TopicDetails JSON for its conditions (who
may apply) and support information. Programme names come from the facet endpoint.

Details are the heavy part (one request per topic), so they are fetched only when due (see
:func:`storage.call_details.details_due`): a new topic, a changed search record (its hash), details
missing since a failed request, or details older than ``details_max_age_days``. Otherwise the
item carries the search record alone (``details="skipped"``) and the stored details stand. A
details request that fails (404, 500 after retries, a time-out, a body that is not
TopicDetails) still yields the topic from its search record, ``details="missing"``, so it is
stored, kept from withdrawal, and fetched again next run.

Traps handled here (see the research notes): every metadata value is a list of strings;
``budgetOverview`` is JSON inside a string and lists every action of the call, so only the
entries of this topic count and a pot shared by sibling topics is not a topic budget; the
same record can appear twice on a page or across pages; the index keeps stale "forthcoming"
records for years, so the status is derived from the dates later, not copied.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

import scrapy
from scrapy.exceptions import CloseSpider
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.items import FundingCallItem
from crawler.spiders import SourceSpider
from storage.call_details import DEFAULT_DETAILS_MAX_AGE_DAYS, details_due
from storage.models import utcnow

SEARCH_URL = "https://api.tech.ec.europa.eu/search-api/prod/rest/search"
FACET_URL = "https://api.tech.ec.europa.eu/search-api/prod/rest/facet"
TOPIC_DETAILS_URL = (
    "https://ec.europa.eu/info/funding-tenders/opportunities/data/topicDetails/{identifier}.json"
)
TOPIC_PAGE_URL = (
    "https://ec.europa.eu/info/funding-tenders/opportunities/portal/screen/opportunities/"
    "topic-details/{identifier}"
)
CASCADE_PAGE_URL = (
    "https://ec.europa.eu/info/funding-tenders/opportunities/portal/screen/opportunities/"
    "competitive-calls-cs/{ccm2id}"
)
# A fixed boundary keeps the request body byte-stable (tests compare it).
BOUNDARY = "----foerderdeskFormBoundary7MA4YWxkTrZu0gW"
ATTRIBUTION = "© European Union; European Commission, Funding & Tenders Portal (CC BY 4.0)"
STATUS_WORDS = {"31094501": "forthcoming", "31094502": "open", "31094503": "closed"}
# Parts of a search result that move without the topic changing: the relevance score and
# the API's version number.
VOLATILE_RESULT_KEYS = frozenset({"weight", "apiVersion"})
# Used only when the facet endpoint does not answer (codes from public code lists).
PROGRAMME_FALLBACK = {
    "43108390": "Horizon Europe",
    "43152860": "Digital Europe",
    "43251567": "Connecting Europe Facility",
    "43353764": "Erasmus+",
    "43251589": "CERV",
    "43252405": "LIFE",
    "43251447": "AMIF",
    "43251814": "Creative Europe",
    "43252476": "Single Market Programme",
    "43332642": "EU4Health",
    "43254019": "ESF+",
    "43254037": "European Solidarity Corps",
    "43252368": "ISF",
    "43252386": "Justice",
    "43298203": "UCPM",
    "44416173": "I3",
    "43637601": "PPPA",
    "43089234": "Innovation Fund",
    "43392145": "EMFAF",
    "44773066": "JTM",
    "43251530": "BMVI",
    "43252517": "SOCPL",
    "111111": "EU External Action",
}


def multipart_body(parts: dict[str, Any], boundary: str = BOUNDARY) -> bytes:
    """A ``multipart/form-data`` body with one JSON part per entry, as the portal sends it."""
    lines: list[str] = []
    for name, value in parts.items():
        lines += [
            f"--{boundary}",
            f'Content-Disposition: form-data; name="{name}"; filename="blob"',
            "Content-Type: application/json",
            "",
            json.dumps(value, separators=(",", ":")),
        ]
    lines.append(f"--{boundary}--")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def search_record_hash(result: dict[str, Any]) -> str:
    """A hash of a topic's search record: equal hashes mean its details need no new request."""
    stable = {k: v for k, v in result.items() if k not in VOLATILE_RESULT_KEYS}
    payload = json.dumps(stable, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _first(metadata: dict[str, Any], key: str, default: str = "") -> str:
    values = metadata.get(key) or []
    if isinstance(values, list):
        return str(values[0]) if values else default
    return str(values)


def _decode_json_string(value: Any) -> Any:
    """JSON that SEDIA wraps in a list of strings (``actions``, ``budgetOverview``)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def topic_budget(identifier: str, overview: dict[str, Any] | None) -> dict[str, Any]:
    """Budget figures for this topic only, from a ``budgetOverview`` mapping.

    The map lists every action of the call; entries whose ``action`` starts with
    ``identifier`` are this topic's. A total that sibling topics repeat is a call-level
    pot, not this topic's budget, so it is left out.
    """
    result: dict[str, Any] = {"budget": None, "min": None, "max": None, "expected": None}
    if not overview:
        return result
    action_map = overview.get("budgetTopicActionMap") or {}
    mine: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    for entries in action_map.values():
        for entry in entries or []:
            action = str(entry.get("action", ""))
            is_mine = action == identifier or action.startswith(f"{identifier} ")
            (mine if is_mine else others).append(entry)
    if not mine:
        return result

    def total(entry: dict[str, Any]) -> int:
        amounts = (entry.get("budgetYearMap") or {}).values()
        return sum(_whole(v) or 0 for v in amounts)

    budget = sum(total(e) for e in mine)
    sibling_totals = {total(e) for e in others}
    if budget and budget not in sibling_totals:
        result["budget"] = budget
    # Several actions of one topic (e.g. RIA and IA): the range spans them all. 0 means
    # "not stated".
    lows = [_whole(e.get("minContribution")) for e in mine]
    highs = [_whole(e.get("maxContribution")) for e in mine]
    result["min"] = min((v for v in lows if v), default=None)
    result["max"] = max((v for v in highs if v), default=None)
    expected = sum(_whole(e.get("expectedGrants")) or 0 for e in mine)
    result["expected"] = expected or None
    return result


def _whole(value: Any) -> int | None:
    """A ``budgetOverview`` figure (a number, or a number as a string) in whole units."""
    try:
        return round(float(str(value).strip())) if value not in (None, "") else None
    except ValueError:
        return None


def stage_deadlines(dates: list[str], model: str) -> list[dict[str, Any]]:
    """The deadlines with their stage: two-stage keeps stage 1 and 2 apart, multiple cut-off
    numbers its cut-offs."""
    model = model.lower()
    deadlines = []
    for position, raw in enumerate(dates, start=1):
        if model == "two-stage":
            stage = str(position)
            label = "stage 1" if position == 1 else "stage 2 (invited applicants only)"
        elif model == "multiple cut-off":
            stage, label = f"cut-off {position}", f"cut-off {position}"
        else:
            stage, label = ("", "") if len(dates) == 1 else (str(position), "")
        deadlines.append({"raw": raw, "stage": stage, "label": label})
    return deadlines


class EuFundingTendersSpider(SourceSpider):
    """Open and forthcoming EU grant topics with their conditions."""

    name = "eu_funding_tenders"
    allowed_domains: ClassVar[list[str]] = ["api.tech.ec.europa.eu", "ec.europa.eu"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.types = [str(t) for t in self.config.get("types", ["1", "2", "8"])]
        self.statuses = [str(s) for s in self.config.get("statuses", ["31094501", "31094502"])]
        self.period = str(self.config.get("programme_period", "2021 - 2027"))
        self.page_size = int(self.config.get("page_size", 100))
        self.max_pages = int(self.config.get("max_pages", 60))
        self.details_max_age_days = float(
            self.config.get("details_max_age_days", DEFAULT_DETAILS_MAX_AGE_DAYS)
        )
        self.now = utcnow()  # one clock for the whole run's "details too old?" checks
        self.programmes: dict[str, str] = {}
        self.seen_ids: set[str] = set()
        self.results_seen = 0
        self.total_results: int | None = None

    # --- requests ---------------------------------------------------------------------
    def _query(self) -> dict[str, Any]:
        must: list[dict[str, Any]] = [
            {"terms": {"type": self.types}},
            {"terms": {"status": self.statuses}},
        ]
        if self.period:
            must.append({"term": {"programmePeriod": self.period}})
        return {"bool": {"must": must}}

    def _post(self, url: str, params: dict[str, Any], **kwargs: Any) -> scrapy.Request:
        body = multipart_body(
            {
                "query": self._query(),
                "languages": ["en"],
                "sort": {"order": "ASC", "field": "deadlineDate"},
            }
        )
        return scrapy.Request(
            f"{url}?{urlencode(params, safe='*')}",
            method="POST",
            body=body,
            headers={
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                "Accept": "application/json, text/plain, */*",
            },
            dont_filter=True,
            **kwargs,
        )

    def search_request(self, page: int) -> scrapy.Request:
        """The search request for ``page`` (1-based)."""
        params = {"apiKey": "SEDIA", "text": "***", "pageSize": self.page_size, "pageNumber": page}
        return self._post(SEARCH_URL, params, callback=self.parse_search, cb_kwargs={"page": page})

    def facet_request(self) -> scrapy.Request:
        """The facet request that names the programmes."""
        return self._post(
            FACET_URL,
            {"apiKey": "SEDIA", "text": "***"},
            callback=self.parse_facet,
            errback=self.facet_failed,
        )

    async def start(self) -> AsyncIterator[scrapy.Request]:
        """Programme names first, then the search pages."""
        yield self.facet_request()

    # --- callbacks ----------------------------------------------------------------------
    def _json(self, response: Response, what: str) -> Any:
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1").lower()
        text = response.text if hasattr(response, "text") else response.body.decode("utf-8")
        if "html" in content_type or text.lstrip()[:1] == "<":
            raise CloseSpider(
                f"blocked: {what} answered with an HTML page, not JSON ({response.url})"
            )
        return json.loads(text)

    def parse_facet(self, response: Response) -> Iterator[scrapy.Request]:
        """Read programme code -> name, then start the search."""
        try:
            data = self._json(response, "the facet endpoint")
            for facet in data.get("facets", []):
                if facet.get("name") == "frameworkProgramme":
                    for value in facet.get("values", []):
                        self.programmes[str(value.get("rawValue"))] = str(value.get("value", ""))
        except (json.JSONDecodeError, AttributeError) as exc:
            self.logger.warning(
                "facet not understood (%s); using the built-in programme names", exc
            )
        yield self.search_request(1)

    def facet_failed(self, failure: Failure) -> Iterator[scrapy.Request]:
        """Programme names are a nicety: carry on with the built-in table."""
        self.logger.warning(
            "facet request failed (%s); using built-in programme names", failure.value
        )
        yield self.search_request(1)

    def parse_search(
        self, response: Response, page: int
    ) -> Iterator[scrapy.Request | FundingCallItem]:
        """One search page: a details request per topic whose details are due (an item from
        the search record alone for the others), and the next page."""
        try:
            data = self._json(response, f"search page {page}")
            results = data["results"]
            total = int(data.get("totalResults", 0))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            if page == 1:
                raise CloseSpider(f"broken: search page 1 is not a SEDIA response: {exc}") from exc
            self.logger.error(
                "search page %d is not a SEDIA response (%s); stopping here", page, exc
            )
            return
        if self.total_results is not None and total != self.total_results:
            self.logger.warning("totalResults moved from %s to %s", self.total_results, total)
        self.total_results = total
        self.results_seen += len(results)
        self.crawler.stats.inc_value("foerderdesk/search_results", len(results))

        for result in results:
            metadata = result.get("metadata") or {}
            identifier = _first(metadata, "identifier")
            if not identifier:
                self.logger.warning("search result without identifier on page %d skipped", page)
                self.crawler.stats.inc_value("foerderdesk/dropped/no_identifier")
                continue
            if identifier in self.seen_ids:
                self.crawler.stats.inc_value("foerderdesk/dropped/duplicate")
                continue
            self.seen_ids.add(identifier)
            if _first(metadata, "type") not in self.types:
                self.crawler.stats.inc_value("foerderdesk/dropped/not_a_grant")
                continue
            due = details_due(
                self.known.get(identifier),
                search_record_hash(result),
                max_age_days=self.details_max_age_days,
                now=self.now,
            )
            if not due:
                # Still yielded: the topic is seen (not withdrawn) and its dates are current.
                yield self.topic_item(result, {}, "skipped")
                continue
            self.crawler.stats.inc_value(f"foerderdesk/details_due/{due}")
            yield scrapy.Request(
                TOPIC_DETAILS_URL.format(identifier=quote(identifier, safe="")),
                callback=self.parse_topic,
                errback=self.topic_failed,
                cb_kwargs={"result": result},
                meta={"identifier": identifier},
            )

        if results and self.results_seen < total and page < self.max_pages:
            yield self.search_request(page + 1)
        elif page >= self.max_pages and results:
            self.logger.error("stopped at the page cap (%d pages)", self.max_pages)

    def parse_topic(self, response: Response, result: dict[str, Any]) -> Iterator[FundingCallItem]:
        """The call, from its search record plus its TopicDetails document."""
        identifier = _first(result.get("metadata") or {}, "identifier")
        try:
            details = self._json(response, f"topic details of {identifier}")["TopicDetails"]
            if not isinstance(details, dict):
                raise TypeError(f"TopicDetails is a {type(details).__name__}, not an object")
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            # The search record alone; the store keeps any details it has (none are blanked)
            # and the run is partial, so nothing is withdrawn.
            self.logger.error("topic details of %s not understood: %s", identifier, exc)
            yield self.topic_item(result, {}, "missing")
            return
        yield self.topic_item(result, details, "fetched")

    def topic_failed(self, failure: Failure) -> Iterator[FundingCallItem]:
        """Details not fetched (404, 500 after retries, time-out): the search record alone."""
        request = getattr(failure, "request", None)
        identifier = request.meta.get("identifier") if request is not None else "?"
        self.logger.error("topic details of %s not fetched: %s", identifier, failure.value)
        result = request.cb_kwargs.get("result") if request is not None else None
        if result:
            yield self.topic_item(result, {}, "missing")

    def topic_item(
        self, result: dict[str, Any], details: dict[str, Any], state: str
    ) -> FundingCallItem:
        """The item for one topic, stamped with its record hash and its details ``state``
        (``fetched``, ``missing`` or ``skipped``; see :mod:`crawler.items`), and counted."""
        item = self.build_item(result, details)
        item.record_hash = search_record_hash(result)
        item.details = state
        if state == "skipped":
            # The stored details stand (storage.calls.DETAILS_FIELDS): nothing to clean again.
            item.description_html = item.conditions_html = item.eligibility_text = ""
        self.crawler.stats.inc_value(f"foerderdesk/details_{state}")
        return item

    # --- the item -------------------------------------------------------------------------
    def build_item(self, result: dict[str, Any], details: dict[str, Any]) -> FundingCallItem:
        """A :class:`FundingCallItem` from a search ``result`` and its ``details``."""
        metadata = result.get("metadata") or {}
        identifier = _first(metadata, "identifier")
        model = _first(metadata, "deadlineModel")
        actions = _decode_json_string(metadata.get("actions")) or details.get("actions") or []
        action = actions[0] if actions else {}
        if not model:
            procedure = action.get("submissionProcedure") or {}
            model = str(procedure.get("abbreviation") or "")

        dates = [str(d) for d in metadata.get("deadlineDate") or []]
        action_dates = [str(d) for a in actions for d in a.get("deadlineDates") or []]
        if len(action_dates) > len(dates):
            dates = action_dates

        overview = _decode_json_string(metadata.get("budgetOverview")) or details.get(
            "budgetOverviewJSONItem"
        )
        budget = topic_budget(identifier, overview)

        programme_code = _first(metadata, "frameworkProgramme")
        details_programme = details.get("frameworkProgramme") or {}
        programme = (
            self.programmes.get(programme_code)
            or str(details_programme.get("abbreviation") or "")
            or PROGRAMME_FALLBACK.get(programme_code, programme_code)
        )
        type_of_action = _first(metadata, "typesOfAction")
        if not type_of_action and action.get("types"):
            type_of_action = str(action["types"][0].get("typeOfAction", ""))

        conditions = str(details.get("conditions") or "")
        support = str(details.get("supportInfo") or "")
        conditions_html = conditions
        if support:
            conditions_html += f"<h3>Support information</h3>{support}"

        keywords = [
            str(k)
            for key in ("keywords", "tags", "crossCuttingPriorities")
            for k in (metadata.get(key) or details.get(key) or [])
            if str(k) and str(k) != identifier
        ]
        opening = _first(metadata, "startDate") or str(action.get("plannedOpeningDate") or "")
        return FundingCallItem(
            source=self.source,
            source_id=identifier,
            url=self._page_url(result, identifier),
            title=_first(metadata, "title") or str(details.get("title") or result.get("summary")),
            description_html=str(details.get("description") or _first(metadata, "descriptionByte")),
            conditions_html=conditions_html,
            eligibility_text=conditions,
            language=_first(metadata, "language") or str(result.get("language") or "en"),
            funder="European Commission",
            funder_type="eu",
            programme=programme,
            call_identifier=_first(metadata, "callIdentifier"),
            type_of_action=type_of_action,
            status_source=STATUS_WORDS.get(_first(metadata, "status"), _first(metadata, "status")),
            opening_date_raw=opening,
            deadline_model=model,
            deadlines=stage_deadlines(dates, model),
            budget_raw=budget["budget"],
            grant_min_raw=budget["min"],
            grant_max_raw=budget["max"],
            expected_grants=budget["expected"],
            regions=["EU"],
            keywords=list(dict.fromkeys(keywords)),
            attribution=ATTRIBUTION,
        )

    @staticmethod
    def _page_url(result: dict[str, Any], identifier: str) -> str:
        metadata = result.get("metadata") or {}
        if _first(metadata, "type") == "8" and _first(metadata, "callccm2Id"):
            return CASCADE_PAGE_URL.format(ccm2id=_first(metadata, "callccm2Id"))
        url = str(result.get("url") or _first(metadata, "url"))
        if "/portal/screen/" in url:
            return url
        # Legacy index entries point at the JSON document, not at the page people read.
        return TOPIC_PAGE_URL.format(identifier=identifier)
