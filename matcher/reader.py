"""Reading documents into stem ids: the text model's analysis of calls and queries.

A document is tokenised, its language guessed where it is not given, and each field's
tokens mapped to stem ids. Calls are read a chunk at a time by the vectorised lexicon
(:mod:`matcher.lexicon`); queries one by one, since their new words must get ids in the
model's own stem table.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from matcher.analysis import Analyzer, tokenize
from matcher.corpus import AnalysedTerms, Batch, ChunkTokens, CorpusAnalysis
from matcher.documents import FIELDS, Document
from matcher.kernels.tokens import split_fields
from matcher.lexicon import Lexicon, hash_tokens
from matcher.params import Parallelism
from matcher.written import WrittenTokens


class TextReader:
    """Reads documents into stem ids, numbering stems in one table (the model's).

    The table grows as queries are read: a query's words the calls never use get ids after
    the fitted stems, which the explanations read afterwards (``QueryBridges``).
    """

    def __init__(self, analyzer: Analyzer, parallelism: Parallelism) -> None:
        self.analyzer = analyzer
        self.parallelism = parallelism
        # Stems get integer ids once; folded tokens map straight to ids, per language.
        self.stem_ids: dict[str, int] = {}
        self.stems: list[str] = []
        self._token_cache: dict[str, dict[str, int]] = {}
        # Folded words as the analysed calls write them (CorpusAnalysis.written), for names.
        self.written: dict[str, str] = {}

    def renumber(self, stems: list[str]) -> None:
        """Number the stems as ``stems`` does (a fit's vocabulary), forgetting other ids."""
        self.stems = stems
        self.stem_ids = {stem: i for i, stem in enumerate(stems)}
        self._token_cache = {}

    def _token_ids(self, tokens: list[str], language: str, *, stops: bool = False) -> list[int]:
        """Stem ids of folded tokens (stop words dropped, or -1 with ``stops``); each
        distinct token stemmed once."""
        cache = self._token_cache.get(language)
        if cache is None:
            cache = self._token_cache[language] = {}
        get = cache.get
        ids = [get(t, -2) for t in tokens]
        if -2 in ids:
            for i, token in enumerate(tokens):
                if ids[i] != -2:
                    continue
                value = get(token, -2)
                if value == -2:
                    stem = self.analyzer.stem(token, language)
                    if stem is None:
                        value = -1
                    else:
                        value = self.stem_ids.get(stem, -1)
                        if value == -1:
                            value = self.stem_ids[stem] = len(self.stems)
                            self.stems.append(stem)
                    cache[token] = value
                ids[i] = value
        return ids if stops else [i for i in ids if i >= 0]

    def language_of(self, doc: Document, tokens: dict[str, list[str]] | None = None) -> str:
        """The one language guess of both readers: the declared language, else the function
        words of the title, the summary and the first 300 tokens of the description
        (``tokens``: the document's tokens by field, where the caller has them)."""
        declared = self.analyzer.language_of([], doc.language)
        if declared:
            return declared
        if tokens is None:
            tokens = {name: tokenize(getattr(doc, name) or "") for name in FIELDS[:3]}
        looked = tokens["title"] + tokens["summary"] + tokens["description"][:300]
        return self.analyzer.language_of(looked, doc.language)

    def read(self, docs: Sequence[Document], *, keep: bool = False) -> Batch:
        """Tokenise, guess the language where not given, and map every field to stem ids."""
        batch = Batch([], {n: [] for n in FIELDS}, {n: [] for n in FIELDS})
        if keep:
            batch.docs, batch.tokens, batch.words = [], [], []
        for doc in docs:
            tokens = {name: tokenize(getattr(doc, name) or "") for name in FIELDS}
            language = self.language_of(doc, tokens)
            batch.languages.append(language)
            per_doc = {}
            every: list[list[int]] = []
            for name in FIELDS:
                every.append(self._token_ids(tokens[name], language, stops=True))
                ids = [i for i in every[-1] if i >= 0]
                batch.ids[name].extend(ids)
                batch.lengths[name].append(len(ids))
                per_doc[name] = ids
            if keep:
                batch.docs.append(per_doc)  # type: ignore[union-attr]
                batch.tokens.append([t for n in FIELDS for t in tokens[n]])  # type: ignore[union-attr]
                batch.words.append(([tokens[n] for n in FIELDS], every))  # type: ignore[union-attr]
        return batch

    def query_terms(self, batch: Batch) -> list[AnalysedTerms]:
        """Per query: language, unigram terms per field (as strings), and all tokens."""
        stems = self.stems
        out: list[AnalysedTerms] = []
        for language, doc, tokens in zip(
            batch.languages, batch.docs or [], batch.tokens or [], strict=True
        ):
            out.append((language, {n: [stems[i] for i in doc[n]] for n in FIELDS}, tokens))
        return out

    def analyse_calls(self, calls: Sequence[Document]) -> CorpusAnalysis:
        """Analyse call texts for fitting, a chunk at a time (vectorised).

        The analysis depends only on the texts and the analyzer, never on other calls.
        """
        stems: list[str] = []
        lexicon = Lexicon(self.analyzer, {}, stems)
        batches = [self._by_field(chunk) for _, chunk in self.token_chunks(calls, lexicon)]
        analysis = CorpusAnalysis.from_batches(stems, batches)
        for word, form in (analysis.written or {}).items():
            self.written.setdefault(word, form)
        return analysis

    @staticmethod
    def _by_field(chunk: ChunkTokens) -> Batch:
        """:meth:`read`'s batch for one chunk of calls read by the lexicon.

        Only the stem ids (int32) are kept, so memory grows with the corpus' tokens, not
        with its strings.
        """
        ids, starts, lengths = split_fields(
            chunk.stem_ids, chunk.tokens.segments, len(chunk.languages), len(FIELDS)
        )
        batch = Batch(chunk.languages, {}, {}, written=chunk.tokens.written)
        for f, name in enumerate(FIELDS):
            batch.ids[name] = ids[starts[f] : starts[f + 1]]
            batch.lengths[name] = lengths[f]
        return batch

    def _token_chunk(self, chunk: Sequence[Document], lexicon: Lexicon) -> ChunkTokens:
        """Every token of the documents ``chunk`` with its document, field and stem id.

        The tokens note how the texts write their words (``WrittenTokens``).
        """
        names = ["de", "en", ""]
        texts = [getattr(doc, name) or "" for doc in chunk for name in FIELDS]
        tokens = WrittenTokens.of(hash_tokens(texts))
        declared = [self.language_of(doc) for doc in chunk]
        lang_index = np.array([names.index(lang) for lang in declared], dtype=np.int64)
        tokens.languages = declared
        stem_ids = lexicon.ids(tokens, np.repeat(lang_index, len(FIELDS)), names)
        return ChunkTokens(tokens, declared, stem_ids)

    def token_chunks(
        self, docs: Sequence[Document], lexicon: Lexicon
    ) -> Iterator[tuple[int, ChunkTokens]]:
        """The tokens of ``docs`` a chunk at a time, each with the index of its first
        document."""
        chunk = self.parallelism.read_chunk
        for begin in range(0, len(docs), chunk):
            yield begin, self._token_chunk(docs[begin : begin + chunk], lexicon)
