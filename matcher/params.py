"""The text model's settings: its tunable parameters, read by the model and by each step it
delegates to, and how much of the machine it may use."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelParams:
    """Tunable parameters of :class:`matcher.vectorize.TextModel`; the defaults are those
    that ranked best on the CORDIS benchmark (``foerderdesk eval``)."""

    title_weight: float = 2.0
    summary_weight: float = 1.5
    description_weight: float = 1.0
    keywords_weight: float = 1.5
    bigrams: bool = True
    # A stem pair found in one call only is that call's most specific evidence (a title's
    # "marine monitoring"), so even pairs of one call are kept.
    min_bigram_df: int = 1
    ngram_weight: float = 0.25
    ngram_size: int = 4
    ngram_max_df: float = 0.3
    unseen_min_length: int = 6  # unseen words shorter than this get no n-grams
    glossary_weight: float = 1.0
    dictionary_weight: float = 1.0
    dictionary_alternatives: int = 3
    cognate_weight: float = 0.5
    # A query keeps its terms of highest tf-idf: a long profile's rambling tail adds little
    # to its ranking and slows its scoring. 0: keep every term.
    max_query_terms: int = 100
    query_idf_power: float = 1.0
    reference_weight: float = 1.0  # IDF prior from the reference corpus; 0: the calls alone

    def field_weights(self) -> dict[str, float]:
        """How much a word counts in each field (a title's more than a description's)."""
        return {
            "title": self.title_weight,
            "summary": self.summary_weight,
            "description": self.description_weight,
            "keywords": self.keywords_weight,
        }


@dataclass(frozen=True)
class Parallelism:
    """Threads for the sparse and compiled steps (they release the GIL), and how many calls a
    step holds at once (the memory it needs grows with it).

    The matcher never forks: a fork copies the locks other threads hold, which is unsafe in
    the threaded web server (what a second process would save is in the README).
    """

    threads: int = 2
    read_chunk: int = 500  # calls hashed and tokenised at once
    count_chunk: int = 2500  # calls counted at once, a chunk per thread

    def __post_init__(self) -> None:
        if min(self.threads, self.read_chunk, self.count_chunk) < 1:
            raise ValueError(f"impossible parallelism: {self}")
