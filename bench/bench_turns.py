"""Turns per second through the service with durable SQLite state, against the floor of a
durable turn: one row written and committed per turn with plain aiosqlite, same pragmas.

    .venv/bin/python bench/bench_turns.py [--merchants 20] [--rounds 3]

Both run in the same process on the same disk, one after the other, each on a fresh database.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import aiosqlite

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import emit, figure  # noqa: E402
from bot.content import load_guide  # noqa: E402
from bot.engine.model import Choose, Hello, State, Text  # noqa: E402
from bot.service import Service  # noqa: E402
from bot.store.db import Database  # noqa: E402
from bot.store.files import FileStore  # noqa: E402

# One merchant's turns: open, pick basic certification, answer the text questions, go back
# once, keep the answer, and leave: every kind of turn except uploads.
SCRIPT = [
    Hello(),
    Choose("basic"),
    Text("宁波海岸贸易有限公司"),
    Text("/status"),
    Text("/back"),
    Choose("keep"),
    Text("not a file"),
    Text("/lang"),
    Text("/cancel"),
]


async def run_service(directory: Path, merchants: int) -> list[float]:
    db = Database(f"sqlite+aiosqlite:///{directory / 'bot.db'}")
    await db.migrate()
    service = Service(load_guide(), db, FileStore(directory / "files"))
    latencies = []
    for m in range(merchants):
        for event in SCRIPT:
            start = time.perf_counter()
            await service.handle("bench", f"m{m}", event)
            latencies.append(time.perf_counter() - start)
    await db.close()
    return latencies


def run_engine(turns: int) -> list[float]:
    """The pure engine alone on the same script: what a turn costs before any I/O."""
    guide = load_guide()
    latencies: list[float] = []
    while len(latencies) < turns:
        state = State("zh_CN")
        for event in SCRIPT:
            start = time.perf_counter()
            state = guide.handle(state, event, date(2026, 11, 29)).state
            latencies.append(time.perf_counter() - start)
    return latencies[:turns]


async def run_baseline(directory: Path, turns: int) -> list[float]:
    latencies = []
    async with aiosqlite.connect(directory / "floor.db") as conn:
        for pragma in ("journal_mode=WAL", "synchronous=FULL"):
            await conn.execute(f"PRAGMA {pragma}")
        await conn.execute("CREATE TABLE turns (id INTEGER PRIMARY KEY, user TEXT, body TEXT)")
        await conn.commit()
        for i in range(turns):
            start = time.perf_counter()
            await conn.execute("INSERT INTO turns (user, body) VALUES (?, ?)",
                               (f"m{i % 20}", '{"flow": "basic", "step": "license"}'))
            await conn.commit()
            latencies.append(time.perf_counter() - start)
    return latencies


def describe(name: str, latencies: list[float]) -> float:
    total = sum(latencies)
    rate = len(latencies) / total
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    print(f"{name:<34} {len(latencies):>6} turns {rate:>9.1f} turns/s "
          f"p50 {p50:6.2f} ms  p99 {p99:6.2f} ms")
    return rate


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--merchants", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="one JSON object a line")
    args = parser.parse_args()
    if args.json:  # the table's line: the median round, its figures in turns/s
        sys.stdout = io.StringIO()
    ratios, figures = [], []
    for round_no in range(1, args.rounds + 1):
        print(f"round {round_no}")
        with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
            service = await run_service(Path(tmp), args.merchants)
            floor = await run_baseline(Path(tmp), len(service))
        describe("engine alone (no I/O)", run_engine(len(service)))
        ours = describe("service (engine + SQLite state)", service)
        base = describe("baseline (aiosqlite, 1 row/turn)", floor)
        ratios.append(ours / base)
        figures.append((ours, base))
        print(f"ratio service/baseline: {ours / base:.2f}")
    print(f"median ratio over {args.rounds} rounds: {statistics.median(ratios):.2f} "
          "(1.00 = as fast as the bare durable write)")
    if args.json:
        sys.stdout = sys.__stdout__
        ours, base = sorted(figures, key=lambda f: f[0] / f[1])[len(figures) // 2]
        emit([figure(f"durable_turns_{args.merchants}_merchants", "turns/s", ours,
                     "aiosqlite, one commit per turn", base, target=2.0)])


if __name__ == "__main__":
    asyncio.run(main())
