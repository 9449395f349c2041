"""Durable turns per second through the service, many merchants at once, against the plain
durable write: one row inserted and committed per turn with aiosqlite, same pragmas.

    .venv/bin/python bench/bench_turns.py [--merchants 50] [--rounds 3] [--json]
    .venv/bin/python bench/bench_turns.py --code /path/to/other/checkout   # its service

Every merchant runs the script below at the same time as the others (each merchant's turns in
order, as a channel sends them); the baseline writes as many rows, one commit each. Both run in
the same process on the same disk, one after the other, each on a fresh database. ``--json``
prints one JSON object per figure (name, unit, value, baseline_name, baseline, ratio, target).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import aiosqlite


def _code_root() -> Path:
    """The checkout whose service is measured: ``--code DIR``, else this one."""
    if "--code" in sys.argv:
        return Path(sys.argv[sys.argv.index("--code") + 1]).resolve()
    return Path(__file__).resolve().parent.parent


sys.path.insert(0, str(_code_root()))

from bot import app as bot_app  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.content import load_guide  # noqa: E402
from bot.engine.model import Choose, Hello, State, Text  # noqa: E402
from bot.service import Service  # noqa: E402
from bot.store.db import Database  # noqa: E402
from bot.store.files import FileStore  # noqa: E402

TARGET = 2.0  # the figure: at least twice the plain per-turn-commit write

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


def started() -> None:
    """What ``python -m bot run`` does once it is up (``bot.app.settle_heap``), if the
    measured checkout has it."""
    settle = getattr(bot_app, "settle_heap", None)
    if settle is not None:
        settle()


async def run_script(service: Service, merchants: int) -> tuple[int, float]:
    async def merchant(m: int) -> None:
        for n, event in enumerate(SCRIPT):
            await service.handle("bench", f"m{m}", event, update_id=f"{m}:{n}")

    started()
    start = time.perf_counter()
    await asyncio.gather(*(merchant(m) for m in range(merchants)))
    return merchants * len(SCRIPT), time.perf_counter() - start


async def run_service(directory: Path, merchants: int) -> tuple[int, float]:
    """(turns, seconds) for ``merchants`` running the script at once: the service alone."""
    db = Database(f"sqlite+aiosqlite:///{directory / 'bot.db'}")
    await db.migrate()
    service = Service(load_guide(), db, FileStore(directory / "files"))
    try:
        return await run_script(service, merchants)
    finally:
        close = getattr(service, "close", None)
        if close is not None:
            await close()
        await db.close()


async def run_deployed(directory: Path, merchants: int) -> tuple[int, float]:
    """The same, through the service as ``python -m bot run`` builds it: every plugin
    installed (reminders, documents, handoff, license reader), counted for /metrics."""
    settings = Settings(_env_file=None, bot_data_dir=directory / "deployed")
    async with bot_app.open_service(settings) as service:
        return await run_script(service, merchants)


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


async def run_baseline(directory: Path, merchants: int, turns: int) -> tuple[int, float]:
    """The same number of turns, the same merchants at once, each turn one INSERT and one
    COMMIT on one aiosqlite connection (a turn waits for the commit before the next)."""
    async with aiosqlite.connect(directory / "floor.db") as conn:
        for pragma in ("journal_mode=WAL", "synchronous=FULL"):
            await conn.execute(f"PRAGMA {pragma}")
        await conn.execute("CREATE TABLE turns (id INTEGER PRIMARY KEY, user TEXT, body TEXT)")
        await conn.commit()
        lock = asyncio.Lock()

        async def merchant(m: int) -> None:
            for _ in range(turns // merchants):
                async with lock:
                    await conn.execute("INSERT INTO turns (user, body) VALUES (?, ?)",
                                       (f"m{m}", '{"flow": "basic", "step": "license"}'))
                    await conn.commit()

        start = time.perf_counter()
        await asyncio.gather(*(merchant(m) for m in range(merchants)))
        return turns, time.perf_counter() - start


def describe(name: str, turns: int, seconds: float, quiet: bool) -> float:
    rate = turns / seconds
    if not quiet:
        print(f"{name:<44} {turns:>6} turns {rate:>9.1f} turns/s")
    return rate


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--merchants", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--code", help="checkout whose service is measured (default: this)")
    args = parser.parse_args()
    quiet = args.json
    figures: dict[str, list[tuple[float, float]]] = {"service": [], "deployed": []}
    for round_no in range(1, args.rounds + 1):
        if not quiet:
            print(f"round {round_no}")
        with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
            turns, seconds = await run_service(Path(tmp), args.merchants)
            floor = await run_baseline(Path(tmp), args.merchants, turns)
            deployed = await run_deployed(Path(tmp), args.merchants)
        engine = run_engine(turns)
        describe("engine alone (no I/O)", len(engine), sum(engine), quiet)
        ours = describe(f"service, {args.merchants} merchants at once", turns, seconds, quiet)
        base = describe("baseline (aiosqlite, 1 row + commit/turn)", *floor, quiet)
        bot = describe("as deployed (plugins, metrics)", *deployed, quiet)
        figures["service"].append((ours, base))
        figures["deployed"].append((bot, base))
        if not quiet:
            print(f"ratio service/baseline: {ours / base:.2f}, as deployed: {bot / base:.2f}")
    names = {"service": f"durable turns, {args.merchants} merchants at once",
             "deployed": f"durable turns as deployed, {args.merchants} merchants at once"}
    for key, pairs in figures.items():
        ratio = statistics.median(ours / base for ours, base in pairs)
        if args.json:
            print(json.dumps({
                "name": names[key], "unit": "turns/s",
                "value": round(statistics.median(ours for ours, _ in pairs), 1),
                "baseline_name": "aiosqlite, one row and one commit per turn",
                "baseline": round(statistics.median(base for _, base in pairs), 1),
                "ratio": round(ratio, 2), "target": TARGET,
            }))
        else:
            print(f"{names[key]}: median ratio over {args.rounds} rounds {ratio:.2f} "
                  f"(target {TARGET:.1f})")


if __name__ == "__main__":
    asyncio.run(main())
