"""Reads of the hot path, batched: a merchant's snapshot when the state cache misses it.

On SQLite every read waiting when the reader comes free goes to one thread of its own in one
hop, on a ``sqlite3`` connection, in one read transaction (WAL: it never waits for the
writer). Through aiosqlite the same read is a pool checkout and three statements, each a hop
to a thread and back; a burst of new merchants (all of them cache misses) spent most of its
time handing the GIL between those threads. Elsewhere (PostgreSQL) each read takes a pooled
connection of its own, concurrently.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store import merchants as M
from bot.store.db import sqlite_twin

Key = tuple[str, str]  # (channel, user_key)


class Reader:
    def __init__(self, engine: AsyncEngine, *, max_batch: int = 256) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._waiting: list[tuple[Key, asyncio.Future]] = []
        self._running: asyncio.Task | None = None
        self._sync: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None
        if engine.url.get_backend_name() == "sqlite":
            self._sync = sqlite_twin(engine)
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="reader")

    async def load(self, channel: str, user_key: str) -> M.Snapshot | None:
        """The merchant's snapshot as committed; None when it is not stored yet."""
        if self._sync is None:
            return await M.load(self.engine, channel, user_key)
        future = asyncio.get_running_loop().create_future()
        self._waiting.append(((channel, user_key), future))
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._drain())
        return await future

    async def close(self) -> None:
        if self._thread is not None:
            self._thread.shutdown(wait=True)
        if self._sync is not None:
            self._sync.dispose()

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            batch = self._waiting[: self.max_batch]
            del self._waiting[: self.max_batch]
            try:
                outcomes = await loop.run_in_executor(self._thread, self._read,
                                                      [key for key, _ in batch])
            except Exception as exc:  # noqa: BLE001 - no connection: every caller gets it
                outcomes = [(False, exc)] * len(batch)
            for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

    def _read(self, keys: list[Key]) -> list[tuple[bool, object]]:
        assert self._sync is not None
        outcomes: list[tuple[bool, object]] = []
        with self._sync.connect() as conn, conn.begin():
            for key in keys:
                try:
                    outcomes.append((True, M.read(conn, *key)))
                except Exception as exc:  # noqa: BLE001 - that caller gets it
                    outcomes.append((False, exc))
        return outcomes
