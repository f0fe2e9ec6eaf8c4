"""One spider per source kind; the module, the spider's ``name``, its tests and its fixtures
share the source's slug (``eu_funding_tenders`` ...). Generic spiders (``feed``,
``funder_page``) serve several sources configured in ``crawler/sources.yaml``."""
