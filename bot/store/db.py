"""The database handle: an async engine, SQLite tuned for durability, migrations at start-up."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

MIGRATIONS = Path(__file__).with_name("migrations")


def sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # a turn the merchant saw answered is on disk
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def private_file(path: Path) -> None:
    """Create the database file (and its directory) readable by the owner only: it holds the
    merchants' answers. SQLite gives its -wal and -shm files the same mode. An existing file
    keeps the mode its owner chose."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass  # an empty file is an empty SQLite database, so creating it first is harmless


class Database:
    def __init__(self, url: str) -> None:
        # aiosqlite's DEBUG records carry every query's parameters: the merchants' answers.
        logging.getLogger("aiosqlite").setLevel(logging.INFO)
        self.url = make_url(url)
        database = self.url.database if self.url.get_backend_name() == "sqlite" else None
        if database and database != ":memory:" and not database.startswith("file:"):
            private_file(Path(database))
        # hide_parameters: SQL logs and errors must never show answers (ID numbers among them)
        self.engine: AsyncEngine = create_async_engine(self.url, hide_parameters=True)
        if self.url.get_backend_name() == "sqlite":
            event.listen(self.engine.sync_engine, "connect", sqlite_pragmas)
        self.session = async_sessionmaker(self.engine, expire_on_commit=False)

    async def migrate(self) -> None:
        """Create or upgrade the schema to the newest migration."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade)

    async def close(self) -> None:
        await self.engine.dispose()


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
