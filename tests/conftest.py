"""Fixtures for the whole suite: the database every test runs on (see ``dbkit``)."""

from dbkit import _postgres, database_url, empty_database_url  # noqa: F401  (fixtures)
