"""Export zips built from unpacked export documents, laid out as the real zip unpacks.

The demo snapshot's export, the tests' variants and the benchmark's large export are all
built here, so every one of them has the real export's layout.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path

from crawler.foerderdatenbank.archive import PROGRAMME_PREFIX


def build_export(
    source: Path,
    target: Path,
    *,
    programmes: int | None = None,
    overrides: Mapping[str, bytes | None] | None = None,
) -> int:
    """Zip the documents under ``source`` (a folder holding ``BMWI/...``) into ``target``.

    ``programmes`` repeats the programme documents under new names (``<slug>-2`` ...)
    until the export holds that many; ``overrides`` replaces an entry's bytes by name
    (``None`` leaves it out), for tests that need a broken or missing document.
    Returns the number of programme documents written.
    """
    overrides = dict(overrides or {})
    files = sorted(p for p in source.rglob("*.xml") if p.is_file())
    names = {p.relative_to(source).as_posix(): p for p in files}
    written = 0
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, path in names.items():
            data = overrides.pop(name) if name in overrides else path.read_bytes()
            if data is None:
                continue
            _write(archive, name, data)
            written += name.startswith(PROGRAMME_PREFIX)
        for name, data in overrides.items():  # entries that only the overrides add
            if data is not None:
                _write(archive, name, data)
                written += name.startswith(PROGRAMME_PREFIX)
        originals = [n for n in names if n.startswith(PROGRAMME_PREFIX)]
        copy = 2
        while programmes is not None and originals and written < programmes:
            for name in originals:
                if written >= programmes:
                    break
                copied = f"{name.removesuffix('.xml')}-{copy}.xml"
                _write(archive, copied, names[name].read_bytes())
                written += 1
            copy += 1
    return written


def _write(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    # A fixed time stamp: the same documents always make the same bytes (and ETag).
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)
