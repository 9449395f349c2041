"""A bounded load on loopback: 200 merchants at once through two ``python -m bot run`` webhook
workers on one PostgreSQL database, every answer to the other worker. Nothing is lost, nothing
applied twice, checked in the database; the figures are printed (``pytest -s``; the benchmark
with a one-worker baseline is ``bench/bench_workers.py``)."""

from __future__ import annotations

import load
import pytest
from dbkit import on_postgresql
from fake_telegram import FakeBotAPI
from workers import logs, workers

pytestmark = pytest.mark.skipif(
    not on_postgresql(), reason="several workers share a PostgreSQL database "
    "(BOT_TEST_DATABASE_URL=postgresql+asyncpg://...)")

MERCHANTS = 200


async def test_two_hundred_merchants_through_two_workers(tmp_path, database_url):
    api = FakeBotAPI()
    await api.start()
    try:
        async with workers(tmp_path, api, database_url) as started:
            expected = await load.reference(api, started[0])
            figures = await load.run(api, started, MERCHANTS, first_chat=10_000)
            print(figures.line())
            found = load.problems(api, database_url, expected,
                                  range(10_000, 10_000 + MERCHANTS))
            assert not found, "\n".join(found[:20]) + "\n" + logs(started)[-5000:]
    finally:
        await api.stop()
