"""Wiring: settings -> guide, database, file store, service. Used by every command."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, TextIO

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot import logs, metrics
from bot.channels.base import Sender
from bot.config import Settings
from bot.content import load_guide
from bot.documents import install as install_documents
from bot.engine.messages import Msg
from bot.engine.model import Event
from bot.handoff import install as install_handoff
from bot.license import install as install_license
from bot.reminders.commands import install as install_reminders
from bot.reminders.delivery import ConsoleSender
from bot.reminders.timing import from_settings as timing_from
from bot.reminders.worker import Worker, WorkerConfig
from bot.service import Result, Service, image_pool
from bot.startup import StartupError
from bot.store.blobs import open_file_store
from bot.store.db import Database

# Channels whose messages cannot carry buttons: choices are offered as typed commands there.
TEXT_ONLY_CHANNELS = frozenset({"wecom"})
log = logging.getLogger("bot")


def has_buttons(channel: str) -> bool:
    return channel not in TEXT_ONLY_CHANNELS


def configure_logging(level: str, fmt: str = "text") -> None:
    """``fmt``: ``text`` (lines) or ``json`` (one object a line); see ``bot.logs``."""
    logs.configure(level, fmt)


class MeteredService(Service):
    """The service, counted for ``/metrics``: events by outcome, their latency, in flight."""

    async def handle(self, channel: str, user_key: str, event: Event, **options: Any) -> Result:
        metrics.QUEUE_DEPTH.inc()
        started, outcome = time.perf_counter(), "failed"
        try:
            result = await super().handle(channel, user_key, event, **options)
            outcome = "duplicate" if result.duplicate else "applied"
            return result
        finally:
            metrics.QUEUE_DEPTH.dec()
            metrics.labelled(metrics.TURNS, channel, outcome).inc()
            seconds = time.perf_counter() - started
            metrics.labelled(metrics.TURN_SECONDS, channel).observe(seconds)


def settle_heap() -> None:
    """Once start-up is done: collect, then freeze what is left (the guide, the catalogs, the
    modules, SQLAlchemy's metadata) out of the cyclic collector's reach. A full collection
    then scans only what was made since, instead of pausing every merchant in flight for
    about 150 ms to walk objects that live as long as the process."""
    gc.collect()
    gc.freeze()


async def until_stopped(work: Awaitable[Any]) -> None:
    """Run ``work`` (the servers) until it ends or SIGTERM / SIGINT arrives. Then it is
    cancelled: each server stops taking new updates and, in its ``finally``, finishes the
    turns it holds; this returns once they are done (so the process exits 0)."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    # A server may end the process (SystemExit with a plain sentence): asyncio then stops at
    # once, before anyone reads the outcome; read it here, or asyncio logs a traceback.
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        stopping.cancel()
    if task.done():
        task.result()  # the servers ended on their own: their error, if any, goes on
        return
    log.info("stopping: no new updates; finishing the turns in flight")
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        if not stop.is_set():
            raise


def console_url(settings: Settings) -> str | None:
    """Where staff open the console (links in alerts): BOT_ADMIN_LISTEN as an http URL."""
    return f"http://{settings.bot_admin_listen}" if settings.bot_admin_listen else None


@asynccontextmanager
async def open_service(settings: Settings, database_url: str | None = None,
                       senders: dict[str, Sender] | None = None) -> AsyncIterator[Service]:
    """``senders``: the registry the license reader's replies go out through (none: they are
    applied to the conversation but not sent, as in the JSON console)."""
    guide = load_guide()
    db = await open_database(settings, database_url)
    url = database_url or settings.database_url
    files = open_file_store(settings.file_store_for(url), url, settings.files_dir)
    pixels = image_pool()
    try:
        service = MeteredService(
            guide, db, files,
            default_locale=settings.bot_default_locale, timezone=settings.bot_timezone,
            pool=pixels,
        )
        install_reminders(service, timing_from(settings), buttons=has_buttons)
        install_documents(service, settings)
        desk = install_handoff(
            service, hours=settings.bot_team_hours, team_locale=settings.bot_default_locale,
            realert_after=timedelta(minutes=settings.bot_handoff_realert_minutes),
            console_url=console_url(settings))
        license_desk = install_license(service, settings, senders if senders is not None else {})
        try:
            async with staff_robot(service, settings) as robot:
                if robot is not None:  # handoff alerts from every channel, to the staff group
                    desk.add_listener(lambda alert: robot.alert("handoff", alert.markdown))
                yield service
        finally:
            if license_desk is not None:
                await license_desk.close()
            await service.close()
    finally:
        pixels.shutdown(wait=False, cancel_futures=True)
        await asyncio.to_thread(files.close)
        await db.close()


@asynccontextmanager
async def staff_robot(service: Service, settings: Settings) -> AsyncIterator[Any]:
    """The WeCom group robot when WECOM_ROBOT_KEY is set (with or without 微信客服), started,
    as ``service.desks["robot"]``; the kf channel uses this one too."""
    if not settings.wecom_robot:
        yield None
        return
    import aiohttp

    from bot.channels.wecom.app import API_TIMEOUT
    from bot.channels.wecom.kf.app import build_robot
    from bot.store.kf import KfStore

    async with aiohttp.ClientSession(timeout=API_TIMEOUT) as http:
        robot = build_robot(http, service, settings, KfStore(service.db))
        robot.start()
        service.desks["robot"] = robot
        try:
            yield robot
        finally:
            service.desks.pop("robot", None)
            await robot.close()


async def open_database(settings: Settings, database_url: str | None = None) -> Database:
    """The migrated database; one that cannot be opened stops start-up naming its setting."""
    source = ("--db" if database_url else
              "BOT_DATABASE_URL" if settings.bot_database_url else "BOT_DATA_DIR")
    url = database_url or settings.database_url
    try:
        settings.bot_data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # owner only
    except OSError as exc:
        raise StartupError(f"BOT_DATA_DIR: could not create {settings.bot_data_dir} ({exc}); "
                           "set it to a directory this user may write.") from exc
    db: Database | None = None
    try:
        db = Database(url)
        await db.migrate()
    except (OSError, ImportError, SQLAlchemyError, TimeoutError) as exc:
        if db is not None:
            await db.close()
        reason = getattr(exc, "orig", None) or exc
        raise StartupError(
            f"{source}: could not open the database {make_url(url)!r} ({reason}); check that "
            "the server runs and accepts this URL, or that the directory is writable.") from exc
    return db


KEYGEN = (f'{sys.executable} -c "from cryptography.fernet import Fernet; '
          'print(Fernet.generate_key().decode())"')  # this interpreter has cryptography
UNENCRYPTED = Msg(
    "BOT_ENCRYPTION_KEY is not set: ID and passport numbers are stored unencrypted. To encrypt "
    "them, set it to a key printed by: {command}",
    command=KEYGEN)


def encrypted(settings: Settings) -> bool:
    key = settings.bot_encryption_key
    return key is not None and bool(key.get_secret_value().strip())


def warn_unencrypted(settings: Settings) -> None:
    """Said once at start-up (the interactive console says it in the chat instead)."""
    if not encrypted(settings):
        log.warning(UNENCRYPTED.msgid.format(**UNENCRYPTED.params))


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
        # bounded: a pass cancelled inside a database call must not hold up shutdown
        await asyncio.wait([task], timeout=10)
