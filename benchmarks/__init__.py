"""Tools that measure the product: speed, memory and ranking quality (``foerderdesk bench …``,
``foerderdesk eval``, ``bench-export``, ``bench-digests``).

They sit above every runtime package and nothing of the runtime imports them, so a web worker
or the scheduler never loads a benchmark.
"""
