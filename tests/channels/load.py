"""A bounded load on webhook workers: many merchants at once, each answering every question as
soon as it arrives, every answer to the next worker in turn (a round-robin load balancer, so a
merchant's consecutive answers land on different workers); then what the database holds is
checked against what each merchant sent. ``tests/channels/test_workers_load.py`` asserts it,
``bench/bench_workers.py`` prints its figures."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field

from dbkit import read
from fake_telegram import FakeBotAPI
from workers import Worker, click, one_by_one, say, texts

# A few answers each: the menu, a button, a text answer the engine validates, a command.
SCRIPT = [say("/start"), click("basic"), say("杭州星辰贸易有限公司"), say("/help")]
REFERENCE_CHAT = 1999  # walked through one worker first: what every merchant must read


@dataclass
class Figures:
    merchants: int
    workers: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, call to webhook answer

    @property
    def turns(self) -> int:
        return len(self.latencies)

    @property
    def turns_per_s(self) -> float:
        return self.turns / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    def line(self) -> str:
        return (f"{self.merchants} merchants x {len(SCRIPT)} answers through {self.workers} "
                f"worker(s): {self.turns} turns in {self.seconds:.2f} s = "
                f"{self.turns_per_s:.1f} turns/s; answer latency p50 {self.percentile(50):.0f} "
                f"ms, p99 {self.percentile(99):.0f} ms, mean "
                f"{statistics.fmean(self.latencies) * 1000:.0f} ms")


async def _merchant(api: FakeBotAPI, chat: int, to: list[Worker], figures: Figures) -> None:
    loop = asyncio.get_running_loop()
    for index, step in enumerate(SCRIPT):
        last = api.to(chat)[-1] if api.to(chat) else None
        update = step(api, chat, last)
        began = loop.time()
        status = await to[(chat + index) % len(to)].post(update)
        if status != 200:
            raise AssertionError(f"update {update['update_id']} answered {status}")
        figures.latencies.append(loop.time() - began)


async def run(api: FakeBotAPI, to: list[Worker], merchants: int, first_chat: int) -> Figures:
    """Every merchant at once, each answer once the last was answered; timed from the first
    call to the last answer."""
    figures = Figures(merchants, len(to))
    began = time.perf_counter()
    await asyncio.gather(*(_merchant(api, chat, to, figures)
                           for chat in range(first_chat, first_chat + merchants)))
    figures.seconds = time.perf_counter() - began
    return figures


async def reference(api: FakeBotAPI, worker: Worker) -> list[str]:
    await one_by_one(api, REFERENCE_CHAT, worker, SCRIPT)
    return texts(api.to(REFERENCE_CHAT))


def problems(api: FakeBotAPI, url: str, expected: list[str], chats: range) -> list[str]:
    """What is wrong after the load, in words: a merchant whose messages differ from the
    reference's, whose answers were not all applied, or applied twice."""
    found = []
    for chat in chats:
        got = texts(api.to(chat))
        if got != expected:
            found.append(f"merchant {chat} read {len(got)} messages, not the "
                         f"{len(expected)} expected")
    rows = read(url, "SELECT m.user_key, m.version, count(t.id), count(DISTINCT t.update_key)"
                " FROM merchants m LEFT JOIN turns t ON t.merchant_id = m.id"
                " AND t.update_key IS NOT NULL WHERE m.user_key <> :ref"
                " GROUP BY m.user_key, m.version", ref=str(REFERENCE_CHAT))
    seen = {int(user_key): (version, count, distinct) for user_key, version, count, distinct
            in rows}
    want = (len(SCRIPT),) * 3
    for chat in chats:
        if chat not in seen:
            found.append(f"merchant {chat} is not in the database")
        elif seen[chat] != want:
            version, count, distinct = seen[chat]
            found.append(f"merchant {chat}: version {version}, {count} turns ({distinct} "
                         f"updates) for {len(SCRIPT)} answers")
    extra = set(seen) - set(chats)
    if extra:
        found.append(f"{len(extra)} merchants nobody was: {sorted(extra)[:5]}")
    return found
