"""Reads for the hot path (a merchant's state on a cold cache).

On SQLite the reads waiting when the reader comes free run together in one hop to its own
thread, on a ``sqlite3`` connection (WAL: readers never wait for the writer): a cold turn's
read costs one thread hop instead of several through aiosqlite for each statement, and fifty
merchants arriving at once are read in a few hops. Elsewhere each read takes a pooled
connection of the async engine, concurrently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.db import sqlite_twin
from bot.store.writer import settle

R = TypeVar("R")
Read = Callable[[Connection], Any]


class Reader:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._waiting: list[tuple[Read, asyncio.Future]] = []
        self._running: asyncio.Task | None = None
        self._sync: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None
        if engine.url.get_backend_name() == "sqlite":
            self._sync = sqlite_twin(engine)
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="reader")

    async def run(self, read: Callable[[Connection], R]) -> R:
        """``read`` with a synchronous connection; its result."""
        if self._sync is None:
            async with self.engine.connect() as conn:
                return await conn.run_sync(read)
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((read, future))
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
            batch, self._waiting = self._waiting, []
            try:
                outcomes = await loop.run_in_executor(
                    self._thread, self._in_thread, [read for read, _ in batch])
            except Exception as exc:  # noqa: BLE001 - the connection itself failed
                outcomes = [(False, exc)] * len(batch)
            settle(batch, outcomes)

    def _in_thread(self, reads: list[Read]) -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        with self._sync.connect() as conn:
            for read in reads:
                try:
                    outcomes.append((True, read(conn)))
                except Exception as exc:  # noqa: BLE001 - that caller gets it
                    outcomes.append((False, exc))
            conn.rollback()  # end the read transaction: the WAL is not held at a snapshot
        return outcomes
