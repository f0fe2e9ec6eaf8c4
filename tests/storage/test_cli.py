"""The `foerderdesk` command: every listed command works, db upgrade and profile import."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from storage.cli import main
from storage.db import make_engine
from storage.migrate import current_revision, heads
from storage.models import MatchRun, Profile
from tests.storage.test_profiles import EXAMPLES


def invoke(args: list[str], database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    return runner.invoke(
        main,
        ["--instance", str(tmp_path / "instance"), "--database-url", database_url, *args],
        catch_exceptions=False,
    )


def test_every_listed_command_answers_help() -> None:
    runner = CliRunner()
    ctx = main.make_context("foerderdesk", ["--help"], resilient_parsing=True)
    names = main.list_commands(ctx)
    assert {"db", "profiles", "serve"} <= set(names)
    for name in names:
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)


def test_db_upgrade_then_profiles_import(database_url: str, tmp_path: Path) -> None:
    result = invoke(["db", "upgrade"], database_url, tmp_path)
    assert result.exit_code == 0, result.output
    engine = make_engine(database_url)
    assert current_revision(engine) == heads()[0]

    result = invoke(["profiles", "import", str(EXAMPLES)], database_url, tmp_path)
    assert result.exit_code == 0, result.output
    assert "profile(s) created" in result.output
    with engine.connect() as conn:
        n_profiles = conn.scalar(select(func.count(Profile.id)))
        assert n_profiles >= 20
        # Imported profiles are re-matched at once (an empty store gives an empty run).
        run = conn.execute(select(MatchRun.trigger, MatchRun.outcome, MatchRun.profiles_count))
        assert run.all() == [("profile_edit", "succeeded", n_profiles)]
    engine.dispose()


def test_profiles_import_with_errors_exits_non_zero_and_lists_them(
    database_url: str, tmp_path: Path
) -> None:
    invoke(["db", "upgrade"], database_url, tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("- slug: Bad Slug\n  kind: project\n", encoding="utf-8")
    result = invoke(["profiles", "import", str(bad)], database_url, tmp_path)
    assert result.exit_code == 1
    assert "nothing imported" in result.output
    assert "row 1 (Bad Slug), field 'slug'" in result.output


@pytest.mark.parametrize("variable", ["FOERDERDESK_SMTP_PORT"])
def test_bad_configuration_is_a_clear_error(variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(variable, "not-a-port")
    result = CliRunner().invoke(main, ["db", "current"])
    assert result.exit_code != 0
    assert f"{variable}='not-a-port'" in result.output
