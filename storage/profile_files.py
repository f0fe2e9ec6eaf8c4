"""Reading a profile file into rows, and the problems a profile import reports.

Everything here happens before a value reaches the database, so a file gets the same words on
SQLite and PostgreSQL; the values of the rows are checked in :mod:`storage.profiles`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import yaml

# What each problem says in English (the command line's words); the web pages translate the
# codes they know and show these texts for the others. ``{value}`` is what the row holds,
# ``{allowed}`` the values that would be accepted (or why the value is not one of them).
PROBLEM_TEXTS = {
    "unknown_field": "unknown field (known: {allowed})",
    "required": "is required",
    "slug_format": "{value!r} must be lower-case letters, digits and hyphens",
    "slug_taken": "{value!r} is already the slug of another profile",
    "not_one_of": "{value!r} is not one of {allowed}",
    "too_short": "is too short to match on (at least 40 characters)",
    "too_long": "is {value} characters long, more than the {allowed} it may hold",
    "bad_character": "contains {value}; remove it",
    "region": "{value!r} is not a region code such as DE-NI, DE or EU",
    "email": "{value!r} is not an email address",
    "not_a_list": "must be a list of words or a ';'-separated text",
    "not_a_number": "{value!r} is not a whole number",
    "negative": "{value} must not be negative",
    "too_large": "{value} is more than {allowed}",
    "budget_order": "is smaller than budget_min_eur",
    "not_a_date": "{value!r} is not a date like 2027-03-31",
    "no_such_date": "{value} is not a date (YYYY-MM-DD): {allowed}",
    "date_order": "is before start_date",
    "duplicate": "duplicate of row {value}",
    # Problems of a CSV row as a whole (a row, no field).
    "extra_cells": "has {value} cells, the header {allowed}",
    "unnamed_cell": "has {value!r} in column {allowed}, which has no name in the header",
    # Problems of the whole file (no row, no field).
    "not_yaml": "not valid YAML: {value}",
    "not_csv": "not valid CSV: {value}",
    "not_a_profile_list": "expected a list of profiles (or a mapping with key 'profiles')",
    "no_header": "the CSV file has no header row",
    "unknown_column": "unknown column {value!r} (known: {allowed})",
    "duplicate_column": "column {value!r} appears more than once in the header",
    "file_type": "unknown file type {value!r}: use .yaml, .yml or .csv",
    "not_utf8": "the file is not UTF-8 text ({value}); save it as UTF-8",
    "empty": "the file holds no profiles",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a profile: in which row (None: the whole file or a form), which
    field ("" for the whole file or row), what (a code of :data:`PROBLEM_TEXTS`) and the value."""

    field: str
    code: str
    value: str = ""
    allowed: str = ""
    row: int | None = None
    slug: str = ""

    @property
    def text(self) -> str:
        """The problem in English, without row and field."""
        return PROBLEM_TEXTS[self.code].format(value=self.value, allowed=self.allowed)

    def describe(self) -> str:
        """The problem as the command line prints it: "row 2 (klima), field 'kind': …"."""
        if self.row is None:
            return f"field '{self.field}': {self.text}" if self.field else self.text
        label = f"row {self.row}" + (f" ({self.slug})" if self.slug else "")
        return (
            f"{label}, field '{self.field}': {self.text}" if self.field else f"{label} {self.text}"
        )


class ProfileFileError(ValueError):
    """A profile file that cannot be imported; ``problems`` lists every problem found and
    ``errors`` says each in English."""

    def __init__(self, path: str, problems: list[Problem]):
        self.path = path
        self.problems = problems
        self.errors = [problem.describe() for problem in problems]
        if len(problems) == 1 and problems[0].row is None and not problems[0].field:
            # A file that cannot be read at all says so in one line, naming the file.
            super().__init__(f"{path}: {self.errors[0]} (nothing imported)")
            return
        super().__init__(
            f"{path}: {len(problems)} error(s), nothing imported:\n" + "\n".join(self.errors)
        )


def _encoding_guess(data: bytes) -> str:
    # Only a guess for the message: Windows-1252 decodes almost any Western European text, and
    # the bytes it leaves undefined are a sign of some other encoding.
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "it looks like UTF-16"
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return "its encoding is unknown"
    return "it looks like Latin-1 / Windows-1252"


def decode(data: bytes, name: str) -> str:
    """The text of a profile file's bytes (UTF-8, with or without a byte order mark); raises
    :class:`ProfileFileError` naming the line and a guess at the encoding for anything else."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        guess = f"{_encoding_guess(data)}, from line {line}"
        raise ProfileFileError(name, [Problem("", "not_utf8", guess)]) from None


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, but dates stay text: a date that does not exist (2027-02-30) is
    then a problem of its row and field rather than an exception of the YAML parser."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)


def _yaml_rows(text: str, name: str) -> list[tuple[int, dict[str, Any]]]:
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader
    except (yaml.YAMLError, ValueError) as exc:
        raise ProfileFileError(name, [Problem("", "not_yaml", str(exc))]) from None
    if isinstance(data, dict) and "profiles" in data:
        data = data["profiles"]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ProfileFileError(name, [Problem("", "not_a_profile_list")])
    # Keys as text, so a key such as 1 or ~ is an unknown field rather than a crash.
    return [(n, {str(k).strip(): v for k, v in r.items()}) for n, r in enumerate(data, start=1)]


def _csv_rows(
    text: str, name: str, known: frozenset[str]
) -> tuple[list[tuple[int, dict[str, Any]]], list[Problem]]:
    # Rows are numbered by the line of the file they start on (the header is line 1), so a
    # quoted cell over several lines or a blank line does not shift the numbers.
    reader = csv.reader(io.StringIO(text))
    records: list[tuple[int, list[str]]] = []
    try:
        start = 1
        for record in reader:
            if record:
                records.append((start, record))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ProfileFileError(name, [Problem("", "not_csv", f"line {start}: {exc}")]) from None
    if not records or not any(cell.strip() for cell in records[0][1]):
        raise ProfileFileError(name, [Problem("", "no_header")])
    header = [cell.strip() for cell in records[0][1]]
    problems: list[Problem] = []
    shown = ", ".join(sorted(known))
    for column in dict.fromkeys(c for c in header if c):
        if header.count(column) > 1:
            problems.append(Problem("", "duplicate_column", column))
        if column not in known:
            problems.append(Problem("", "unknown_column", column, allowed=shown))
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, cells in records[1:]:
        row: dict[str, Any] = {}
        for index, cell in enumerate(cells):
            column = header[index] if index < len(header) else None
            if column in known:
                row.setdefault(column, cell)
            elif column == "" and cell.strip():
                problems.append(Problem("", "unnamed_cell", cell.strip(), str(index + 1), number))
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
            problems.append(Problem("", "extra_cells", str(len(cells)), str(len(header)), number))
        rows.append((number, row))
    return rows, problems


def read_table(
    text: str, name: str, known: frozenset[str]
) -> tuple[list[tuple[int, dict[str, Any]]], list[Problem]]:
    """The rows of a YAML or CSV profile file's ``text`` (``name`` tells which), each with its
    number as a person sees it, and the problems of the file's shape found on the way (a CSV
    column not in ``known``, a row with more cells than the header). Raises
    :class:`ProfileFileError` when the file cannot be read as rows at all."""
    suffix = PurePath(name).suffix.lower()
    if suffix in {".yaml", ".yml"}:
        return _yaml_rows(text, name), []
    if suffix == ".csv":
        return _csv_rows(text, name, known)
    raise ProfileFileError(name, [Problem("", "file_type", suffix)])
