"""The database every test runs on: ``BOT_TEST_DATABASE_URL`` picks it.

- unset: a SQLite file in the test's ``tmp_path`` (the embedded default);
- ``postgresql+asyncpg://user:password@host:port/db``: a fresh database per test, copied
  (``CREATE DATABASE ... TEMPLATE``) from one migrated once per run, and dropped afterwards.
  The role needs CREATEDB and pg_signal_backend (to drop a copy a test left connected), or
  SUPERUSER; the database in the URL is only where the copies are made from.

Tests read the database through its URL (``read``), never through a file.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

ENV = "BOT_TEST_DATABASE_URL"

# The bot processes the tests start read license scans only where a test asks for it: the
# synthetic scans of other tests carry no text, and a reader process per test costs time.
os.environ.setdefault("BOT_LICENSE_OCR", "off")


def configured_url() -> URL | None:
    value = os.environ.get(ENV, "").strip()
    return make_url(value) if value else None


def on_postgresql() -> bool:
    url = configured_url()
    return url is not None and url.get_backend_name() == "postgresql"


def blocking(coro_fn, *args):
    """Run ``coro_fn(*args)`` to completion on a loop of its own, in a thread of its own, so
    that sync and async tests alike can call it (a test's own loop may be running)."""
    box: dict = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro_fn(*args))
        except BaseException as exc:  # noqa: BLE001 (handed to the caller)
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


async def _execute(url: URL, statements: list[str]) -> None:
    engine = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def _read(url: str, sql: str, params: dict) -> list[tuple]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return [tuple(row) for row in (await conn.execute(text(sql), params)).all()]
    finally:
        await engine.dispose()


def read(url: str, sql: str, **params) -> list[tuple]:
    """Rows of ``sql`` (``:name`` parameters) from the database at ``url``."""
    return blocking(_read, url, sql, params)


async def _write(url: str, sql: str, params: dict) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(sql), params)
    finally:
        await engine.dispose()


def write(url: str, sql: str, **params) -> None:
    """Run ``sql`` (``:name`` parameters) on the database at ``url`` and commit it."""
    blocking(_write, url, sql, params)


async def _migrate(url: str) -> None:
    from bot.store.db import Database

    db = Database(url)
    try:
        await db.migrate()
    finally:
        await db.close()


class PostgresDatabases:
    """A migrated template and a copy of it per test."""

    def __init__(self, admin: URL) -> None:
        self.admin = admin
        self.prefix = f"bot_test_{os.getpid()}_{secrets.token_hex(3)}"
        self.template = f"{self.prefix}_template"
        self.count = 0
        blocking(_execute, admin, [f'CREATE DATABASE "{self.template}"'])
        blocking(_migrate, self.url_of(self.template))

    def url_of(self, name: str) -> str:
        return self.admin.set(database=name).render_as_string(hide_password=False)

    def fresh(self) -> tuple[str, str]:
        self.count += 1
        name = f"{self.prefix}_{self.count}"
        blocking(_execute, self.admin, [f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'])
        return name, self.url_of(name)

    def drop(self, name: str) -> None:
        blocking(_execute, self.admin, [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'])


@pytest.fixture(scope="session")
def _postgres() -> Iterator[PostgresDatabases | None]:
    url = configured_url()
    if url is None or url.get_backend_name() != "postgresql":
        yield None
        return
    databases = PostgresDatabases(url)
    yield databases
    databases.drop(databases.template)


@pytest.fixture
def database_url(_postgres, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database of its own (already migrated on PostgreSQL: ``migrate``
    then finds nothing to do, as at any restart)."""
    if _postgres is None:
        url = configured_url()
        if url is not None:  # another SQLite location is not a thing to share between tests
            raise pytest.UsageError(f"{ENV}: only PostgreSQL URLs are supported")
        yield f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
        return
    name, url = _postgres.fresh()
    yield url
    _postgres.drop(name)


@pytest.fixture
def empty_database_url(_postgres, tmp_path: Path) -> Iterator[str]:
    """A URL to a database without any table (not even migrated)."""
    if _postgres is None:
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"{_postgres.prefix}_empty_{secrets.token_hex(3)}"
    blocking(_execute, _postgres.admin, [f'CREATE DATABASE "{name}"'])
    yield _postgres.url_of(name)
    _postgres.drop(name)
