"""Profile import: a whole file or nothing, and every error names its row and field."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Profile
from storage.profiles import ProfileFileError, import_profiles, validate_file
from tests.conftest import TEST_DATA

EXAMPLES = Path(__file__).resolve().parents[2] / "storage" / "examples" / "hannover_profiles.yaml"
GOOD = (
    "- slug: klima\n  kind: project\n  name: Klima\n  applicant_type: municipality\n"
    "  description: Klimaschutz-Austausch mit der Partnerstadt Bristol über Wärmeplanung.\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_hannover_profiles_import_with_projects_and_partners(session: Session) -> None:
    result = import_profiles(session, EXAMPLES)
    session.commit()
    kinds = dict(session.execute(select(Profile.kind, func.count()).group_by(Profile.kind)).all())
    assert kinds["project"] >= 12
    assert kinds["partner"] >= 8
    assert len(result.created) == kinds["project"] + kinds["partner"]
    applicant_types = set(session.scalars(select(Profile.applicant_type)))
    assert {"municipality", "ngo"} <= applicant_types


def test_csv_import_maps_aliases_lists_and_dates(session: Session) -> None:
    import_profiles(session, TEST_DATA / "profiles" / "good.csv")
    session.commit()
    jugend = session.scalar(select(Profile).where(Profile.slug == "jugend-rouen"))
    assert jugend is not None
    assert jugend.applicant_type == "municipality"  # "Kommune" in the file
    assert jugend.themes == ["Jugendaustausch", "Klimaschutz"]
    assert jugend.partner_countries == ["FR"]
    assert jugend.start_date == date(2027, 1, 1)
    assert jugend.lead_time_days == 30
    verein = session.scalar(select(Profile).where(Profile.slug == "verein-bruecke"))
    assert verein is not None
    assert verein.region == "DE-NI"
    assert verein.lead_time_days == 28
    assert verein.budget_max_eur is None


def test_reimport_updates_by_slug_instead_of_duplicating(session: Session, tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", GOOD)
    import_profiles(session, path)
    session.commit()
    path.write_text(GOOD.replace("name: Klima", "name: Klima neu"), encoding="utf-8")
    result = import_profiles(session, path)
    session.commit()
    assert result.updated == ["klima"]
    assert session.scalar(select(func.count(Profile.id))) == 1
    assert session.scalar(select(Profile.name)) == "Klima neu"


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ("  kind: programme\n", "kind", "is not one of project, partner"),
        ("  applicant_type: alien\n", "applicant_type", "is not one of municipality"),
        ("  region: Niedersachsen\n", "region", "is not a region code"),
        ("  budget_min_eur: viel\n", "budget_min_eur", "is not a whole number"),
        ("  budget_min_eur: 900\n  budget_max_eur: 100\n", "budget_max_eur", "smaller"),
        ("  start_date: 31.12.2027\n", "start_date", "is not a date like"),
        ("  contact_email: nobody\n", "contact_email", "is not an email address"),
        ("  themes: {a: 1}\n", "themes", "must be a list"),
        ("  colour: blue\n", "colour", "unknown field"),
        ("  language: fr\n", "language", "is not one of de, en"),
    ],
)
def test_bad_row_names_row_and_field_and_imports_nothing(
    session: Session, tmp_path: Path, row: str, field: str, message: str
) -> None:
    # A good first row, then a second row with one bad field (a repeated YAML key wins).
    text = GOOD.replace("slug: klima", "slug: first") + GOOD + row
    path = write(tmp_path, "bad.yaml", text)
    with pytest.raises(ProfileFileError) as info:
        import_profiles(session, path)
    errors = info.value.errors
    assert any(
        e.startswith("row 2 (klima)") and f"field '{field}'" in e and message in e for e in errors
    ), errors
    assert session.scalar(select(func.count(Profile.id))) == 0


def test_missing_required_fields_and_duplicate_slugs_are_all_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", GOOD + GOOD + "- slug: x-y\n  kind: partner\n")
    with pytest.raises(ProfileFileError) as info:
        validate_file(path)
    text = "\n".join(info.value.errors)
    assert "row 2 (klima), field 'slug': duplicate of row 1" in text
    for field in ("name", "description", "applicant_type"):
        assert f"row 3 (x-y), field '{field}': is required" in text


def test_csv_rows_are_numbered_as_lines_of_the_file(tmp_path: Path) -> None:
    text = (TEST_DATA / "profiles" / "good.csv").read_text(encoding="utf-8")
    path = write(tmp_path, "bad.csv", text.replace(",ngo,", ",Raumschiff,"))
    with pytest.raises(ProfileFileError) as info:
        validate_file(path)
    assert info.value.errors[0].startswith("row 3 (verein-bruecke), field 'applicant_type'")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("p.yaml", "- slug: [unclosed\n", "not valid YAML"),
        ("p.yaml", "slug: alone\n", "expected a list of profiles"),
        ("p.yaml", "[]\n", "holds no profiles"),
        ("p.json", "[]", "unknown file type"),
    ],
)
def test_unreadable_files_get_a_clear_error(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    with pytest.raises(ProfileFileError, match=message):
        validate_file(write(tmp_path, name, text))
