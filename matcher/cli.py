"""``foerderdesk match``: re-rank the calls for the active profiles and store the matches."""

from __future__ import annotations

import click

from storage.cli import get_settings
from storage.db import make_engine, make_session_factory, session_scope


@click.command()
@click.option("--profile", "slugs", multiple=True, help="Re-match only this profile (slug).")
@click.option("--top-n", type=click.IntRange(min=1), default=50, show_default=True)
@click.option(
    "--min-similarity",
    type=click.FloatRange(0.0, 1.0, max_open=True),
    default=0.05,
    show_default=True,
    help="Text similarity a call needs to be listed at all.",
)
@click.option(
    "--trigger",
    type=click.Choice(["cli", "crawl", "profile_edit", "schedule"]),
    default="cli",
    show_default=True,
    help="Why this run happens; recorded on the match run.",
)
@click.pass_context
def match(
    ctx: click.Context, slugs: tuple[str, ...], top_n: int, min_similarity: float, trigger: str
) -> None:
    """Rank the open and forthcoming calls for the active profiles and store the matches."""
    from sqlalchemy import select

    from matcher.rank import RankSettings
    from matcher.runs import rematch
    from storage.matching import matches_for_profile
    from storage.models import Profile

    settings = get_settings(ctx)
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    try:
        # The run is committed before anything is printed: a reader that goes away early
        # (`| head -1`) breaks the pipe at an echo, and that must not roll back the run.
        with session_scope(factory) as session:
            profile_ids = None
            if slugs:
                found = dict(
                    session.execute(
                        select(Profile.slug, Profile.id).where(Profile.slug.in_(slugs))
                    ).all()
                )
                missing = sorted(set(slugs) - set(found))
                if missing:
                    raise click.ClickException(f"unknown profile(s): {', '.join(missing)}")
                profile_ids = sorted(found.values())
            run = rematch(
                session,
                trigger=trigger,
                profile_ids=profile_ids,
                settings=RankSettings(top_n=top_n, min_similarity=min_similarity),
                dictionary_path=settings.freedict_path,
                index_folder=settings.matcher_path,
            )
        failed = run.outcome != "succeeded"
        click.echo(
            f"match run {run.id}: {run.outcome} — {run.profiles_count} profile(s), "
            f"{run.calls_count} rankable call(s), {run.matches_count} match(es) "
            f"in {run.duration_seconds or 0:.2f} s"
        )
        if failed:
            error = run.parameters.get("error", "unknown error")
            click.echo(f"the previous matches were kept; error: {error}", err=True)
        else:
            with session_scope(factory) as session:
                stmt = select(Profile).where(Profile.active).order_by(Profile.slug)
                if profile_ids is not None:
                    stmt = stmt.where(Profile.id.in_(profile_ids))
                for profile in session.scalars(stmt):
                    best = matches_for_profile(session, profile.id, limit=1)
                    top = f"{best[0].score:.3f} {best[0].call.title[:70]}" if best else "–"
                    click.echo(f"  {profile.slug:40} {top}")
    finally:
        engine.dispose()
    if failed:
        ctx.exit(1)
