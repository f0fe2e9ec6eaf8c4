"""Cache files of the matcher: numpy arrays plus a JSON header, written atomically.

A cache file is only ever an optimisation: one that is missing, damaged or written for
other parameters (its ``signature`` differs) reads as None, and a failed write is logged and
forgotten. Either way the caller computes afresh; a re-match never fails because of a cache.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def write_archive(path: Path, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` and the JSON ``header`` to ``path`` (via a temporary file and rename,
    so a reader never sees half a file)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp.npz")
        with temporary.open("wb") as fh:
            encoded = json.dumps(header).encode("utf-8")
            np.savez(fh, header=np.frombuffer(encoded, dtype=np.uint8), **arrays)
        os.replace(temporary, path)
    except OSError as exc:
        log.warning("could not write the cache file %s: %s", path, exc)


def read_archive(path: Path, signature: str) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
    """The header and arrays of ``path`` if it was written with ``signature``, else None."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(bytes(data["header"]).decode("utf-8"))
            if header.get("signature") != signature:
                log.info("cache file %s is for other parameters; computing afresh", path)
                return None
            return header, {name: data[name] for name in data.files if name != "header"}
    except (OSError, ValueError, KeyError, UnicodeDecodeError) as exc:
        log.warning("ignoring unreadable cache file %s: %s", path, exc)
        return None
