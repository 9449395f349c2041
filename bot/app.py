"""Wiring: settings -> guide, database, file store, service. Used by every command."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from collections.abc import AsyncIterator

from bot.config import Settings
from bot.content import load_guide
from bot.service import Service
from bot.store.db import Database
from bot.store.files import FileStore


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@asynccontextmanager
async def open_service(settings: Settings, database_url: str | None = None
                       ) -> AsyncIterator[Service]:
    guide = load_guide()
    db = Database(database_url or settings.database_url)
    await db.migrate()
    try:
        yield Service(
            guide, db, FileStore(settings.files_dir),
            default_locale=settings.bot_default_locale, timezone=settings.bot_timezone,
        )
    finally:
        await db.close()
