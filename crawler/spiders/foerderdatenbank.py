"""Förderdatenbank des Bundes (foerderdatenbank.de): the federal funding database.

List pages (filtered by the list URL's query: Niedersachsen, Kommune, Verband/Vereinigung)
lead to one detail page per programme. The detail page's facts (Förderart, Förderbereich,
Fördergebiet, Förderberechtigte, Fördergeber) become the common fields; deadlines and amounts
exist only as prose and are passed on as the phrases the source wrote.

The site asks for ``Crawl-delay: 30`` and answers blocked clients with a Radware CAPTCHA page
and HTTP 200. Such a page, or any page without the expected selectors, closes the spider with
``blocked: ...``: the run fails and no stored call changes.

Settings (``crawler/sources.yaml``): ``list_url``, ``filters`` (query name → list of codes;
one list crawl per combination), ``max_list_pages``, ``download_delay``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import scrapy
from scrapy.exceptions import CloseSpider
from scrapy.http import Response
from scrapy.settings import BaseSettings

from crawler.items import FundingCallItem
from crawler.normalize.dates import find_deadlines
from crawler.normalize.text import html_to_text
from crawler.spiders import SourceSpider

SITE = "https://www.foerderdatenbank.de/"
DEFAULT_LIST_URL = (
    SITE + "SiteGlobals/FDB/Forms/Suche/Foederprogrammsuche_Formular.html"
    "?filterCategories=FundingProgram&sortOrder=dateOfIssue_dt+desc"
)
ROBOTS_CRAWL_DELAY = 30.0  # robots.txt: Crawl-delay: 30
ATTRIBUTION = "Quelle: Förderdatenbank des Bundes (BMWE), www.foerderdatenbank.de, CC BY-ND 4.0"

# Raw codes → display labels, from the list page's filter sidebar (the authority). Detail
# pages sometimes show the codes instead of the labels (see the Hessen F&E page).
CODE_LABELS: dict[str, dict[str, str]] = {
    "Foerderart": {
        "zuschuss": "Zuschuss", "darlehen": "Darlehen", "buergschaft": "Bürgschaft",
        "beteiligung": "Beteiligung", "garantie": "Garantie", "sonstige": "Sonstige",
    },
    "Foerdergebiet": {
        "_bundesweit": "bundesweit", "bundesweit": "bundesweit",
        "baden_wuerttemberg": "Baden-Württemberg", "bayern": "Bayern", "berlin": "Berlin",
        "brandenburg": "Brandenburg", "bremen": "Bremen", "de_ni": "Niedersachsen",
        "de_st": "Sachsen-Anhalt", "hamburg": "Hamburg", "hessen": "Hessen",
        "mecklenburg_vorpommern": "Mecklenburg-Vorpommern",
        "nordrhein_westfalen": "Nordrhein-Westfalen", "rheinland_pfalz": "Rheinland-Pfalz",
        "saarland": "Saarland", "sachsen": "Sachsen", "schleswig_holstein": "Schleswig-Holstein",
        "thueringen": "Thüringen",
    },
    "Foerderbereich": {
        "arbeit": "Arbeit", "aus_weiterbildung": "Aus- & Weiterbildung",
        "aussenwirtschaft": "Außenwirtschaft", "beratung": "Beratung", "corona": "Corona-Hilfe",
        "digitalisierung": "Digitalisierung",
        "energieeffizienz_erneuerbare_energien": "Energieeffizienz & Erneuerbare Energien",
        "existenzgruendung_festigung": "Existenzgründung & -festigung",
        "forschung_innovation_themenoffen": "Forschung & Innovation (themenoffen)",
        "forschung_innovation_themenspezifisch": "Forschung & Innovation (themenspezifisch)",
        "frauenfoerderung": "Frauenförderung", "gesundheit_soziales": "Gesundheit & Soziales",
        "infrastruktur": "Infrastruktur", "kultur_medien_sport": "Kultur, Medien & Sport",
        "landwirtschaft_laendliche_entwicklung": "Landwirtschaft & Ländliche Entwicklung",
        "messen_ausstellungen": "Messen & Ausstellungen", "mobilitaet": "Mobilität",
        "regionalfoerderung": "Regionalförderung",
        "smart_cities_regionen": "Smart Cities & Regionen",
        "staedtebau_stadterneuerung": "Städtebau & Stadterneuerung",
        "umwelt_naturschutz": "Umwelt- & Naturschutz",
        "unternehmensfinanzierung": "Unternehmensfinanzierung",
        "wohnungsbau_modernisierung": "Wohnungsbau & Modernisierung",
    },
    "Foerderberechtigte": {
        "bildungseinrichtung": "Bildungseinrichtung", "existenzgruenderin": "Existenzgründer/in",
        "forschungseinrichtung": "Forschungseinrichtung", "hochschule": "Hochschule",
        "kommune": "Kommune", "oeffentliche_einrichtung": "Öffentliche Einrichtung",
        "privatperson": "Privatperson", "unternehmen": "Unternehmen",
        "verband_vereinigung": "Verband/Vereinigung",
    },
}  # fmt: skip
_LABELS_WITH_COMMA = [
    label for table in CODE_LABELS.values() for label in table.values() if "," in label
]
# The programme's level in the URL path decides the funder type.
_FUNDER_TYPE_BY_PATH = {"Bund": "federal", "Land": "state", "EU": "eu"}
_FACT_KEYS = {  # label on the page, ASCII variant folded to the same key
    "foerderart": "Foerderart",
    "foerderbereich": "Foerderbereich",
    "foerdergebiet": "Foerdergebiet",
    "foerderberechtigte": "Foerderberechtigte",
    "foerdergeber": "Foerdergeber",
    "ansprechpunkt": "Ansprechpunkt",
}
# Amounts and rates are prose. A sentence counts only if it is about the grant itself;
# company size limits ("Jahresumsatz bis zu 75 Mio. EUR") are not a grant.
_AMOUNT = re.compile(
    r"\d[\d.,]*\s*(?:Mio\.?\s*|Millionen\s*)?(?:€|EUR\b|Euro\b)|(?:€|EUR)\s*\d", re.I
)
_RATE = re.compile(r"\d+(?:,\d+)?\s*(?:%|Prozent\b)", re.IGNORECASE)
_GRANT_CUE = re.compile(
    r"zuschuss|förder(?:ung|betrag|summe|höhe|quote|satz)|zuwendung|gefördert|darlehen|"
    r"beteiligungshöhe|höchstbetrag",
    re.IGNORECASE,
)
_RATE_CUE = re.compile(
    r"förderquote|fördersatz|zuschuss|zuwendung|gefördert|ausgaben|kosten", re.IGNORECASE
)
_PART_OF_PROGRAMME = re.compile(
    r"im\s+Rahmen\s+(?:des|der)\s+(?:Förder|Bundes|Landes)?(?:programms?|initiative)\s+"
    r"[„\"“»]([^“”\"«]{3,150})[“”\"«]",
    re.IGNORECASE,
)
_NOT_A_GRANT = re.compile(r"umsatz|bilanzsumme|beschäftigte|mitarbeit|kapital", re.IGNORECASE)


class FoerderdatenbankSpider(SourceSpider):
    """List pages → detail pages of the Förderdatenbank; one item per programme."""

    name = "foerderdatenbank"
    custom_settings = {  # noqa: RUF012 (Scrapy reads this class attribute)
        "DOWNLOAD_DELAY": ROBOTS_CRAWL_DELAY,
        "AUTOTHROTTLE_START_DELAY": ROBOTS_CRAWL_DELAY,
        "DOWNLOAD_DELAY_JITTER": 0.0,  # never faster than the robots.txt delay
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
    }

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        """Apply ``custom_settings``, then the source's own ``download_delay`` (from the
        sources file), which must not go below what robots.txt asks unless a test says so."""
        super().update_settings(settings)
        source = settings.getdict("FOERDERDESK_SOURCE") or {}
        delay = (source.get("settings") or {}).get("download_delay")
        if delay is not None:
            settings.set("DOWNLOAD_DELAY", float(delay), priority="spider")
            settings.set("AUTOTHROTTLE_START_DELAY", float(delay), priority="spider")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_list_pages = int(self.config.get("max_list_pages", 30))
        self.labels = {key: dict(table) for key, table in CODE_LABELS.items()}

    # --- list pages -----------------------------------------------------------------------
    def list_urls(self) -> list[str]:
        """One list URL per combination of the configured filters."""
        base = str(self.config.get("list_url") or DEFAULT_LIST_URL)
        filters: dict[str, Any] = dict(self.config.get("filters") or {})
        names = sorted(filters)
        values = [_as_list(filters[name]) for name in names]
        urls = []
        for combination in itertools.product(*values):
            urls.append(_with_query(base, dict(zip(names, combination, strict=True))))
        return urls or [base]

    async def start(self) -> Any:
        """The filtered list pages (Scrapy's entry point)."""
        for request in self.list_requests():
            yield request

    def list_requests(self) -> Iterator[scrapy.Request]:
        """The first page of every filtered list."""
        for url in self.list_urls():
            yield scrapy.Request(url, callback=self.parse, cb_kwargs={"page": 1})

    def parse(self, response: Response, page: int = 1, **_: Any) -> Iterator[Any]:
        """A list page: one detail request per card, then the "weiter" page."""
        _check_not_blocked(response, expect="div.card--fundingprogram, #hits--count")
        self._learn_labels(response)
        cards = response.css("div.card--fundingprogram")
        hits = (response.css("#hits--count::text").get() or "").strip()
        if not cards and hits not in ("", "0"):
            raise CloseSpider(f"blocked: list page {response.url} shows {hits} hits but no cards")
        for card in cards:
            href = card.css("p.card--title a::attr(href)").get()
            if not href:
                continue
            url = _absolute(response, href)
            who = card.xpath(".//dt[contains(., 'Wer wird')]/following-sibling::dd[1]")
            yield scrapy.Request(
                url,
                callback=self.parse_detail,
                cb_kwargs={
                    "page_url": url,
                    "card_applicants": _split_labels(who.xpath("string()").get() or ""),
                    "basket_id": card.css("[data-basket-id]::attr(data-basket-id)").get() or "",
                },
            )
        forward = response.css("div.pagination a.forward::attr(href)").get()
        if forward and page < self.max_list_pages:
            # The href carries a session-like token (gtp=...); follow it, never build pages.
            yield scrapy.Request(
                _absolute(response, forward), callback=self.parse, cb_kwargs={"page": page + 1}
            )

    def _learn_labels(self, response: Response) -> None:
        # The sidebar lists every code with its label; new codes appear there first.
        for link in response.css("a[href*='cl2Processes_']"):
            query = dict(parse_qsl(urlsplit(link.attrib.get("href", "")).query))
            label = re.sub(r"\s*\(\d+\)\s*$", "", " ".join(link.xpath("string()").get().split()))
            for name, code in query.items():
                key = name.removeprefix("cl2Processes_")
                if key in self.labels and label:
                    self.labels[key].setdefault(code, label)

    # --- detail pages ---------------------------------------------------------------------
    def parse_detail(
        self,
        response: Response,
        page_url: str = "",
        card_applicants: list[str] | None = None,
        basket_id: str = "",
    ) -> Iterator[FundingCallItem]:
        """A programme page: facts, body text, prose deadlines and amounts."""
        _check_not_blocked(response, expect="h1.title")
        url = response.css("link[rel=canonical]::attr(href)").get() or page_url or response.url
        source_id = _source_id(url)
        title = " ".join((response.css("h1.title").xpath("string()").get() or "").split())
        facts = self._facts(response)
        description_html, conditions_html, summary = _body(response)
        text = "\n".join(
            part for part in (html_to_text(description_html), html_to_text(conditions_html)) if part
        )
        deadlines = [
            {"raw": found.raw, "stage": "", "label": "Antragsfrist"}
            for found in find_deadlines(text)
        ]
        applicants = facts.get("Foerderberechtigte") or list(card_applicants or [])
        level = _level(url)
        yield FundingCallItem(
            source=self.source,
            source_id=source_id,
            url=url,
            title=title,
            summary=summary,
            description_html=description_html,
            conditions_html=conditions_html,
            language="de",
            # No Fördergeber named: the programme's contact point is the one who funds it
            # (the MBG Thüringen for its own Beteiligungen).
            funder=", ".join(facts.get("Foerdergeber") or facts.get("Ansprechpunkt") or []),
            funder_type=_FUNDER_TYPE_BY_PATH.get(level, ""),
            programme=programme_name(title),
            call_identifier=source_id.rsplit("/", 1)[-1],
            type_of_action=", ".join(facts.get("Foerderart", [])),
            status_source="gelistet",
            deadlines=deadlines,
            grant_max_raw=_sentence_with(_AMOUNT, _GRANT_CUE, text),
            funding_rate_raw=_sentence_with(_RATE, _RATE_CUE, text),
            applicants_raw=applicants,
            eligibility_text=", ".join(applicants),
            regions=facts.get("Foerdergebiet", []),
            keywords=facts.get("Foerderbereich", []),
            attribution=ATTRIBUTION,
        )

    def _facts(self, response: Response) -> dict[str, list[str]]:
        facts: dict[str, list[str]] = {}
        dl = response.css("dl.document-info-fundingprogram")
        for dt in dl.xpath("./dt"):
            label = _fold_label(dt.xpath("string()").get() or "")
            key = _FACT_KEYS.get(label)
            dd = dt.xpath("following-sibling::dd[1]")
            if key is None or not dd:
                continue
            if "card" in (dd.attrib.get("class") or ""):
                names = [
                    " ".join(n.split())
                    for n in dd.css("p.card--title a span.link--label").xpath("string()").getall()
                ]
                facts[key] = [n for n in names if n]
                continue
            labels = self.labels.get(key, {})
            facts[key] = [
                labels.get(term, term) for term in _split_labels(dd.xpath("string()").get())
            ]
        return facts


# --- page helpers -------------------------------------------------------------------------
def _check_not_blocked(response: Response, *, expect: str) -> None:
    """Close the spider when the page is a CAPTCHA or lacks the selectors it must have."""
    title = " ".join((response.css("title::text").get() or "").split())
    if re.search(r"captcha|radware|access denied", title, re.IGNORECASE):
        raise CloseSpider(f"blocked: bot protection page ({title!r}) at {response.url}")
    if not response.css(expect):
        size = len(response.body)
        raise CloseSpider(
            f"blocked: expected {expect!r} missing at {response.url} "
            f"(HTTP {response.status}, {size} bytes, title {title!r})"
        )


def _body(response: Response) -> tuple[str, str, str]:
    """(description HTML, conditions HTML, summary) from tabs or a single text block."""
    openers = [
        " ".join(o.xpath("string()").get().split())
        for o in response.css("h2.horizontal--tab-opener")
    ]
    tabs = response.css("article.content--tab-text")
    if openers and tabs:
        description, conditions = [], []
        for label, tab in zip(openers, tabs, strict=False):
            # "Zusatzinfos" holds "rechtliche Voraussetzungen": who may apply, on which terms.
            (conditions if label.startswith("Zusatzinfo") else description).append(tab.get())
        kurztext = tabs[0].xpath(".//h3[contains(., 'Kurztext')]/following-sibling::p[1]")
        summary = " ".join((kurztext.xpath("string()").get() or "").split())
        return "\n".join(description), "\n".join(conditions), summary
    block = response.css("div.content div.rich--text") or response.css("div.rich--text")
    return (block[0].get() if block else ""), "", ""


def programme_name(title: str) -> str:
    """The programme a Förderdatenbank entry belongs to: the one its title names ("… im
    Rahmen des Förderprogramms „Existenzgründungen aus der Wissenschaft“"), else the entry
    itself, whose title is the programme's name."""
    named = _PART_OF_PROGRAMME.search(title)
    return named.group(1).strip() if named else title


def _absolute(response: Response, href: str) -> str:
    # Relative links resolve against <base href="https://www.foerderdatenbank.de/">, also
    # when the page came through a mirror, so the item keeps the real site's address.
    base = response.css("base::attr(href)").get() or SITE
    return urljoin(base, href)


def _source_id(url: str) -> str:
    path = urlsplit(url).path
    for marker in ("/Foerderprogramm/", "/Archiv/"):
        if marker in path:
            return path.split(marker, 1)[1].removesuffix(".html")
    return path.strip("/").removesuffix(".html")


def _level(url: str) -> str:
    source_id = _source_id(url)
    return source_id.split("/", 1)[0] if "/" in source_id else ""


def _fold_label(label: str) -> str:
    text = label.strip().rstrip(":").strip().lower()
    return text.replace("ö", "oe").replace("ä", "ae").replace("ü", "ue")


def _split_labels(text: str | None) -> list[str]:
    if not text:
        return []
    # Labels are comma-separated, but "Kultur, Medien & Sport" is one label with a comma.
    parts = [" ".join(p.split()) for p in text.split(",") if p.strip()]
    joined: list[str] = []
    for part in parts:
        candidate = f"{joined[-1]}, {part}" if joined else ""
        if any(label.startswith(candidate) for label in _LABELS_WITH_COMMA) and candidate:
            joined[-1] = candidate
        else:
            joined.append(part)
    return joined


def _sentence_with(value: re.Pattern[str], cue: re.Pattern[str], text: str) -> str | None:
    """The first sentence that states ``value`` (an amount, a rate) about the grant."""
    for sentence in re.split(r"(?<=[.!?])\s+|\n", text):
        if value.search(sentence) and cue.search(sentence) and not _NOT_A_GRANT.search(sentence):
            return " ".join(sentence.split())
    return None


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def _with_query(url: str, extra: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in extra]
    query.extend(extra.items())
    return urlunsplit(parts._replace(query=urlencode(query)))
