"""The database handle: an async engine, SQLite tuned for durability, migrations at start-up."""

from __future__ import annotations

import logging
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
    # Transactions begin where SQLAlchemy says, not where the driver guesses: SAVEPOINTs
    # inside one transaction (the writer's group commit) need that.
    dbapi_connection.isolation_level = None


def sqlite_begin(conn: Connection) -> None:
    # The writer asks for IMMEDIATE: it takes the write lock first, so a second process waits
    # in the busy handler instead of failing when its read turns into a write.
    mode = conn.get_execution_options().get("sqlite_begin", "")
    conn.exec_driver_sql(f"BEGIN {mode}".strip())


class Database:
    def __init__(self, url: str) -> None:
        # aiosqlite's DEBUG records carry every query's parameters: the merchants' answers.
        logging.getLogger("aiosqlite").setLevel(logging.INFO)
        self.url = make_url(url)
        if self.url.get_backend_name() == "sqlite" and self.url.database:
            Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
        # hide_parameters: SQL logs and errors must never show answers (ID numbers among them)
        self.engine: AsyncEngine = create_async_engine(self.url, hide_parameters=True)
        if self.url.get_backend_name() == "sqlite":
            event.listen(self.engine.sync_engine, "connect", sqlite_pragmas)
            event.listen(self.engine.sync_engine, "begin", sqlite_begin)
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
