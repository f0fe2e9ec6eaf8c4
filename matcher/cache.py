"""The matcher cache: each call's analysis and fitted counts kept between re-matches.

Two files, each keyed by (call id, content hash of the text the matcher reads), never by
the text alone:

* ``analysis.npz``: each call's analysed text (tokens, language, stems), which depends only
  on its own text; used when the fitted side below is missing or invalid.
* ``fitted.npz``: the fitted call side (``matcher.corpus.CallCounts``): the vocabulary and
  each call's field-weighted tf as CSR rows. A re-match with unchanged calls (a profile edit)
  loads it and skips analysis and counting; one with a few changed calls analyses and
  counts only those, replaces their rows and drops columns no call uses any longer. IDF,
  the n-gram block and the vectors are always derived from the counts with sparse
  operations, so the result equals a fit from scratch (tested).

The words that explain the matches come from the cold fit's analysis, which keeps each
token's surface word, so a first re-match reads no text twice; a re-match that reused the
fitted side reads the listed calls' texts again (about a second per 20,000 calls).

A file is discarded when what it depends on changes: the cache format, the analyzer's
settings, the stop-word lists, the glossary, and for the fitted side the field weights and
bigram settings. Files are written to a temporary name and renamed, so a crash never leaves
a torn file; an unreadable file costs one cold fit, never a failed re-match. The folder is
``Settings.instance_path / "matcher"``.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from matcher.archive import read_archive, write_archive
from matcher.corpus import CallCounts, CorpusAnalysis
from matcher.counting import count_calls, update_counts
from matcher.documents import FIELDS, Document, content_hash, pick_documents
from matcher.glossary import default_glossary_path
from matcher.terms import surface_words
from matcher.vectorize import TextModel

log = logging.getLogger(__name__)

CACHE_FORMAT = 3  # 3: "¼" folds to "14" (the readers agree); 2: words as the call writes them
_FILE = "analysis.npz"
_FITTED_FILE = "fitted.npz"
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


def fitted_signature(model: TextModel) -> str:
    """A fingerprint of everything the fitted call side depends on besides the texts.

    The analysis, and the parameters that shape a call's counts (field weights, bigrams);
    IDF and n-gram parameters are applied after loading, so they do not invalidate it.
    """
    p = model.params
    counted = (
        f"{p.title_weight} {p.summary_weight} {p.description_weight} {p.keywords_weight} "
        f"{p.bigrams} {p.min_bigram_df}"
    )
    return hashlib.sha256(f"{analysis_signature(model)}; {counted}".encode()).hexdigest()


@dataclass
class CacheStats:
    """What a cached analysis reused and what it analysed."""

    reused: int = 0
    analysed: int = 0
    fitted: bool = False  # the fitted call side came from the cache (no fit from scratch)


class AnalysisCache:
    """Per-call analyses in ``folder``, valid for one analysis signature."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / _FILE
        self.fitted_path = self.folder / _FITTED_FILE
        # Content hashes of the calls last fitted, by call id, so explaining does not hash
        # every text again.
        self._hashes: dict[int, bytes] = {}
        # The analysis of a cold fit and each call id's row in it, kept until the next
        # cached_surface_words names the matched calls' words from it instead of reading
        # their texts again.
        self._analysed: tuple[CorpusAnalysis, dict[int, int]] | None = None

    def forget_calls(self) -> None:
        """Drop every layer kept of the calls (analysis, fitted counts), as a change
        of the analysis would; what does not depend on the calls (the dictionary's parsed
        index, the reference counts) stays."""
        for path in (self.path, self.fitted_path):
            path.unlink(missing_ok=True)
        self._hashes.clear()
        self._analysed = None

    def _content_hashes(self, call_ids: Sequence[int], docs: Sequence[Document]) -> np.ndarray:
        return self._remember(call_ids, np.array([content_hash(doc) for doc in docs], dtype="S16"))

    def _remember(self, call_ids: Sequence[int], hashes: np.ndarray | None) -> np.ndarray:
        if hashes is None or len(hashes) != len(call_ids):
            raise ValueError("the analysis did not hash every call it read")
        self._hashes = dict(zip(call_ids, hashes.tolist(), strict=True))
        return hashes

    def cached_surface_words(
        self,
        model: TextModel,
        call_ids: Sequence[int],
        docs: Sequence[Document],
        wanted: Sequence[Collection[str]],
    ) -> list[dict[str, str]]:
        """``surface_words(model, docs, wanted)``, named from the last cold fit's analysis
        where it read the call as it is now, else read from the call's text."""
        if not (len(call_ids) == len(docs) == len(wanted)):
            raise ValueError("surface words need one call id, document and term set per call")
        out: list[dict[str, str]] = [{} for _ in call_ids]
        missing = list(range(len(call_ids)))
        analysed, self._analysed = self._analysed, None
        if analysed is not None:
            analysis, row_of = analysed
            fitted = analysis.hashes
            row = {i: row_of.get(call_ids[i], -1) for i in missing}
            known = [
                i
                for i in missing
                if row[i] >= 0
                and fitted is not None
                and fitted[row[i]] == (self._hashes.get(call_ids[i]) or content_hash(docs[i]))
            ]
            if known:
                found = analysis.analysed_surface_words(
                    np.asarray([row[i] for i in known], dtype=np.int64),
                    [set(wanted[i]) for i in known],
                )
                for i, words in zip(known, found, strict=True):
                    out[i] = words
                done = set(known)
                missing = [i for i in missing if i not in done]
        if missing:
            found = surface_words(
                model,
                pick_documents(docs, np.asarray(missing, dtype=np.int64)),
                [set(wanted[i]) for i in missing],
            )
            for i, words in zip(missing, found, strict=True):
                out[i] = words
        log.info(
            "surface words: %d calls named from the analysis, %d read",
            len(out) - len(missing),
            len(missing),
        )
        return out

    def fit_index(
        self, model: TextModel, call_ids: Sequence[int], docs: Sequence[Document]
    ) -> tuple[sp.csr_matrix, CacheStats]:
        """``model.fit_index(docs)``, reusing the fitted rows of unchanged calls.

        With a valid fitted cache, only new or changed calls are analysed and counted; their
        rows replace the old ones, unused columns go, and IDF, n-grams and vectors are
        derived from the counts (the same numbers as a fit from scratch). Without one, the
        calls are fitted through the analysis cache and the fitted side is written.
        """
        if len(call_ids) != len(docs):
            raise ValueError(f"{len(call_ids)} call ids for {len(docs)} documents")
        # The queries' dictionary lookups can reuse a parsed index kept beside the calls.
        model.index_folder = self.folder
        self._analysed = None  # only this fit's analysis may name this re-match's words
        if model.params.bigrams and model.params.min_bigram_df > 1:
            model.expansion.prepare_dictionary(model.index_folder)
            analysis, stats = self.analyse(model, call_ids, docs)
            fitted = count_calls(analysis, model.params, model.parallelism)
            return model.fit_index_counts(fitted), stats
        signature = fitted_signature(model)
        ids = np.asarray(call_ids, dtype=np.int64)
        cached = self._load_fitted(signature)
        # The cache files are written on a thread while the vectors are computed (writing
        # releases the GIL, and the vectors leave a core idle for part of the time).
        writes: list[Callable[[], None]] = []
        if cached is None:
            analysis, stats = self.analyse(model, call_ids, docs, writes=writes)
            hashes = analysis.hashes
            if analysis.variants is not None:
                self._analysed = (analysis, {cid: i for i, cid in enumerate(call_ids)})
            fitted = count_calls(analysis, model.params, model.parallelism)
            del analysis
            # Parsing the dictionary (if it must be parsed: in a process of its own) starts
            # only now. The analysis and the counting keep both cores busy; the vectors leave
            # one idle for part of the time.
            model.expansion.prepare_dictionary(model.index_folder)
        else:
            model.expansion.prepare_dictionary(model.index_folder)
            hashes = self._content_hashes(call_ids, docs)
            base, old_ids, old_hashes = cached
            position = {cid: i for i, cid in enumerate(old_ids.tolist())}
            found = np.array([position.get(cid, -1) for cid in ids.tolist()], dtype=np.int64)
            same = (found >= 0) & (old_hashes[np.maximum(found, 0)] == hashes)
            fresh = np.flatnonzero(~same)
            stats = CacheStats(reused=int(same.sum()), analysed=len(fresh), fitted=True)
            if len(fresh) == 0 and np.array_equal(found, np.arange(len(old_ids))):
                # A profile edit: the calls are as they were, the cache needs no rewrite.
                return model.fit_index_counts(base), stats
            sources = found.copy()
            sources[fresh] = -1 - np.arange(len(fresh))
            analysis = model.reader.analyse_calls(pick_documents(docs, fresh))
            fitted = update_counts(base, sources, analysis, model.params, model.parallelism)
            del base, analysis, cached
        writes.append(functools.partial(self._save_fitted, signature, fitted, ids, hashes))
        saving = threading.Thread(target=lambda: [write() for write in writes], daemon=True)
        saving.start()
        try:
            return model.fit_index_counts(fitted), stats
        finally:
            saving.join()

    def analyse(
        self,
        model: TextModel,
        call_ids: Sequence[int],
        docs: Sequence[Document],
        *,
        hashes: np.ndarray | None = None,
        writes: list[Callable[[], None]] | None = None,
    ) -> tuple[CorpusAnalysis, CacheStats]:
        """The analysis of ``docs`` (in order), reusing cached calls; the cache is updated.

        Calls absent from ``call_ids`` are dropped from the cache, so it never outgrows the
        corpus. ``hashes``: the docs' content hashes, when the caller has them already; the
        result's ``hashes`` are those of ``docs`` either way. ``writes``: the update of the
        cache file is appended there for the caller to run, instead of run here.
        """
        write = writes.append if writes is not None else (lambda job: job())
        if len(call_ids) != len(docs):
            raise ValueError(f"{len(call_ids)} call ids for {len(docs)} documents")
        signature = analysis_signature(model)
        ids = np.asarray(call_ids, dtype=np.int64)
        cached = self._load(signature)
        if cached is None and hashes is None:
            # Nothing to reuse: the analysis hashes each text as it reads it.
            merged = model.reader.analyse_calls(docs, hashed=True)
            self._remember(call_ids, merged.hashes)
            write(functools.partial(self._save, signature, merged, ids, merged.hashes))
            return merged, CacheStats(analysed=len(ids))
        if hashes is None:
            hashes = self._content_hashes(call_ids, docs)
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
            parts.append(model.reader.analyse_calls(pick_documents(docs, fresh)))
        if not parts:
            parts.append(model.reader.analyse_calls([]))
        merged = CorpusAnalysis.concat(parts) if len(parts) > 1 else parts[0]
        # Back to the order of ``docs``: reused calls came first, then the fresh ones.
        order = np.empty(len(ids), dtype=np.int64)
        order[np.concatenate([reuse, fresh])] = np.arange(len(ids))
        if len(parts) > 1 or len(reuse):
            merged = merged.take(order)
        merged.hashes = hashes
        write(functools.partial(self._save, signature, merged, ids, hashes))
        return merged, CacheStats(reused=len(reuse), analysed=len(fresh))

    def _load(self, signature: str) -> tuple[CorpusAnalysis, np.ndarray, np.ndarray] | None:
        found = read_archive(self.path, signature)
        if found is None:
            return None
        meta, data = found
        try:
            analysis = CorpusAnalysis(
                meta["stems"],
                meta["languages"],
                {n: data[f"ids_{n}"] for n in FIELDS},
                {n: data[f"lengths_{n}"] for n in FIELDS},
                meta["forms"],
            )
            return analysis, data["call_ids"], data["hashes"]
        except KeyError as exc:
            log.warning("ignoring incomplete analysis cache %s: %s", self.path, exc)
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
        write_archive(self.path, meta, {"call_ids": ids, "hashes": hashes, **arrays})

    def _load_fitted(self, signature: str) -> tuple[CallCounts, np.ndarray, np.ndarray] | None:
        found = read_archive(self.fitted_path, signature)
        if found is None:
            return None
        meta, data = found
        try:
            stems = meta["stems"]
            codes = data["bigram_codes"]
            counts = sp.csr_matrix(
                (data["data"], data["indices"], data["indptr"]),
                shape=(len(data["call_ids"]), len(stems) + len(codes)),
            )
            fitted = CallCounts(stems, codes, counts, data["german"], meta["forms"])
            return fitted, data["call_ids"], data["hashes"]
        except (KeyError, ValueError) as exc:
            log.warning("ignoring unreadable fitted cache %s: %s", self.fitted_path, exc)
            return None

    def _save_fitted(
        self, signature: str, fitted: CallCounts, ids: np.ndarray, hashes: np.ndarray
    ) -> None:
        meta = {"signature": signature, "stems": fitted.stems, "forms": fitted.forms}
        arrays = {
            "call_ids": ids,
            "hashes": hashes,
            "german": fitted.german,
            "bigram_codes": fitted.bigram_codes,
            "data": fitted.counts.data,
            "indices": fitted.counts.indices,
            "indptr": fitted.counts.indptr,
        }
        write_archive(self.fitted_path, meta, arrays)
