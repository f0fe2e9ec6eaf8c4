"""The Förderdatenbank's programme export: one zip of XML documents (every programme and
the documents it links to), read by the ``foerderdatenbank`` spider.

- :mod:`.archive`: the zip on disk, its documents one at a time, links between them;
- :mod:`.codes`: the classifier codes (Förderart, Fördergebiet, Förderberechtigte ...);
- :mod:`.download`: the download spooled to a temporary file, and the export's validators
  (ETag / Last-Modified) kept for the next, conditional, request;
- :mod:`.build`: export zips built from unpacked documents (the demo, tests, the benchmark);
- :mod:`.bench`: ``foerderdesk bench-export``.
"""
