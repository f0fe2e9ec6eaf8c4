"""Profile import hardening: every bad value names its row and field in the same words on
SQLite and PostgreSQL, and a file with any error imports nothing (not even its good rows)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import String, func, select
from sqlalchemy.orm import Session

from storage.cli import main
from storage.models import Profile
from storage.profiles import (
    KNOWN_SHOWN,
    STRING_LIMITS,
    ProfileFileError,
    import_profiles,
    import_upload,
)

DESCRIPTION = "Jugendliche aus Hannover und Rouen begegnen sich zu Klimaschutz und Demokratie."
HEADER = "slug,kind,name,description,applicant_type,start_date,lead_time_days\n"


def csv_row(slug: str, **values: str) -> str:
    """One CSV line of the seven HEADER columns, good unless ``values`` say otherwise."""
    cells = {
        "slug": slug,
        "kind": "project",
        "name": f"Projekt {slug}",
        "description": DESCRIPTION,
        "applicant_type": "Kommune",
        "start_date": "2027-01-01",
        "lead_time_days": "30",
    }
    cells.update(values)
    return ",".join(f'"{v}"' if "," in v else v for v in cells.values()) + "\n"


def yaml_row(slug: str, extra: str = "") -> str:
    return (
        f"- slug: {slug}\n  kind: project\n  name: Projekt {slug}\n  applicant_type: Kommune\n"
        f"  description: {DESCRIPTION}\n{extra}"
    )


@pytest.fixture
def existing(session: Session, tmp_path: Path) -> Session:
    """A session holding one committed profile, so "nothing imported" also means "nothing
    changed": a failed import must neither add rows nor update this one."""
    path = tmp_path / "first.csv"
    path.write_text(HEADER + csv_row("bestand"), encoding="utf-8")
    import_profiles(session, path)
    session.commit()
    return session


def count(session: Session) -> int:
    return session.scalar(select(func.count(Profile.id))) or 0


def refused(session: Session, path: Path) -> list[str]:
    """The errors of importing ``path``, after checking that nothing was imported."""
    before = count(session)
    with pytest.raises(ProfileFileError) as info:
        import_profiles(session, path)
    session.rollback()
    assert count(session) == before
    assert session.scalar(select(Profile.name).where(Profile.slug == "bestand")) == (
        "Projekt bestand"
    )
    return info.value.errors


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_a_date_that_does_not_exist_names_row_and_field(existing: Session, tmp_path: Path) -> None:
    text = HEADER + csv_row("bestand", name="Neu") + csv_row("zwei", start_date="2027-02-30")
    errors = refused(existing, write(tmp_path, "p.csv", text))
    assert errors == [
        "row 3 (zwei), field 'start_date': 2027-02-30 is not a date (YYYY-MM-DD): "
        "February 2027 has 28 days"
    ]


def test_a_date_that_does_not_exist_in_yaml_is_not_a_parser_crash(
    existing: Session, tmp_path: Path
) -> None:
    text = yaml_row("eins", "  start_date: 2027-01-01\n") + yaml_row(
        "zwei", "  start_date: 2027-13-01\n  end_date: 2028-02-30\n"
    )
    errors = refused(existing, write(tmp_path, "p.yaml", text))
    assert errors == [
        "row 2 (zwei), field 'start_date': 2027-13-01 is not a date (YYYY-MM-DD): "
        "there is no month 13",
        "row 2 (zwei), field 'end_date': 2028-02-30 is not a date (YYYY-MM-DD): "
        "February 2028 has 29 days",
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("budget_max_eur", "1e23", "1e23 is more than 1000000000000 euros"),
        ("budget_max_eur", "9" * 25, f"{'9' * 25} is more than 1000000000000 euros"),
        ("budget_min_eur", "1.2345e3", "'1.2345e3' is not a whole number"),
        ("budget_min_eur", "-5", "-5 must not be negative"),
        ("lead_time_days", "99999999999", "99999999999 is more than 3650 days"),
        ("lead_time_days", "3651", "3651 is more than 3650 days"),
    ],
)
def test_numbers_out_of_range_name_the_bound(
    existing: Session, tmp_path: Path, field: str, value: str, message: str
) -> None:
    # 99999999999 and 10^25 do not fit PostgreSQL's integer/bigint, nor SQLite's INTEGER:
    # they must be refused before the database sees them.
    text = yaml_row("eins") + yaml_row("zwei", f"  {field}: {value}\n")
    assert refused(existing, write(tmp_path, "p.yaml", text)) == [
        f"row 2 (zwei), field '{field}': {message}"
    ]


