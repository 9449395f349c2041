"""Merchants at once through two Telegram webhook workers against one, on one PostgreSQL server.

    BOT_TEST_DATABASE_URL=postgresql+asyncpg://bot:bot@127.0.0.1:5432/bot \\
        .venv/bin/python bench/bench_workers.py [--merchants 200] [--json]

Each worker is a real ``python -m bot run`` process in webhook mode behind the fake Bot API of
the process tests (``tests/channels/workers.py``, on loopback); ``--merchants`` merchants answer
four questions each, every answer as soon as its question arrives and to the next worker in turn
(``tests/channels/load.py``). The baseline is the same load through one worker, in the same run,
each on a fresh database. After each run the database is checked (every answer applied once);
a run that lost or doubled anything fails the script.

The URL names a server and a role that may create databases (as for the tests); the figures are
turns/s (higher is better) and the p99 latency of an answer (webhook call to its answer).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "channels")]

import load
from dbkit import PostgresDatabases, configured_url
from fake_telegram import FakeBotAPI
from workers import workers

from bench.report import emit, figure

ENV = ("BOT_BENCH_DATABASE_URL", "BOT_TEST_DATABASE_URL")


def server_url():
    for name in ENV:
        if os.environ.get(name, "").strip():
            os.environ["BOT_TEST_DATABASE_URL"] = os.environ[name].strip()
            url = configured_url()
            if url is not None and url.get_backend_name() == "postgresql":
                return url
    return None


async def measure(databases: PostgresDatabases, count: int, merchants: int,
                  verbose: bool) -> load.Figures:
    name, url = databases.fresh()
    api = FakeBotAPI()
    await api.start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
            async with workers(Path(tmp), api, url, count) as started:
                expected = await load.reference(api, started[0])
                figures = await load.run(api, started, merchants, first_chat=10_000)
                found = load.problems(api, url, expected, range(10_000, 10_000 + merchants))
        if found:
            raise SystemExit("the load lost or doubled answers:\n" + "\n".join(found[:20]))
        if verbose:
            print(figures.line(), flush=True)
        return figures
    finally:
        await api.stop()
        databases.drop(name)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--merchants", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    url = server_url()
    if url is None:
        raise SystemExit("bench_workers needs a PostgreSQL server: set BOT_BENCH_DATABASE_URL "
                         "or BOT_TEST_DATABASE_URL to postgresql+asyncpg://...")
    databases = PostgresDatabases(url)
    try:
        one = await measure(databases, 1, args.merchants, not args.json)
        two = await measure(databases, 2, args.merchants, not args.json)
    finally:
        databases.drop(databases.template)
    rows = [
        figure("workers_two_webhook", "turns/s", two.turns_per_s, "one webhook worker",
               one.turns_per_s),
        figure("workers_two_webhook_p99", "ms", two.percentile(99), "one webhook worker",
               one.percentile(99)),
    ]
    if args.json:
        emit(rows)
    else:
        print(f"two workers / one: {rows[0]['ratio']:.2f}x turns/s, p99 "
              f"{rows[1]['ratio']:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
