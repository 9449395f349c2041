"""Stored files in the database (``BOT_FILE_STORE=database``): every host that shares the
database sees every file, so /package, /delete and retention work on any of them.

``DatabaseFileStore`` keeps ``FileStore``'s interface (blocking calls, paths to read from): a
file's bytes live in the ``blobs`` table under its random storage name, and ``locate`` copies
them into this host's cache directory, after checking that the blob still exists (another host
may have deleted it). Names are random and never reused, so a cached copy is never stale.

The calls block their caller (the service runs them in threads, and after a commit); they run
on a small event loop of their own, in its own thread, so they never wait on the caller's loop.
As on disk, a blob is committed before the row that refers to it: a crash leaves at worst an
unreferenced blob, which retention removes once it is an hour old.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import create_async_engine

from bot.store.files import FileStore
from bot.store.models import Blob

T = TypeVar("T")
LOCAL, DATABASE = "local", "database"


class _LoopThread:
    """An event loop in a daemon thread; ``run`` blocks until a coroutine finished there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="blobs", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


class DatabaseFileStore(FileStore):
    def __init__(self, url: str, cache: Path) -> None:
        super().__init__(cache)
        self._loop = _LoopThread()
        self._engine = create_async_engine(url, hide_parameters=True, pool_size=2,
                                           max_overflow=2)

    def store(self, kind: str, data: bytes) -> str:
        name = self.new_name(kind)
        now = datetime.now(UTC).replace(tzinfo=None)
        self._run(self._insert(name, data, now))
        return name

    def locate(self, name: str) -> Path:
        """This host's copy of a stored file; a path that does not exist when the blob is gone."""
        path = self.path_of(name)
        data = self._run(self._fetch(name, with_data=not path.is_file()))
        if data is None:
            path.unlink(missing_ok=True)
        elif data:
            self._write(path, data)
        return path

    def remove(self, name: str) -> None:
        self._run(self._delete(name))
        self.path_of(name).unlink(missing_ok=True)  # this host's copy

    def names(self) -> Iterator[tuple[str, float]]:
        for name, created in self._run(self._names()):
            yield name, created.replace(tzinfo=UTC).timestamp()

    def close(self) -> None:
        self._run(self._engine.dispose())
        self._loop.stop()

    # -- on the store's own loop -----------------------------------------------------------
    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._loop.run(coro)

    async def _insert(self, name: str, data: bytes, now: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(insert(Blob).values(name=name, size=len(data), data=data,
                                                   created_at=now))

    async def _fetch(self, name: str, *, with_data: bool) -> bytes | None:
        """The blob's bytes (b"" when not asked for), or None when there is no such blob."""
        column = Blob.data if with_data else Blob.size
        async with self._engine.connect() as conn:
            found = (await conn.execute(select(column).where(Blob.name == name))).first()
        if found is None:
            return None
        return found[0] if with_data else b""

    async def _delete(self, name: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(Blob).where(Blob.name == name))

    async def _names(self) -> list[tuple[str, datetime]]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(Blob.name, Blob.created_at).order_by(Blob.name))
            return [(name, created) for name, created in rows]


def open_file_store(kind: str, database_url: str, root: Path) -> FileStore:
    """``local``: files under ``root``; ``database``: blobs, with ``root`` as this host's cache."""
    if kind == DATABASE:
        return DatabaseFileStore(database_url, root)
    if kind != LOCAL:
        raise ValueError(f"unknown file store {kind!r}")
    return FileStore(root)