def test_numbers_at_the_bounds_and_in_exponent_form_import(
    session: Session, tmp_path: Path
) -> None:
    extra = "  budget_min_eur: 1e6\n  budget_max_eur: 1000000000000\n  lead_time_days: 3650\n"
    import_profiles(session, write(tmp_path, "p.yaml", yaml_row("eins", extra)))
    session.commit()
    profile = session.scalars(select(Profile)).one()
    assert (profile.budget_min_eur, profile.budget_max_eur) == (10**6, 10**12)
    assert profile.lead_time_days == 3650


def test_a_name_longer_than_its_column_is_refused(existing: Session, tmp_path: Path) -> None:
    text = HEADER + csv_row("eins", name="N" * 400)
    assert refused(existing, write(tmp_path, "p.csv", text)) == [
        "row 2 (eins), field 'name': is 400 characters long, more than the 300 it may hold"
    ]


def test_every_string_column_has_its_length_from_the_model() -> None:
    columns = Profile.__table__.columns
    expected = {c.name: c.type.length for c in columns if type(c.type) is String}
    assert expected == STRING_LIMITS
    assert STRING_LIMITS["name"] == 300 and STRING_LIMITS["contact_email"] == 320


@pytest.mark.parametrize("field", ["department", "legal_form", "contact_email"])
def test_free_text_fields_are_held_to_their_column(
    existing: Session, tmp_path: Path, field: str
) -> None:
    limit = STRING_LIMITS[field]
    fits = "a" * (limit - 12) + "@example.org" if field == "contact_email" else "x" * limit
    too_long = "b" + fits
    text = yaml_row("eins", f"  {field}: {fits}\n") + yaml_row("zwei", f"  {field}: {too_long}\n")
    assert refused(existing, write(tmp_path, "p.yaml", text)) == [
        f"row 2 (zwei), field '{field}': is {limit + 1} characters long, "
        f"more than the {limit} it may hold"
    ]


def test_a_name_of_exactly_the_column_length_imports(session: Session, tmp_path: Path) -> None:
    import_profiles(session, write(tmp_path, "p.csv", HEADER + csv_row("eins", name="N" * 300)))
    session.commit()
    assert session.scalar(select(func.length(Profile.name))) == 300


def test_control_characters_are_refused_by_field(existing: Session, tmp_path: Path) -> None:
    text = (
        HEADER
        + csv_row("eins", name="Null\x00Byte")
        + csv_row("zwei", description=DESCRIPTION + "\x1b[31m")
        + csv_row("drei", name="Tab\tim Namen")
    )
    assert refused(existing, write(tmp_path, "p.csv", text)) == [
        "row 2 (eins), field 'name': contains the control character U+0000; remove it",
        "row 3 (zwei), field 'description': contains the control character U+001B; remove it",
        "row 4 (drei), field 'name': contains the control character U+0009; remove it",
    ]


def test_tabs_and_line_breaks_are_allowed_in_a_description(session: Session) -> None:
    text = HEADER + csv_row("eins", description=f'"{DESCRIPTION}\r\n\tZweite Zeile."')
    result = import_upload(session, "p.csv", text.encode())
    session.commit()
    assert result.created == ["eins"]
    assert session.scalar(select(Profile.description)).endswith("\r\n\tZweite Zeile.")


def test_a_latin1_file_is_one_clear_line(existing: Session, tmp_path: Path) -> None:
    text = HEADER + csv_row("eins") + csv_row("zwei", name="Brücke e. V.")
    path = write(tmp_path, "p.csv", text, encoding="latin-1")
    before = count(existing)
    with pytest.raises(ProfileFileError) as info:
        import_profiles(existing, path)
    assert str(info.value) == (
        f"{path}: the file is not UTF-8 text (it looks like Latin-1 / Windows-1252, "
        "from line 3); save it as UTF-8 (nothing imported)"
    )
    assert count(existing) == before


