"""One writer with group commit.

Every turn is a job. All jobs waiting when the writer comes free go into one transaction, each
in its own SAVEPOINT (a job that fails is rolled back alone and its caller gets the error), and
one commit. A job's caller gets its result only after that commit: replies are never released
for a turn that is not durable.

Two kinds of job: a *plain* job is a function of a synchronous ``Connection`` (the hot path:
Core statements only); an *async* job is a coroutine function of an ``AsyncConnection`` (a
plugin's ORM work, rare). On SQLite the plain jobs of a batch run in one hop to the writer's
own thread on a ``sqlite3`` connection: a statement costs microseconds there, against several
thread hops each through aiosqlite, and SQLite has one writer per file anyway; one commit per
batch turns N fsyncs into one. Batched with an async driver, every job runs on one async
connection through ``run_sync``, one commit per batch as well; on PostgreSQL, where each
savepoint is a round trip, a transaction per turn, many at once on the pool
(``batched=False``), measured faster and is what the service uses there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.store.db import sqlite_twin

log = logging.getLogger(__name__)

Plain = Callable[[Connection], Any]
Async = Callable[[AsyncConnection], Awaitable[Any]]


class Writer:
    def __init__(self, engine: AsyncEngine, *, max_batch: int = 256,
                 batched: bool = True) -> None:
        """``batched=False``: every job in a transaction of its own on a pooled connection,
        concurrently (a database with many writers); kept to measure against batching."""
        self.engine = engine
        self.max_batch = max_batch
        self.batched = batched
        self._plain: list[tuple[Plain, asyncio.Future]] = []
        self._async: list[tuple[Async, asyncio.Future]] = []
        self._running: asyncio.Task | None = None
        self._linger: asyncio.TimerHandle | None = None  # lingering jobs' own batch, later
        self._sync: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None
        if engine.url.get_backend_name() == "sqlite":
            self._sync = sqlite_twin(engine)
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="writer")
        self.batches = 0  # committed batches, for figures and tests
        self.turns = 0

    async def run(self, job: Plain, *, linger: float = 0.0) -> Any:
        """Run the plain ``job`` in the next batch; its result once the batch committed.
        ``linger``: a job that can wait (seconds) does not start a batch of its own: it
        rides along with the next one, or commits alone when none came by then (one fsync
        saved, e.g. for the marks of replies sent)."""
        if linger > 0 and self.batched:
            future = asyncio.get_running_loop().create_future()
            self._plain.append((job, future))
            if self._linger is None and (self._running is None or self._running.done()):
                self._linger = asyncio.get_running_loop().call_later(linger, self._start)
            return await future
        return await self._submit(self._plain, job)

    async def run_async(self, job: Async) -> Any:
        return await self._submit(self._async, job)

    async def close(self) -> None:
        self._start()  # jobs still lingering
        if self._running is not None:
            await asyncio.gather(self._running, return_exceptions=True)
        if self._thread is not None:
            self._thread.shutdown(wait=True)
        if self._sync is not None:
            self._sync.dispose()

    async def _submit(self, queue: list, job) -> Any:
        if not self.batched:
            async with self.engine.begin() as conn:
                return await (job(conn) if queue is self._async else conn.run_sync(job))
        future = asyncio.get_running_loop().create_future()
        queue.append((job, future))
        self._start()
        return await future

    def _start(self) -> None:
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        if (self._plain or self._async) and (self._running is None or self._running.done()):
            self._running = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        while self._plain or self._async:
            plain, self._plain = self._plain[: self.max_batch], self._plain[self.max_batch:]
            if plain and self._sync is not None:
                await self._commit(plain, self._in_thread)
            elif plain:
                self._async[:0] = [(_on_async(job), future) for job, future in plain]
            if self._async:
                batch = self._async[: self.max_batch]
                del self._async[: self.max_batch]
                await self._commit(batch, self._on_connection)

    async def _commit(self, batch, run) -> None:
        try:
            outcomes = await run(batch)
        except Exception as exc:  # noqa: BLE001 - the commit failed: no job is durable
            log.warning("a batch of %d turns did not commit: %s", len(batch), type(exc).__name__)
            outcomes = [(False, exc)] * len(batch)
        else:
            self.batches += 1
            self.turns += len(batch)
        for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    async def _in_thread(self, batch: list[tuple[Plain, asyncio.Future]]) -> list:
        jobs = [job for job, _ in batch]
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._plain_batch, jobs)

    def _plain_batch(self, jobs: list[Plain]) -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        with self._sync.connect() as conn:
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                # The savepoint by hand, on the driver: SQLAlchemy's nested transaction
                # object costs more than the turn's own statements here.
                raw = conn.connection.driver_connection
                for job in jobs:
                    raw.execute("SAVEPOINT turn")
                    try:
                        outcomes.append((True, job(conn)))
                    except Exception as exc:  # noqa: BLE001 - that caller gets it
                        raw.execute("ROLLBACK TO SAVEPOINT turn")
                        outcomes.append((False, exc))
                    raw.execute("RELEASE SAVEPOINT turn")
        return outcomes

    async def _on_connection(self, batch: list[tuple[Async, asyncio.Future]]) -> list:
        outcomes: list[tuple[bool, Any]] = []
        async with self.engine.connect() as conn:
            await conn.execution_options(sqlite_begin="IMMEDIATE")
            async with conn.begin():
                for job, _ in batch:
                    try:
                        async with conn.begin_nested():
                            outcomes.append((True, await job(conn)))
                    except Exception as exc:  # noqa: BLE001 - that caller gets it
                        outcomes.append((False, exc))
        return outcomes


def _on_async(job: Plain) -> Async:
    async def run(conn: AsyncConnection) -> Any:
        return await conn.run_sync(job)

    return run
