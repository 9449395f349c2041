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
batch turns N fsyncs into one. Consecutive jobs that can be written together (a ``many``
attribute: ``bot.store.batch.TurnWrite``) are handed over as a run, in a savepoint of their own:
one ``executemany`` per table for the run, redone job by job when anything in it fails. A job
that need not be durable at once (``run(linger=)``: a reply marked sent) waits a little for
a batch to join rather than paying a commit, and an fsync, of its own. Batched with an async
driver, every job runs on one async
connection through ``run_sync``, one commit per batch as well; on PostgreSQL, where each
savepoint is a round trip, a transaction per turn, many at once on the pool
(``batched=False``), measured faster and is what the service uses there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot import metrics
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
        self._lazy: list[tuple[Plain, asyncio.Future]] = []  # see ``run(linger=)``
        self._timer: asyncio.TimerHandle | None = None
        self._due = False
        self._running: asyncio.Task | None = None
        self._sync: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None
        if engine.url.get_backend_name() == "sqlite":
            self._sync = sqlite_twin(engine)
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="writer")
        self.batches = 0  # committed batches, for figures and tests
        self.turns = 0

    async def run(self, job: Plain, *, linger: float | None = None) -> Any:
        """Run the plain ``job`` in the next batch; its result once the batch committed.
        ``linger`` (seconds): a job that need not be durable at once (a reply marked sent)
        waits up to that long for a batch to join instead of paying a commit of its own."""
        if linger is None or not self.batched:
            return await self._submit(self._plain, job)
        future = asyncio.get_running_loop().create_future()
        self._lazy.append((job, future))
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(linger, self._linger_over)
        return await future

    async def run_async(self, job: Async) -> Any:
        return await self._submit(self._async, job)

    async def close(self) -> None:
        """Commit what is still lingering, then let the thread and its connection go."""
        if self._timer is not None:
            self._timer.cancel()
        if self._lazy:
            self._linger_over()
        if self._running is not None and not self._running.done():
            await asyncio.wait([self._running])
        if self._thread is not None:
            self._thread.shutdown(wait=True)
        if self._sync is not None:
            self._sync.dispose()

    async def _submit(self, queue: list, job) -> Any:
        if not self.batched:
            async with self.engine.begin() as conn:
                done = await (job(conn) if queue is self._async else conn.run_sync(job))
            metrics.BATCH_SIZE.observe(1)  # its own transaction, committed
            return done
        future = asyncio.get_running_loop().create_future()
        queue.append((job, future))
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._drain())
        return await future

    def _linger_over(self) -> None:
        self._timer = None
        self._due = True  # the lingering jobs go with the next batch, alone if need be
        if self._lazy and (self._running is None or self._running.done()):
            self._running = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        while self._plain or self._async or (self._lazy and self._due):
            if self._lazy:  # they ride along with whatever commits next
                self._plain[:0], self._lazy = self._lazy, []
                self._due = False
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
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
            metrics.BATCH_SIZE.observe(len(batch))
        settle(batch, outcomes)

    async def _in_thread(self, batch: list[tuple[Plain, asyncio.Future]]) -> list:
        jobs = [job for job, _ in batch]
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._plain_batch, jobs)

    def _plain_batch(self, jobs: list[Plain]) -> list[tuple[bool, Any]]:
        # Jobs that may run anywhere in their batch (``anywhere``: marks of replies sent,
        # whose turns committed before) go first, together; the rest keep their order.
        order = sorted(range(len(jobs)), key=lambda i: not getattr(jobs[i], "anywhere", False))
        outcomes: list[tuple[bool, Any]] = []
        with self._sync.connect() as conn:
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                for many, run in _runs([jobs[i] for i in order]):
                    if many is not None and len(run) > 1:
                        done = _together(conn, many, run)
                        if done is not None:
                            outcomes += [(True, value) for value in done]
                            continue
                    outcomes += [_alone(conn, job) for job in run]
        placed: list[tuple[bool, Any]] = [(False, None)] * len(jobs)
        for i, outcome in zip(order, outcomes, strict=True):
            placed[i] = outcome
        return placed

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


def _runs(jobs: list[Plain]) -> Iterator[tuple[Callable | None, list[Plain]]]:
    """Consecutive jobs that can be written together (the same ``many``), in order: a run
    keeps the order of the ids its rows get."""
    run: list[Plain] = []
    kind = None
    for job in jobs:
        many = getattr(job, "many", None)
        if run and (many is None or many is not kind):
            yield kind, run
            run = []
        kind = many
        run.append(job)
    if run:
        yield kind, run


def _together(conn: Connection, many: Callable, run: list[Plain]) -> list | None:
    """The run in one savepoint with its ``many``; None (rolled back) when any of it failed:
    then each job is done alone and only the failing ones' callers get an error."""
    conn.exec_driver_sql("SAVEPOINT run")
    try:
        done = many(conn, run)
    except Exception as exc:  # noqa: BLE001 - redone one by one below
        conn.exec_driver_sql("ROLLBACK TO SAVEPOINT run")
        log.debug("a run of %d turns is redone turn by turn: %s", len(run),
                  type(exc).__name__)
        done = None
    conn.exec_driver_sql("RELEASE SAVEPOINT run")
    return done


def _alone(conn: Connection, job: Plain) -> tuple[bool, Any]:
    # The savepoint by hand: SQLAlchemy's nested transaction object costs more than the
    # turn's own statements here.
    conn.exec_driver_sql("SAVEPOINT turn")
    try:
        outcome = (True, job(conn))
    except Exception as exc:  # noqa: BLE001 - that caller gets it
        conn.exec_driver_sql("ROLLBACK TO SAVEPOINT turn")
        outcome = (False, exc)
    conn.exec_driver_sql("RELEASE SAVEPOINT turn")
    return outcome


def _on_async(job: Plain) -> Async:
    async def run(conn: AsyncConnection) -> Any:
        return await conn.run_sync(job)

    return run


def settle(waiting: list[tuple[Any, asyncio.Future]], outcomes: list[tuple[bool, Any]]) -> None:
    """Hand each waiting caller its outcome, ``(True, value)`` or ``(False, exception)``, in
    order (one whose future was cancelled meanwhile gets nothing)."""
    for (_, future), (ok, value) in zip(waiting, outcomes, strict=True):
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
