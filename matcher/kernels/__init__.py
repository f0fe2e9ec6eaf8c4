"""Compiled inner loops of the matcher (numba), where numpy would need a dense profiles ×
calls matrix, a sort of every occurrence in the corpus, or a Python loop per item.

One module per concern: :mod:`~matcher.kernels.ranking` (the best calls per profile and the
terms explaining a match), :mod:`~matcher.kernels.counting` (the stem-pair code table and the
field-weighted tf rows), :mod:`~matcher.kernels.tokens` (UTF-8 text to token hashes, and
hashes to stem ids by field) and :mod:`~matcher.kernels.vectors` (the calls' vectors written
by term).

All release the GIL (``nogil``), so callers run chunks on two threads. Compiled code is
cached beside each module (``cache=True``), so only the first process after an install pays
the compilation.
"""
