"""``foerderdesk scheduler``: run the pipeline on time, or list its jobs."""

from __future__ import annotations

import logging

import click

from storage.cli import get_settings


def _skipped_polls(record: logging.LogRecord) -> bool:
    return "maximum number of running instances reached" not in record.getMessage()


@click.command("scheduler")
@click.option(
    "--list-jobs", is_flag=True, help="Print every job's id, trigger and next run; start nothing."
)
@click.pass_context
def scheduler(ctx: click.Context, list_jobs: bool) -> None:
    """Run every job on time: crawls, re-matches, digests, reminders, housekeeping.

    Only one scheduler is active per database: a second one waits and takes over within a
    minute when the first stops or dies. SIGTERM or Ctrl+C stops it cleanly.
    """
    from scheduler.service import build_scheduler, run_service
    from scheduler.service import list_jobs as job_lines

    settings = get_settings(ctx)
    # APScheduler's own INFO lines repeat what the job runs record ("Adding job tentatively"),
    # and a poll that comes while the last one still runs is skipped by design, not a fault.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("apscheduler.scheduler").addFilter(_skipped_polls)
    if list_jobs:
        from zoneinfo import ZoneInfo

        from storage.db import make_engine

        engine = make_engine(settings)
        try:
            lines = job_lines(build_scheduler(settings, engine=engine))
        finally:
            engine.dispose()
        width = max((len(line.id) for line in lines), default=10)
        zone = ZoneInfo(settings.timezone)
        for line in lines:
            when = "paused"
            if line.next_run is not None:
                when = line.next_run.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
            click.echo(f"{line.id:<{width}}  next {when:<22}  {line.trigger}")
        return
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.exit(run_service(settings, echo=lambda text: click.echo(text, err=True)))
