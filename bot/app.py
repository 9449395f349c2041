"""Wiring: settings -> guide, database, file store, service. Used by every command."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, TextIO

from bot.channels.base import Sender
from bot.config import Settings
from bot.content import load_guide
from bot.documents import install as install_documents
from bot.reminders.commands import install as install_reminders
from bot.reminders.delivery import ConsoleSender
from bot.reminders.timing import from_settings as timing_from
from bot.reminders.worker import Worker, WorkerConfig
from bot.service import Service, image_pool
from bot.store.db import Database
from bot.store.files import FileStore

# Channels whose messages cannot carry buttons: choices are offered as typed commands there.
TEXT_ONLY_CHANNELS = frozenset({"wecom"})


def has_buttons(channel: str) -> bool:
    return channel not in TEXT_ONLY_CHANNELS


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
    pixels = image_pool()
    try:
        service = Service(
            guide, db, FileStore(settings.files_dir),
            default_locale=settings.bot_default_locale, timezone=settings.bot_timezone,
            pool=pixels,
        )
        install_reminders(service, timing_from(settings), buttons=has_buttons)
        install_documents(service, settings)
        yield service
        await service.close()
    finally:
        pixels.shutdown(wait=False, cancel_futures=True)
        await db.close()


def build_senders(settings: Settings, console: TextIO | None = None,
                  console_buttons: bool = True) -> dict[str, Sender]:
    """Channel name -> the sender that reaches its merchants unprompted (reminders).
    ``console``: where the console's reminders appear (none: the worker's report line)."""
    senders: dict[str, Sender] = {"console": ConsoleSender(console, buttons=console_buttons)}
    # Telegram and WeCom add theirs while they run: their serve() gets this dict (`run`).
    return senders


def reminder_worker(service: Service, settings: Settings, senders: dict[str, Sender],
                    report: Callable[[dict[str, Any]], None] | None = None) -> Worker:
    config = WorkerConfig(
        timing=timing_from(settings),
        lease=timedelta(seconds=settings.bot_reminder_lease),
        max_attempts=settings.bot_reminder_attempts,
        poll=settings.bot_reminder_poll,
        buttons=has_buttons,
    )
    return Worker(service.db, service.guide.render, senders, config, report)


@asynccontextmanager
async def running_reminders(service: Service, settings: Settings,
                            senders: dict[str, Sender]) -> AsyncIterator[Worker]:
    """The reminder worker's loop as a background task for as long as the block runs."""
    worker = reminder_worker(service, settings, senders)
    task = asyncio.create_task(worker.loop(service.clock), name="reminders")
    try:
        yield worker
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