def test_a_utf8_file_with_a_byte_order_mark_imports(session: Session, tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", HEADER + csv_row("eins", name="Brücke"), "utf-8-sig")
    assert import_profiles(session, path).created == ["eins"]


def test_unknown_columns_and_extra_cells_are_errors(existing: Session, tmp_path: Path) -> None:
    text = (
        HEADER.replace("lead_time_days", "lead_time_days,colour")
        + csv_row("eins").replace("\n", ",blau\n")
        + csv_row("zwei").replace("\n", ",rot\n")
        + csv_row("drei").replace("\n", ",gruen,und,noch,mehr\n")
    )
    assert refused(existing, write(tmp_path, "p.csv", text)) == [
        f"unknown column 'colour' (known: {KNOWN_SHOWN})",
        "row 4 (drei) has 11 cells, the header 8",
    ]


def test_extra_cells_beyond_the_header_are_an_error(existing: Session, tmp_path: Path) -> None:
    text = (
        HEADER
        + csv_row("eins")
        + csv_row("zwei").replace("\n", ",,\n")  # empty extra cells lose nothing
        + csv_row("drei").replace("\n", ",x,y\n")
    )
    assert refused(existing, write(tmp_path, "p.csv", text)) == [
        "row 4 (drei) has 9 cells, the header 7"
    ]


def test_unknown_yaml_keys_name_the_known_ones(existing: Session, tmp_path: Path) -> None:
    text = yaml_row("eins", "  colour: blue\n  1: one\n")
    assert refused(existing, write(tmp_path, "p.yaml", text)) == [
        f"row 1 (eins), field '1': unknown field (known: {KNOWN_SHOWN})",
        f"row 1 (eins), field 'colour': unknown field (known: {KNOWN_SHOWN})",
    ]


def test_every_error_of_a_file_is_reported_at_once(existing: Session, tmp_path: Path) -> None:
    text = (
        HEADER.replace("lead_time_days", "lead_time_days,colour")
        + csv_row("eins", start_date="2027-02-30", lead_time_days="99999999999")
        + csv_row("zwei", name="x" * 301 + "\x00")
        + csv_row("drei").replace("\n", ",blau,extra\n")
    )
    assert refused(existing, write(tmp_path, "p.csv", text)) == [
        f"unknown column 'colour' (known: {KNOWN_SHOWN})",
        "row 2 (eins), field 'lead_time_days': 99999999999 is more than 3650 days",
        "row 2 (eins), field 'start_date': 2027-02-30 is not a date (YYYY-MM-DD): "
        "February 2027 has 28 days",
        "row 3 (zwei), field 'name': contains the control character U+0000; remove it",
        "row 4 (drei) has 9 cells, the header 8",
    ]


def test_the_command_prints_the_rows_and_fields(database_url: str, tmp_path: Path) -> None:
    def run(*args: str):  # type: ignore[no-untyped-def]
        base = ["--instance", str(tmp_path / "instance"), "--database-url", database_url]
        return CliRunner().invoke(main, [*base, *args], catch_exceptions=False)

    assert run("db", "upgrade").exit_code == 0
    bad = write(tmp_path, "p.csv", HEADER + csv_row("eins", start_date="2027-02-30"))
    result = run("profiles", "import", str(bad))
    assert result.exit_code == 1
    assert (
        "row 2 (eins), field 'start_date': 2027-02-30 is not a date (YYYY-MM-DD): "
        "February 2027 has 28 days"
    ) in result.output.splitlines()
    latin = write(tmp_path, "l.csv", HEADER + csv_row("eins", name="Brücke"), "latin-1")
    result = run("profiles", "import", str(latin))
    assert result.exit_code == 1
    assert f"{latin}: the file is not UTF-8 text" in result.output.splitlines()[0]
    assert run("profiles", "list").output.strip() == "0 profile(s)"


def test_yaml_dates_import_and_a_lone_surrogate_is_refused(
    existing: Session, tmp_path: Path
) -> None:
    # Dates stay text for the YAML parser now; a good one must still become a date.
    import_profiles(
        existing, write(tmp_path, "p.yaml", yaml_row("eins", "  start_date: 2027-03-31\n"))
    )
    existing.commit()
    eins = select(Profile.start_date).where(Profile.slug == "eins")
    assert existing.scalar(eins).isoformat() == "2027-03-31"
    bad = write(tmp_path, "q.yaml", yaml_row("zwei", '  department: "Amt \\ud800"\n'))
    assert refused(existing, bad) == [
        "row 1 (zwei), field 'department': contains a lone surrogate U+D800; remove it"
    ]
