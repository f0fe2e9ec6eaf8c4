"""``foerderdesk bench-digests``: compose and send digests for many subscriptions to a local
SMTP server, and say how fast and how big that was.

The data is synthetic but shaped like the real thing: call titles and summaries recycled
from the real topic texts shipped with the matcher, profiles with ranked matches and stored
explanations, saved searches (with words and filter-only), followed calls with changes and
near deadlines. The SMTP server (aiosmtpd, from the test extras) runs in a process of its
own on loopback and only counts, so it takes no CPU from the process being measured.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import resource
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine, create_engine, insert, select, text
from sqlalchemy.engine import make_url

from storage.call_filters import CallFilter
from storage.config import load_settings
from storage.db import make_engine, make_session_factory
from storage.models import (
    APPLICANT_TYPES,
    Base,
    CallChange,
    CallDeadline,
    FundingCall,
    Match,
    MatchRun,
    Notification,
    Profile,
    Review,
    Source,
    Subscription,
    utcnow,
)

SEARCHES = (
    "Klimaschutz",
    "youth exchange",
    "Kultur",
    "digital",
    "health research",
    "Stadtentwicklung",
    "mobility",
    "Integration",
    "energy efficiency",
    "culture heritage",
)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def serve_sink(port: int, count: Any, ready: Any) -> None:
    """An SMTP server on loopback that accepts everything and counts it (its own process)."""
    from aiosmtpd.controller import Controller

    class Counter:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with count.get_lock():
                count.value += 1
            return "250 OK"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


def populate(
    engine: Engine, n_subscriptions: int, n_calls: int, n_profiles: int, seed: int
) -> None:
    """Store calls, profiles with matches, and ``n_subscriptions`` confirmed subscriptions:
    70 % to a profile, 25 % to a saved search, 5 % following a call."""
    from benchmarks.match import load_topics

    rng = random.Random(seed)
    topics = load_topics()
    now = utcnow()
    confirmed = now - timedelta(days=30)
    with make_session_factory(engine)() as session:
        session.add(Source(slug="bench", name="bench", spider="bench"))
        session.flush()
        calls = []
        for i in range(n_calls):
            topic = topics[i % len(topics)]
            calls.append(
                {
                    "source": "bench",
                    "source_id": f"B-{i}",
                    "url": f"https://example.org/{i}",
                    "title": topic["title"],
                    "summary": topic["text"][:400],
                    "description_text": topic["text"],
                    "language": "en",
                    "funder": "European Commission",
                    "programme": "Horizon Europe",
                    "eligible_applicants": sorted(rng.sample(APPLICANT_TYPES, rng.randint(0, 3))),
                    "next_deadline_at": now + timedelta(days=rng.randint(5, 300)),
                    "first_seen_at": now,
                    "last_seen_at": now,
                    "last_changed_at": now,
                }
            )
        session.execute(insert(FundingCall), calls)
        call_ids = list(session.scalars(select(FundingCall.id).order_by(FundingCall.id)))
        dues = {
            c: d for c, d in session.execute(select(FundingCall.id, FundingCall.next_deadline_at))
        }
        session.execute(
            insert(CallDeadline),
            [
                {"call_id": c, "due_at": dues[c], "stage": "1", "timezone": "Europe/Brussels"}
                for c in call_ids
            ],
        )
        session.execute(
            insert(Profile),
            [
                {
                    "slug": f"p{j}",
                    "kind": "project",
                    "name": f"Projekt {j}",
                    "description": "x",
                    "applicant_type": "municipality",
                }
                for j in range(n_profiles)
            ],
        )
        profile_ids = list(session.scalars(select(Profile.id).order_by(Profile.id)))
        run = MatchRun(trigger="bench", outcome="succeeded")
        session.add(run)
        session.flush()
        matches, reviews = [], []
        for pid in profile_ids:
            for rank, cid in enumerate(rng.sample(call_ids, min(60, len(call_ids))), start=1):
                words = topics[(cid - call_ids[0]) % len(topics)]["title"].split()[:3]
                matches.append(
                    {
                        "match_run_id": run.id,
                        "profile_id": pid,
                        "call_id": cid,
                        "score": 1 / rank,
                        "rank": rank,
                        "created_at": now,
                        "first_matched_at": now,
                        "explanation": {
                            "version": 2,
                            "terms": [[w, 0.1, None, None] for w in words],
                            "applicant_type": "municipality",
                            "eligibility": "eligible",
                            "regions": ["EU"],
                            "budget": "budget_fits",
                            "status": "open",
                            "deadline": dues[cid].isoformat(),
                            "deadline_timezone": "Europe/Brussels",
                        },
                    }
                )
                if rank <= 2:
                    reviews.append({"profile_id": pid, "call_id": cid, "status": "shortlisted"})
        session.execute(insert(Match), matches)
        session.execute(insert(Review), reviews)
        subs, changes = [], []
        for k in range(n_subscriptions):
            row: dict[str, Any] = {
                "email": f"person{k}@example.org",
                "frequency": rng.choice(("daily", "weekly")),
                "language": rng.choice(("de", "en")),
                "confirmed_at": confirmed,
                "created_at": confirmed,
                "profile_id": None,
                "call_id": None,
                "query": {},
            }
            share = k % 20
            if share < 14:
                row.update(kind="profile", profile_id=rng.choice(profile_ids))
            elif share < 19:
                words = rng.choice(SEARCHES) if share < 18 else ""  # the rest: filters only
                flt = CallFilter(text=words, applicant_type=rng.choice(("", "ngo")))
                row.update(kind="search", query=flt.to_dict())
            else:
                cid = rng.choice(call_ids)
                row.update(kind="call", call_id=cid)
                changes.append(
                    {
                        "call_id": cid,
                        "field": "grant_max_eur",
                        "old_value": "50000",
                        "new_value": "60000",
                        "changed_at": now - timedelta(hours=1),
                    }
                )
            subs.append(row)
        session.execute(insert(Subscription), subs)
        session.execute(insert(CallChange), changes)
        session.commit()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _scratch_database(postgres: str, folder: Path) -> tuple[str, Any]:
    """A database for one bench: a SQLite file in ``folder``, or a fresh schema on the
    PostgreSQL server at ``postgres`` (dropped by the returned clean-up)."""
    if not postgres:
        return f"sqlite:///{folder / 'bench.sqlite3'}", lambda: None
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(postgres).update_query_dict({"options": f"-csearch_path={schema}"})

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return url.render_as_string(hide_password=False), drop


def measure(
    n_subscriptions: int,
    *,
    n_calls: int = 400,
    n_profiles: int = 50,
    postgres: str = "",
    workers: int = 0,
    seed: int = 42,
) -> dict[str, Any]:
    """Compose and send everything due for ``n_subscriptions`` subscriptions; the figures."""
    from scheduler.digests import compose_due
    from scheduler.mailer import WORKERS, send_outbox

    context = multiprocessing.get_context("spawn")
    count, ready = context.Value("i", 0), context.Event()
    port = _free_port()
    server = context.Process(target=serve_sink, args=(port, count, ready), daemon=True)
    server.start()
    with tempfile.TemporaryDirectory(prefix="foerderdesk-bench-") as folder:
        url, drop = _scratch_database(postgres, Path(folder))
        engine = make_engine(url)
        try:
            if not ready.wait(30):
                raise click.ClickException("the SMTP server did not start")
            Base.metadata.create_all(engine)
            populate(engine, n_subscriptions, n_calls, n_profiles, seed)
            settings = load_settings(
                environ={},
                instance_path=Path(folder) / "instance",
                database_url=url,
                secret_key="bench-not-a-secret",  # noqa: S106 - signs the bench's own links
                base_url="https://foerderdesk.example",
                smtp_host="127.0.0.1",
                smtp_port=port,
                mail_from="foerderdesk@example.org",
            )
            factory = make_session_factory(engine)
            rss_before = _peak_rss_mb()
            started, cpu = time.perf_counter(), time.process_time()
            composed = compose_due(factory, settings)
            compose_seconds = time.perf_counter() - started
            compose_cpu = time.process_time() - cpu
            started, cpu = time.perf_counter(), time.process_time()
            report = send_outbox(factory, settings, workers=workers or WORKERS)
            send_seconds = time.perf_counter() - started
            send_cpu = time.process_time() - cpu
            with factory() as session:
                stored = session.scalar(select(Notification.id).order_by(Notification.id.desc()))
        finally:
            engine.dispose()
            drop()
            server.terminate()
            server.join(10)
    total = compose_seconds + send_seconds
    return {
        "subscriptions": n_subscriptions,
        "database": "postgresql" if postgres else "sqlite",
        "messages": composed.total,
        "digests": composed.digests,
        "change_alerts": composed.alerts,
        "reminders": composed.reminders,
        "sent": report.sent,
        "received_by_server": count.value,
        "workers": workers or WORKERS,
        "compose_seconds": round(compose_seconds, 2),
        "send_seconds": round(send_seconds, 2),
        # CPU time of this process: on a shared machine, wall time also counts the others.
        "compose_cpu_seconds": round(compose_cpu, 2),
        "send_cpu_seconds": round(send_cpu, 2),
        "load_average": round(os.getloadavg()[0], 1),
        "messages_per_second": round(report.sent / total, 1) if total else 0.0,
        "compose_per_second": round(composed.total / compose_seconds, 1),
        "send_per_second": round(report.sent / send_seconds, 1) if send_seconds else 0.0,
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "rss_before_compose_mb": round(rss_before, 1),
        "outbox_rows": stored or 0,
    }


@click.command("bench-digests")
@click.option(
    "--subscriptions",
    "n_subscriptions",
    type=click.IntRange(min=1),
    default=5000,
    show_default=True,
)
@click.option("--calls", "n_calls", type=click.IntRange(min=10), default=400, show_default=True)
@click.option("--profiles", "n_profiles", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--postgres", default="", help="Run on this PostgreSQL server (a scratch schema).")
@click.option("--workers", type=click.IntRange(1, 16), default=None, help="Senders (default 4).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
def bench_digests(
    n_subscriptions: int,
    n_calls: int,
    n_profiles: int,
    postgres: str,
    workers: int | None,
    as_json: bool,
) -> None:
    """Compose and send digests for N subscriptions to a local SMTP server: messages per
    second and peak memory (target: at least 100 messages per second)."""
    try:
        import aiosmtpd  # noqa: F401
    except ImportError:
        raise click.ClickException("the bench needs aiosmtpd: pip install -e '.[test]'") from None
    figures = measure(
        n_subscriptions,
        n_calls=n_calls,
        n_profiles=n_profiles,
        postgres=postgres,
        workers=workers or 0,
    )
    if as_json:
        click.echo(json.dumps(figures))
        return
    for key, value in figures.items():
        click.echo(f"{key:<24} {value}")
