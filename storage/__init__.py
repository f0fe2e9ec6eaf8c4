"""The shared data layer: configuration, database engine, models, queries and migrations.

`storage` imports nothing else of foerderdesk; every other package builds on it.
"""
