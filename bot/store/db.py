"""The database handle: an async engine, SQLite tuned for durability, migrations at start-up.

``BOT_DATABASE_URL`` picks the backend: SQLite (``sqlite+aiosqlite:///...``, the embedded
default) or PostgreSQL (``postgresql+asyncpg://user:password@host/db``) for several workers.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import orjson
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

MIGRATIONS = Path(__file__).with_name("migrations")
# pg_advisory_xact_lock key of the schema upgrade (any constant the application owns).
MIGRATION_LOCK = 0x6A6F_6E65_7773
MIGRATION_WAIT_MS = 120_000  # SQLite: how long a starting worker waits for another's upgrade


def json_text(value: object) -> str:
    """JSON columns as UTF-8 text, compact: the replies and answers are mostly Chinese, which
    the stdlib's default escapes to six bytes a character (twice the UTF-8). orjson writes the
    same text as ``json.dumps(ensure_ascii=False, separators=(",", ":"))`` at a sixth of the
    cost, and a turn writes three such values. Rows stored either way read back the same."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # First: N workers opening a new file at once queue on its locks instead of failing.
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # a turn the merchant saw answered is on disk
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    # Transactions begin where SQLAlchemy says, not where the driver guesses: SAVEPOINTs
    # inside one transaction (the writer's group commit) need that.
    dbapi_connection.isolation_level = None


def sqlite_begin(conn: Connection) -> None:
    # The writer asks for IMMEDIATE: it takes the write lock first, so a second process waits
    # in the busy handler instead of failing when its read turns into a write.
    mode = conn.get_execution_options().get("sqlite_begin", "")
    conn.exec_driver_sql(f"BEGIN {mode}".strip())


def sqlite_twin(engine: AsyncEngine) -> Engine:
    """A synchronous engine on the same SQLite file, with the same pragmas: the writer's and
    the reader's own connections, used from their threads."""
    url = engine.url.set(drivername="sqlite+pysqlite")
    sync = create_engine(url, hide_parameters=True, json_serializer=json_text,
                         json_deserializer=orjson.loads)
    event.listen(sync, "connect", sqlite_pragmas)
    event.listen(sync, "begin", sqlite_begin)
    return sync


def private_file(path: Path) -> None:
    """Create the database file (and its directory) readable by the owner only: it holds the
    merchants' answers. SQLite gives its -wal and -shm files the same mode. An existing file
    keeps the mode its owner chose."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass  # an empty file is an empty SQLite database, so creating it first is harmless


def _autocommit_driver(dbapi_connection, _record) -> None:
    # pysqlite would run DDL outside any transaction; let SQLAlchemy's BEGIN decide instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={MIGRATION_WAIT_MS}")
    cursor.close()


def _begin_exclusive(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN EXCLUSIVE")


class Database:
    def __init__(self, url: str) -> None:
        # aiosqlite's DEBUG records carry every query's parameters: the merchants' answers.
        logging.getLogger("aiosqlite").setLevel(logging.INFO)
        self.url = make_url(url)
        database = self.url.database if self.is_sqlite else None
        if database and database != ":memory:" and not database.startswith("file:"):
            private_file(Path(database))
        # hide_parameters: SQL logs and errors must never show answers (ID numbers among them)
        self.engine: AsyncEngine = create_async_engine(self.url, hide_parameters=True,
                                                       json_serializer=json_text,
                                                       json_deserializer=orjson.loads)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", sqlite_pragmas)
            event.listen(self.engine.sync_engine, "begin", sqlite_begin)
        # On SQLite an ORM session takes the write lock when it begins: one that read first and
        # then wrote would fail at once ("database is locked") when the writer committed
        # between, instead of waiting its turn in the busy handler.
        bind = self.engine.execution_options(sqlite_begin="IMMEDIATE") if self.is_sqlite \
            else self.engine
        self.session = async_sessionmaker(bind, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    async def migrate(self) -> None:
        """Create or upgrade the schema to the newest migration, under a lock, so that workers
        starting together on an empty database wait for the first one's upgrade."""
        if self.is_sqlite:
            await self._migrate_sqlite()
            return
        async with self.engine.begin() as conn:
            if self.dialect == "postgresql":  # held until this transaction ends
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": MIGRATION_LOCK})
            await conn.run_sync(_upgrade)

    async def _migrate_sqlite(self) -> None:
        # One transaction, BEGIN EXCLUSIVE: SQLite's DDL is transactional, the others wait.
        engine = create_async_engine(self.url, hide_parameters=True, poolclass=NullPool)
        event.listen(engine.sync_engine, "connect", _autocommit_driver)
        event.listen(engine.sync_engine, "begin", _begin_exclusive)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(_upgrade)
        finally:
            await engine.dispose()
        async with self.engine.connect() as conn:  # WAL and the rest, on the upgraded file
            await conn.exec_driver_sql("SELECT 1")

    async def current_revision(self) -> tuple[str | None, str | None]:
        """(the database's revision, the code's head); raises when the database is down."""
        async with self.engine.connect() as conn:
            current = await conn.run_sync(
                lambda c: MigrationContext.configure(c).get_current_revision())
        return current, _script().get_current_head()

    async def close(self) -> None:
        await self.engine.dispose()


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def _upgrade(connection: Connection) -> None:
    config = _config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
