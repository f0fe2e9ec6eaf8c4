"""Scrapy spiders and pipelines: collect funding calls, normalise them, store them."""
