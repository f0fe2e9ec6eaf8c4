"""``foerderdesk bench-export``: time and peak memory to read an export of N programmes.

The export is built from the real documents of the demo snapshot, repeated under new names.
Each measurement runs in a process of its own, so its peak memory is its own:

- **read**: the zip read programme by programme and every item normalised, as the spider
  and the pipeline do (no database);
- **crawl** (``--crawl``): ``python -m crawler foerderdatenbank`` through a local mirror
  into a fresh SQLite database: the download, the spool, the read and the store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import click

from crawler.foerderdatenbank.build import build_export
from crawler.mirror import BUNDLED_SNAPSHOT

SNAPSHOT_EXPORT = BUNDLED_SNAPSHOT / "static" / "www.foerderdatenbank.de" / "FDB" / "WS" / "export"
# Runs a module as ``python -m`` would and reports the process's peak memory on stderr.
_MEASURED = """
import resource, runpy, sys
sys.argv = sys.argv[1:]
try:
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print("peak_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


def build_bench_export(target: Path, programmes: int) -> int:
    """An export of ``programmes`` programmes at ``target``, from the snapshot's documents."""
    with tempfile.TemporaryDirectory(prefix="foerderdesk-bench-docs-") as docs:
        with zipfile.ZipFile(SNAPSHOT_EXPORT) as archive:
            archive.extractall(docs)
        return build_export(Path(docs), target, programmes=programmes)


def read_export(path: Path) -> dict[str, Any]:
    """Read ``path`` as the spider and the pipeline do; counts and seconds."""
    from scrapy.utils.test import get_crawler

    from crawler.pipelines import normalize_item
    from crawler.sources import find_source
    from crawler.spiders.foerderdatenbank import FoerderdatenbankSpider

    entry = find_source("foerderdatenbank")
    crawler = get_crawler(FoerderdatenbankSpider)
    spider = FoerderdatenbankSpider.from_crawler(
        crawler, source=entry.slug, config=dict(entry.settings)
    )
    started = time.perf_counter()
    kept = sum(
        1
        for item in spider.read_export(path)
        if normalize_item(item, source_defaults=entry.as_dict())
    )
    return {"programmes": spider.counts["programmes"], "kept": kept,
            "seconds": round(time.perf_counter() - started, 2)}  # fmt: skip


def _measure(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak MB, stdout) of ``python -m ARGS`` in a process of its own."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _MEASURED, *args], capture_output=True, text=True, env=env,
        check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    peaks = [line.split()[1] for line in done.stderr.splitlines() if line.startswith("peak_kb ")]
    if done.returncode != 0 or not peaks:
        raise click.ClickException(f"{' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return seconds, int(peaks[-1]) / 1024, done.stdout


def _crawl(export: Path, workdir: Path) -> dict[str, Any]:
    from sqlalchemy import select

    from crawler.mirror import serve_snapshot_in_background
    from storage.db import make_engine, make_session_factory, session_scope
    from storage.models import Base, CrawlRun

    site = workdir / "snapshot" / "static" / "www.foerderdatenbank.de"
    (site / "FDB" / "WS").mkdir(parents=True)
    export.replace(site / "FDB" / "WS" / "export")
    url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    mirror, stop = serve_snapshot_in_background(workdir / "snapshot")
    env = {**os.environ, "FOERDERDESK_DATABASE_URL": url, "FOERDERDESK_LOG_LEVEL": "WARNING",
           "FOERDERDESK_INSTANCE_PATH": str(workdir / "instance")}  # fmt: skip
    env.pop("FOERDERDESK_CRAWL_MIRROR", None)
    try:
        seconds, peak, _ = _measure(["crawler", "foerderdatenbank", "--mirror", mirror], env)
    finally:
        stop()
    with session_scope(make_session_factory(engine)) as session:
        run = session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first()
        stored = run.calls_new if run else 0
    engine.dispose()
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(peak, 1), "stored": stored}


@click.command("bench-export")
@click.option("--programmes", default=2500, show_default=True, help="Programmes in the export.")
@click.option("--crawl", "with_crawl", is_flag=True, help="Also crawl it through a mirror.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
def bench_export(programmes: int, with_crawl: bool, as_json: bool) -> None:
    """Time and peak memory to read a Förderdatenbank export of PROGRAMMES programmes."""
    with tempfile.TemporaryDirectory(prefix="foerderdesk-bench-export-") as tmp:
        workdir = Path(tmp)
        export = workdir / "export.zip"
        written = build_bench_export(export, programmes)
        size_mb = export.stat().st_size / 1024 / 1024
        seconds, peak, out = _measure(["benchmarks.export", str(export)])
        inside = json.loads(out.strip().splitlines()[-1])
        result: dict[str, Any] = {
            "programmes": written, "kept": inside["kept"], "export_mb": round(size_mb, 1),
            "seconds": inside["seconds"], "process_seconds": round(seconds, 1),
            "peak_rss_mb": round(peak, 1),
        }  # fmt: skip
        if with_crawl:
            result["crawl"] = _crawl(export, workdir)
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(
        f"read: {result['programmes']} programmes ({result['export_mb']} MB zipped), "
        f"{result['kept']} kept, {result['seconds']} s reading "
        f"({result['process_seconds']} s with the process), peak {result['peak_rss_mb']} MB"
    )
    if "crawl" in result:
        crawl = result["crawl"]
        click.echo(
            f"crawl: {crawl['stored']} stored, {crawl['seconds']} s, peak {crawl['peak_rss_mb']} MB"
        )


if __name__ == "__main__":
    print(json.dumps(read_export(Path(sys.argv[1]))))
