"""``foerderdesk bench match`` and ``bench search``: the matcher's and the search's benchmarks."""

from __future__ import annotations

import json

import click


def _dictionary_path(ctx: click.Context) -> str | None:
    # The bench group also runs without the root command (tests, python -m); then the model
    # uses the glossary only.
    settings = ctx.find_root().obj
    return getattr(settings, "freedict_path", None) or None


@click.group()
def bench() -> None:
    """Benchmarks: how fast and how big the matcher is."""


@bench.command("match")
@click.option("--calls", "n_calls", type=click.IntRange(min=1), default=5000, show_default=True)
@click.option(
    "--profiles", "n_profiles", type=click.IntRange(min=1), default=200, show_default=True
)
@click.option("--one-call", is_flag=True, help="Also time ranking one new call (≤ 50 ms).")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def bench_match(
    ctx: click.Context, n_calls: int, n_profiles: int, one_call: bool, seed: int, as_json: bool
) -> None:
    """Time a full re-match on a synthetic corpus of real call texts, beside a baseline.

    Each variant runs in a fresh process, so peak RSS is per variant. The timed part is the
    matcher in memory (fit, transform, eligibility, scoring, top N); no database writes.
    """
    from benchmarks.match import bench_match as run_bench

    try:
        report = run_bench(
            n_calls,
            n_profiles,
            one_call=one_call,
            seed=seed,
            dictionary_path=_dictionary_path(ctx),
        )
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report))
        return
    click.echo(
        f"matcher         calls={report['calls']} profiles={report['profiles']} "
        f"seconds={report['seconds']} peak_rss_mb={report['peak_rss_mb']}"
    )
    phases = ", ".join(f"{k} {v} s" for k, v in report.get("phases", {}).items())
    click.echo(
        f"  {phases}; {report.get('matches', 0)} matches "
        "(every call analysed; the dictionary index kept from the first run)"
    )
    first = report.get("first_run")
    if first:
        click.echo(
            f"first run (empty matcher folder, the dictionary index parsed too): "
            f"seconds={first['seconds']} peak_rss_mb={first['peak_rss_mb']}"
        )
    click.echo("baselines:")
    for name, figures in report["baselines"].items():
        click.echo(
            f"  {name:13} calls={figures['calls']} profiles={figures['profiles']} "
            f"seconds={figures['seconds']} peak_rss_mb={figures['peak_rss_mb']}"
        )
    if "one_call" in report:
        oc = report["one_call"]
        click.echo(
            f"one new call against {oc['profiles']} profiles: median {oc['ms_median']} ms, "
            f"max {oc['ms_max']} ms over {oc['repeats']} calls (peak_rss_mb={oc['peak_rss_mb']})"
        )


@bench.command("search")
@click.option("--calls", "n_calls", type=click.IntRange(min=1), default=50000, show_default=True)
@click.option("--postgres", "postgres_url", default=None, help="An empty PostgreSQL database.")
@click.option("--repeats", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def bench_search(
    ctx: click.Context,
    n_calls: int,
    postgres_url: str | None,
    repeats: int,
    seed: int,
    as_json: bool,
) -> None:
    """Time the search page's search (query, filters, first page, filter counts) on a
    synthetic corpus in SQLite, beside PostgreSQL's full-text search on the same calls."""
    from benchmarks.search import bench_search as run_bench

    def progress(message: str) -> None:
        click.echo(message, err=True)

    try:
        report = run_bench(
            n_calls,
            postgres_url=postgres_url,
            seed=seed,
            repeats=repeats,
            dictionary_path=_dictionary_path(ctx),
            progress=progress,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report))
        return
    plain = {**report, **report["without_facets"]}
    rows = [("foerderdesk", report), ("  no counts", plain), *report["baselines"].items()]
    click.echo(f"{'':14} {'calls':>7} {'queries':>7} {'p50 ms':>8} {'p95 ms':>8} {'index MB':>9}")
    for name, figures in rows:
        click.echo(
            f"{name:14} {figures['calls']:>7} {figures['queries']:>7} {figures['p50_ms']:>8} "
            f"{figures['p95_ms']:>8} {figures['index_mb']:>9}"
        )
    click.echo(
        "foerderdesk: SQLite, first page of 25 with the filter counts as the search page asks "
        f"(no counts: as the API asks); index built in {report['build_seconds']} s, "
        f"the process grew by {report['rss_growth_mb']} MB"
    )
    if "postgres" in report["baselines"]:
        pg = report["baselines"]["postgres"]
        click.echo(
            f"postgres: websearch_to_tsquery('{pg['config']}'), ts_rank, LIMIT 25; index MB is "
            f"the GIN index on disk; {pg['empty_pages']} of {pg['queries']} pages empty"
        )
