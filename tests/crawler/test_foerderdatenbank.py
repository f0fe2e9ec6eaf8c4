"""The Förderdatenbank spider on the real export excerpt: a programme field by field, the
classifiers, the links between documents, and the export's faults, read offline."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.exceptions import CloseSpider, StopDownload
from scrapy.http import Headers, Response
from scrapy.utils.test import get_crawler

from crawler.foerderdatenbank import codes
from crawler.foerderdatenbank.archive import open_export, parse_document
from crawler.foerderdatenbank.build import build_export
from crawler.foerderdatenbank.download import SPOOL, ExportSpool, Validators, settings_key
from crawler.items import FundingCallItem
from crawler.normalize.applicants import map_applicants
from crawler.pipelines import normalize_item
from crawler.sources import find_source
from crawler.spiders.foerderdatenbank import FoerderdatenbankSpider
from storage.call_details import KnownDetails
from storage.calls import CallRecord
from tests.crawler.conftest import FDB_DOCS, FDB_EXPORT, fdb_document

ENTRY = find_source("foerderdatenbank")
EINSTIEGSGELD = "Bund/BMAS/einstiegsgeld"
FILM = "Bund/BKM/deutsch-franzoesische-kooperationen-film-ffa"
EINGLIEDERUNG = "Bund/BA/eingliederungszuschuss-bund"
CONTROL_BYTE_DOC = "ExternerLink/R/rgl-buergschaften-als-de-minimis-beihilfe-863736"


def _spider(**config: object) -> FoerderdatenbankSpider:
    crawler = get_crawler(FoerderdatenbankSpider)
    spider = FoerderdatenbankSpider.from_crawler(
        crawler, source="foerderdatenbank", config={**ENTRY.settings, **config}
    )
    crawler.spider = spider
    return spider


def _export(tmp_path: Path, **overrides: bytes | None) -> Path:
    target = tmp_path / "export.zip"
    build_export(FDB_EXPORT, target, overrides={FDB_DOCS + k: v for k, v in overrides.items()})
    return target


def _items(spider: FoerderdatenbankSpider, export: Path) -> dict[str, FundingCallItem]:
    return {item.source_id: item for item in spider.read_export(export)}


def _records(spider: FoerderdatenbankSpider, export: Path) -> dict[str, CallRecord]:
    return {
        key: normalize_item(item, source_defaults=ENTRY.as_dict())
        for key, item in _items(spider, export).items()
    }


def _with_region(document: bytes, code: str) -> bytes:
    return document.replace(b"Foerdergebiet/bundesweit", f"Foerdergebiet/{code}".encode())


def test_a_known_programme_field_by_field(tmp_path: Path) -> None:
    records = _records(_spider(), _export(tmp_path))
    assert sorted(records) == sorted([EINSTIEGSGELD, FILM, EINGLIEDERUNG])
    call = records[EINSTIEGSGELD]
    assert call.url == (
        "https://www.foerderdatenbank.de/FDB/Content/DE/Foerderprogramm/Bund/BMAS/einstiegsgeld.html"
    )
    assert (call.title, call.programme, call.call_identifier) == (
        "Einstiegsgeld",
        "Einstiegsgeld",
        "einstiegsgeld",
    )
    assert (call.funder, call.funder_type, call.language) == (
        "Bundesagentur für Arbeit (BA)",
        "federal",
        "de",
    )
    assert call.type_of_action == "Zuschuss"
    assert call.keywords == ["Existenzgründung & -festigung"]
    assert call.regions == ["DE"]  # bundesweit: every Land
    assert call.opening_date == date(2020, 4, 21)  # gsb:dateOfIssue, the first publication
    assert (call.deadline_model, call.deadlines) == ("none", [])  # applied for before starting
    assert call.grant_max_eur == 5_000  # "Zuschüsse sind bis zu einer Höhe von EUR 5.000 möglich"
    assert call.summary.startswith("Das Einstiegsgeld dient der Unterstützung von Menschen")
    for heading in (
        "Ziel und Gegenstand",
        "Antragsberechtigte",
        "Voraussetzungen",
        "Art und Höhe der Förderung",
        "Antragsverfahren",
    ):
        assert f"<h2>{heading}</h2>" in call.description
        assert f"\n{heading}:\n" in call.description_text
    assert call.attribution.endswith("CC BY-ND 4.0")
    assert call.eligible_applicants == ["company"]  # Existenzgründer/in
    assert call.eligibility_evidence == {"company": "stated"}


def test_summary_guideline_conditions_deadlines_and_money_of_the_others(tmp_path: Path) -> None:
    records = _records(_spider(), _export(tmp_path))
    work = records[EINGLIEDERUNG]
    assert work.summary.startswith("Für die Einstellung von förderungsbedürftigen")  # teaser
    assert "<h2>Kurzzusammenfassung</h2>" in work.description  # the full summary
    assert "Lohnkostenzuschuss" in work.description_text
    assert work.conditions.startswith("<h2>Rechtliche Voraussetzungen</h2>")
    assert "Antragsberechtigt sind Arbeitgeberinnen" in work.conditions
    assert work.funding_rate == 70.0  # "bis zu 70 Prozent des … Arbeitsentgelts"
    film = records[FILM]
    assert film.funder == "Der Beauftragte der Bundesregierung für Kultur und Medien (BKM)"
    assert film.type_of_action == "Darlehen, Bürgschaft"
    assert film.budget_eur == 3_200_000  # "Das jährliche Fördervolumen … 3,2 Millionen EUR"
    # "Anträge bis zum 20.04.2026 und 15.09.2026", end of day in Berlin
    assert [d.due_at for d in film.deadlines] == [
        datetime(2026, 4, 20, 21, 59, tzinfo=UTC),
        datetime(2026, 9, 15, 21, 59, tzinfo=UTC),
    ]
    assert film.deadline_model == "multiple_cutoff"
    assert "(Filmförderungsgesetz ? FFG)" in film.description_text  # the source's text, as is


def test_who_may_apply_maps_every_classifier_code_and_is_stated(tmp_path: Path) -> None:
    expected = {
        "bildungseinrichtung": "education", "existenzgruenderin": "company",
        "forschungseinrichtung": "research", "hochschule": "research",
        "kommune": "municipality", "oeffentliche_einrichtung": "public_body",
        "privatperson": "individual", "unternehmen": "company", "verband_vereinigung": "ngo",
    }  # fmt: skip
    assert sorted(codes.FOERDERBERECHTIGTE) == sorted(expected)
    for code, kind in expected.items():
        assert map_applicants(codes.labels(codes.FOERDERBERECHTIGTE, [code])) == [kind], code
    work = _records(_spider(), _export(tmp_path))[EINGLIEDERUNG]
    assert work.eligible_applicants == ["public_body", "ngo", "company"]
    assert work.eligibility_evidence == dict.fromkeys(work.eligible_applicants, "stated")
    assert not work.eligibility_inferred


def test_regions_kept_by_the_settings_and_the_others_counted(tmp_path: Path) -> None:
    export = _export(
        tmp_path,
        **{
            "Foerderprogramm/Bund/BMAS/einstiegsgeld.xml": _with_region(
                fdb_document("Foerderprogramm/Bund/BMAS/einstiegsgeld.xml"), "bayern"
            ),
            "Foerderprogramm/Land/NI/einstiegsgeld-ni.xml": _with_region(
                fdb_document("Foerderprogramm/Bund/BMAS/einstiegsgeld.xml"), "de_ni"
            ),
            "Foerderprogramm/Land/XX/einstiegsgeld-xx.xml": _with_region(
                fdb_document("Foerderprogramm/Bund/BMAS/einstiegsgeld.xml"), "atlantis"
            ),
        },
    )
    spider = _spider()
    items = _items(spider, export)
    assert sorted(items) == sorted([EINGLIEDERUNG, FILM, "Land/NI/einstiegsgeld-ni"])
    assert items["Land/NI/einstiegsgeld-ni"].regions == ["DE-NI"]
    assert items["Land/NI/einstiegsgeld-ni"].funder_type == "state"
    stats = spider.crawler.stats.get_stats()
    assert stats["foerderdesk/dropped/outside_regions"] == 1
    assert stats["foerderdesk/dropped/unknown_region"] == 1
    assert (stats["foerderdesk/export/programmes"], stats["foerderdesk/export/kept"]) == (5, 3)
    assert spider.report() == (
        "export: 5 programmes, 3 kept (regions DE-NI, DE); not kept: "
        "1 outside the regions kept, 1 a Fördergebiet code we do not know (atlantis)"
    )
    bavaria = _items(_spider(regions=["DE-BY"]), export)
    assert sorted(bavaria) == [EINSTIEGSGELD]  # only Bavaria's; bundesweit is not DE-BY


def test_links_to_other_documents_become_real_addresses(tmp_path: Path) -> None:
    records = _records(_spider(), _export(tmp_path))
    film = records[FILM].description
    assert '<a href="https://www.recht.bund.de/eli/bund/bgbl-1/2024/451"' in film
    einstieg = records[EINSTIEGSGELD].description
    assert 'href="https://www.existenzgruender.de"' in einstieg  # "www.existenzgruendungsportal.de"
    for record in records.values():
        assert "target:" not in record.description + record.conditions
        assert "xlink" not in record.description + record.conditions


def test_a_document_with_a_byte_xml_forbids_is_read_and_counted(tmp_path: Path) -> None:
    raw = fdb_document(CONTROL_BYTE_DOC + ".xml")
    assert b"Bei\x02hilfen" in raw  # the real document, as the export ships it
    document = parse_document(CONTROL_BYTE_DOC, raw)
    assert document.repaired
    assert "De-minimis-Beihilfen" in document.rich_text("gsb:title")
    archive = open_export(_export(tmp_path))
    linked = archive.linked(FDB_DOCS + CONTROL_BYTE_DOC)
    assert linked is not None and linked.url.startswith("https://")
    assert archive.repaired == [FDB_DOCS + CONTROL_BYTE_DOC]
    archive.close()
    # The same in a programme: read, counted, and its text whole.
    name = "Foerderprogramm/Bund/BMAS/einstiegsgeld.xml"
    broken = fdb_document(name).replace(b"Einstiegsgeld&lt;/p&gt;", b"Einstiegs\x02geld&lt;/p&gt;")
    spider = _spider()
    items = _items(spider, _export(tmp_path, **{name: broken}))
    assert items[EINSTIEGSGELD].title == "Einstiegsgeld"
    assert spider.crawler.stats.get_value("foerderdesk/export/repaired") == 1
    assert "1 document(s) read without bytes XML forbids" in spider.report()


def test_a_missing_linked_document_is_counted_and_the_contact_names_the_funder(
    tmp_path: Path,
) -> None:
    export = _export(
        tmp_path,
        **{"Foerdergeber/B/bkm.xml": None, "ExternerLink/E/existenzgruendungsportal.xml": None},
    )
    spider = _spider()
    records = {k: normalize_item(v) for k, v in _items(spider, export).items()}
    assert records[FILM].funder == "FFA Filmförderungsanstalt"  # its contact point
    assert '<a rel="noopener noreferrer nofollow">www.existenzgruendungsportal.de</a>' in (
        records[EINSTIEGSGELD].description
    )  # the text stays, the target is gone
    assert "www.existenzgruendungsportal.de" in records[EINSTIEGSGELD].description_text
    assert spider.crawler.stats.get_value("foerderdesk/export/links_missing") == 2
    assert spider.report().endswith("; 2 linked document(s) missing")


def test_a_body_that_is_no_zip_closes_the_spider_as_blocked(tmp_path: Path) -> None:
    page = tmp_path / "captcha.html"
    page.write_bytes(b"<!DOCTYPE html><html><title>Radware Captcha Page</title></html>")
    with pytest.raises(CloseSpider) as closed:
        list(_spider().read_export(page))
    assert closed.value.reason.startswith("blocked: the export is not a zip")
    assert "Radware Captcha Page" in closed.value.reason


def test_a_truncated_zip_closes_the_spider_and_reads_nothing(tmp_path: Path) -> None:
    export = _export(tmp_path)
    export.write_bytes(export.read_bytes()[: export.stat().st_size // 2])
    spider = _spider()
    with pytest.raises(CloseSpider) as closed:
        list(spider.read_export(export))
    assert closed.value.reason.startswith("truncated: ")
    assert not spider.read_whole


def test_an_unreadable_programme_is_an_error_the_others_are_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    export = _export(
        tmp_path, **{"Foerderprogramm/Bund/BA/eingliederungszuschuss-bund.xml": b"<document"}
    )
    spider = _spider()
    with caplog.at_level(logging.ERROR):
        items = _items(spider, export)
    assert sorted(items) == sorted([EINSTIEGSGELD, FILM])
    assert any("programme not readable" in r.message for r in caplog.records)
    assert spider.report().endswith("not kept: 1 unreadable")


def test_the_request_is_conditional_only_while_the_store_holds_the_last_read(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    kept = Validators(etag='"abc"', last_modified="Mon, 07 Dec 2026 10:00:00 GMT",
                      settings_key=settings_key(dict(ENTRY.settings)))  # fmt: skip
    (state / "foerderdatenbank_export.json").write_text(
        '{"etag": "\\"abc\\"", "last_modified": "Mon, 07 Dec 2026 10:00:00 GMT", '
        f'"settings_key": "{kept.settings_key}"}}'
    )

    def spider_with(known: dict, **config: object) -> FoerderdatenbankSpider:
        crawler = get_crawler(FoerderdatenbankSpider, {"FOERDERDESK_STATE_DIR": str(state)})
        return FoerderdatenbankSpider.from_crawler(
            crawler, source="foerderdatenbank", config={**ENTRY.settings, **config}, known=known
        )

    known = {EINSTIEGSGELD: KnownDetails("", None, False)}
    assert spider_with(known).previous == kept
    assert kept.request_headers() == {
        "If-None-Match": '"abc"',
        "If-Modified-Since": "Mon, 07 Dec 2026 10:00:00 GMT",
    }
    assert spider_with({}).previous is None  # an empty store: read the export whole
    assert spider_with(known, regions=["DE-BY"]).previous is None  # other settings


def test_the_same_etag_stops_the_download_and_counts_as_unchanged(tmp_path: Path) -> None:
    crawler = get_crawler(FoerderdatenbankSpider)
    spool = ExportSpool(crawler, stop_at_etag='"abc"')
    request = Request("https://www.foerderdatenbank.de/FDB/WS/export", meta={SPOOL: True})
    with pytest.raises(StopDownload):
        spool.headers_received(Headers({"ETag": '"abc"'}), request=request)
    spool.headers_received(Headers({"ETag": '"new"'}), request=request)  # spooled afresh
    spool.bytes_received(b"PK\x03\x04...", request=request)
    assert spool.size == 7 and spool.path is not None and spool.path.exists()
    spool.discard()

    spider = _spider()
    spider.previous = Validators(etag='"abc"')
    stopped = Response(request.url, headers={"ETag": '"abc"'}, flags=["download_stopped"],
                       request=request)  # fmt: skip
    assert list(spider.parse(stopped)) == []
    assert spider.crawler.stats.get_value("foerderdesk/source_unchanged") == 1
    assert spider.report().startswith("export unchanged since the last complete read (same ETag")
