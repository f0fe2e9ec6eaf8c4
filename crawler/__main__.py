"""``python -m crawler SOURCE [--mirror URL] [-s KEY=VALUE]``: crawl one source in this process.

The exit code tells the caller how it went: 0 succeeded, 3 partial, 1 failed, 2 usage, 4 not
started because another process is crawling that source (nothing changed).
"""

from __future__ import annotations

import sys

import click

from crawler.runs import EXIT_BUSY, EXIT_CODES, CrawlBusy, run_source, summary_line
from crawler.sources import SourcesFileError, find_source, sources_path
from storage.config import ConfigError, load_settings


def _parse_setting(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep:
        raise click.BadParameter(f"{text!r}: expected KEY=VALUE")
    parsed: object = value
    for cast in (int, float):
        try:
            parsed = cast(value)
            break
        except ValueError:
            continue
    return key.strip(), parsed


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("source")
@click.option("--mirror", default="", help="Send every request to this mirror (README: Mirrors).")
@click.option(
    "-s", "--set", "scrapy_overrides", multiple=True, help="Scrapy setting KEY=VALUE (tests)."
)
def main(source: str, mirror: str, scrapy_overrides: tuple[str, ...]) -> None:
    """Crawl SOURCE (a slug from the sources file) once and record the run."""
    try:
        settings = load_settings()
        entry = find_source(source, sources_path(settings))
    except (ConfigError, SourcesFileError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    overrides = dict(_parse_setting(s) for s in scrapy_overrides)
    try:
        run = run_source(settings, entry, mirror=mirror, overrides=overrides)
    except CrawlBusy as exc:
        click.echo(f"not crawled: {exc}", err=True)
        sys.exit(EXIT_BUSY)
    click.echo(summary_line(run))
    sys.exit(EXIT_CODES[run.outcome])


if __name__ == "__main__":
    main()
