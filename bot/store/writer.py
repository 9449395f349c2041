"""One writer with group commit.

Every turn is a job: an async function of the writer's connection. All jobs waiting when the
writer comes free go into one transaction, each in its own SAVEPOINT (a job that fails is rolled
back alone and its caller gets the error), and one commit. A job's caller gets its result only
after that commit: replies are never released for a turn that is not durable.

SQLite has one writer per file anyway; one batch per commit turns N fsyncs into one. PostgreSQL
takes the same batches (one round trip per statement, one commit per batch), which on one
connection measured faster than one transaction per turn on a pool for the bench's load.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

Job = Callable[[AsyncConnection], Awaitable[Any]]


class Writer:
    def __init__(self, engine: AsyncEngine, *, max_batch: int = 256) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._waiting: list[tuple[Job, asyncio.Future]] = []
        self._running: asyncio.Task | None = None
        self.batches = 0  # committed batches, for figures and tests
        self.last_batch = 0

    async def submit(self, job: Job) -> Any:
        """Run ``job`` in the next batch; return its result once the batch has committed."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((job, future))
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._waiting:
            batch = self._waiting[: self.max_batch]
            del self._waiting[: self.max_batch]
            await self._run(batch)

    async def _run(self, batch: list[tuple[Job, asyncio.Future]]) -> None:
        done: list[tuple[asyncio.Future, Any]] = []
        failed: list[tuple[asyncio.Future, BaseException]] = []
        try:
            async with self.engine.connect() as conn:
                await conn.execution_options(sqlite_begin="IMMEDIATE")
                async with conn.begin():
                    for job, future in batch:
                        try:
                            async with conn.begin_nested():
                                done.append((future, await job(conn)))
                        except Exception as exc:  # noqa: BLE001 - that caller gets it
                            failed.append((future, exc))
        except Exception as exc:  # noqa: BLE001 - the commit failed: no job is durable
            log.warning("a batch of %d turns did not commit: %s", len(batch), type(exc).__name__)
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self.batches += 1
        self.last_batch = len(batch)
        for future, result in done:
            if not future.done():
                future.set_result(result)
        for future, exc in failed:
            if not future.done():
                future.set_exception(exc)
