"""The hot path's prepared statements write exactly what SQLAlchemy would write for the same
values, so rows from a batch and rows from the Core path read back alike."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import insert
from sqlalchemy.dialects import sqlite

from bot.store import turns as T
from bot.store.db import Database
from bot.store.prepared import Prepared

TIMES = [
    datetime(2026, 12, 2, 10, 3, 4, 5),
    datetime(2026, 12, 2, 10, 3, 4),  # no microseconds: still written with six digits
    datetime(999, 1, 1),
    datetime(2026, 12, 2, 10, 3, 4, 5, tzinfo=UTC),  # aware: as SQLAlchemy writes it
    datetime(2026, 12, 2, 18, 3, 4, 5, tzinfo=timezone(timedelta(hours=8))),
    None,
]


@pytest.mark.parametrize("value", TIMES)
def test_a_time_is_written_as_sqlalchemy_writes_it(value):
    dialect = sqlite.dialect()
    prepared = Prepared(insert(T.turns), dialect, ["created_at"])
    (written,) = prepared.row({"created_at": value})
    expected = T.turns.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)(value)
    assert written == expected
    assert value is None or written.startswith(f"{value.year:04d}-")


def test_json_values_are_written_as_compact_utf8_text(tmp_path):
    dialect = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}").engine.sync_engine.dialect
    prepared = Prepared(insert(T.turns), dialect, ["replies"])
    (written,) = prepared.row({"replies": [{"text": "您好", "n": 1, "k": {2: None}}]})
    assert written == '[{"text":"您好","n":1,"k":{"2":null}}]'
