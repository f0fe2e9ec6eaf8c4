"""The analysis cache: each call's analysed text kept between re-matches.

Analysing the texts (tokens, language, stems) is the largest part of a cold fit. A call's
analysis depends only on its own text, so a re-match after a crawl needs to analyse only the
calls that are new or whose text changed; everything that depends on the whole corpus (the
bigram vocabulary, IDF, n-gram statistics, the vectors) is still computed fresh each time.

Entries are keyed by (call id, content hash of the text the matcher reads), never by the
text alone. The whole cache is discarded when the analysis changes: the cache format, the
analyzer's settings, the stop-word lists, or the glossary (its signature covers them).

On disk: one ``analysis.npz`` in the cache folder (``Settings.instance_path / "matcher"``),
written to a temporary name and renamed, so a crash never leaves a torn file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from matcher.glossary import default_glossary_path
from matcher.vectorize import FIELDS, CorpusAnalysis, Document, TextModel

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
_FILE = "analysis.npz"
_DATA = Path(__file__).parent / "data"


def analysis_signature(model: TextModel) -> str:
    """A fingerprint of everything a call's analysis depends on besides its text."""
    digest = hashlib.sha256(
        f"format {CACHE_FORMAT}; min_length {model.analyzer.min_length}".encode()
    )
    for path in (
        _DATA / "stopwords_de.txt",
        _DATA / "stopwords_proposal.txt",
        Path(default_glossary_path()),
    ):
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()


def content_hash(doc: Document) -> bytes:
    """16-byte hash of the fields the matcher reads (title, summary, …, declared language)."""
    digest = hashlib.blake2b(digest_size=16)
    for name in (*FIELDS, "language"):
        digest.update(getattr(doc, name).encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.digest()


@dataclass
class CacheStats:
    """What a cached analysis reused and what it analysed."""

    reused: int = 0
    analysed: int = 0


class AnalysisCache:
    """Per-call analyses in ``folder``, valid for one analysis signature."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / _FILE

    def analyse(
        self, model: TextModel, call_ids: Sequence[int], docs: Sequence[Document]
    ) -> tuple[CorpusAnalysis, CacheStats]:
        """The analysis of ``docs`` (in order), reusing cached calls; the cache is updated.

        Calls absent from ``call_ids`` are dropped from the cache, so it never outgrows the
        corpus.
        """
        if len(call_ids) != len(docs):
            raise ValueError(f"{len(call_ids)} call ids for {len(docs)} documents")
        signature = analysis_signature(model)
        ids = np.asarray(call_ids, dtype=np.int64)
        hashes = np.array([content_hash(doc) for doc in docs], dtype="S16")
        cached = self._load(signature)
        hit = np.full(len(ids), -1, dtype=np.int64)
        if cached is not None:
            _, old_ids, old_hashes = cached
            position = {cid: i for i, cid in enumerate(old_ids.tolist())}
            found = np.array([position.get(cid, -1) for cid in ids.tolist()], dtype=np.int64)
            same = (found >= 0) & (old_hashes[np.maximum(found, 0)] == hashes)
            hit[same] = found[same]
        reuse = np.flatnonzero(hit >= 0)
        fresh = np.flatnonzero(hit < 0)
        parts = []
        if cached is not None and len(reuse):
            parts.append(cached[0].take(hit[reuse]))
        if len(fresh):
            parts.append(model.analyse_calls([docs[i] for i in fresh.tolist()]))
        if not parts:
            parts.append(model.analyse_calls([]))
        merged = CorpusAnalysis.concat(parts) if len(parts) > 1 else parts[0]
        # Back to the order of ``docs``: reused calls came first, then the fresh ones.
        order = np.empty(len(ids), dtype=np.int64)
        order[np.concatenate([reuse, fresh])] = np.arange(len(ids))
        if len(parts) > 1 or len(reuse):
            merged = merged.take(order)
        self._save(signature, merged, ids, hashes)
        return merged, CacheStats(reused=len(reuse), analysed=len(fresh))

    def _load(self, signature: str) -> tuple[CorpusAnalysis, np.ndarray, np.ndarray] | None:
        if not self.path.exists():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as data:
                meta = json.loads(bytes(data["meta"]).decode("utf-8"))
                if meta.get("signature") != signature:
                    log.info("analysis cache is for another analysis; analysing all calls")
                    return None
                analysis = CorpusAnalysis(
                    meta["stems"],
                    meta["languages"],
                    {n: data[f"ids_{n}"] for n in FIELDS},
                    {n: data[f"lengths_{n}"] for n in FIELDS},
                    meta["forms"],
                )
                return analysis, data["call_ids"], data["hashes"]
        except (OSError, ValueError, KeyError) as exc:
            # A damaged cache costs one cold analysis, never a failed re-match.
            log.warning("ignoring unreadable analysis cache %s: %s", self.path, exc)
            return None

    def _save(
        self, signature: str, analysis: CorpusAnalysis, ids: np.ndarray, hashes: np.ndarray
    ) -> None:
        meta = {
            "signature": signature,
            "stems": analysis.stems,
            "languages": analysis.languages,
            "forms": analysis.forms,
        }
        arrays = {f"ids_{n}": analysis.ids[n] for n in FIELDS}
        arrays.update({f"lengths_{n}": analysis.lengths[n] for n in FIELDS})
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp.npz")
            with temporary.open("wb") as fh:
                np.savez(
                    fh,
                    meta=np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
                    call_ids=ids,
                    hashes=hashes,
                    **arrays,
                )
            os.replace(temporary, self.path)
        except OSError as exc:
            log.warning("could not write the analysis cache %s: %s", self.path, exc)
