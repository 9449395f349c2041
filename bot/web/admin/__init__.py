"""The operator console: the service team's web pages beside the bot (``BOT_ADMIN_LISTEN``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from bot.config import Settings
from bot.handoff import Handoffs, installed
from bot.service import Service
from bot.web.admin.app import Console
from bot.web.admin.site import make_app

log = logging.getLogger(__name__)


def build_console(service: Service, settings: Settings) -> Console:
    desk = installed(service)
    if desk is None:
        raise RuntimeError("the console needs the handoff plugin installed (bot.app)")
    secure = bool(settings.bot_public_url and settings.bot_public_url.startswith("https://"))
    return Console(service, desk, secure_cookie=secure, timezone=settings.bot_timezone,
                   session_hours=settings.bot_admin_session_hours)


def split_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.strip().rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"BOT_ADMIN_LISTEN must be host:port, got {listen!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


@asynccontextmanager
async def serving_console(service: Service, settings: Settings,
                          senders: MutableMapping[str, Any]) -> AsyncIterator[Console | None]:
    """The console on BOT_ADMIN_LISTEN (None when that is empty or cannot listen) and the
    watch that alerts staff again about merchants left waiting. Replies reach merchants through
    ``senders``, the registry the channels fill as they start."""
    desk: Handoffs | None = installed(service)
    watch = None
    if desk is not None:
        desk.senders = senders
        watch = asyncio.create_task(desk.watch(), name="handoff-watch")
    runner = None
    console = None
    try:
        if settings.bot_admin_listen:
            console = build_console(service, settings)
            host, port = split_listen(settings.bot_admin_listen)
            runner = web.AppRunner(make_app(console), access_log=None)
            await runner.setup()
            try:
                await web.TCPSite(runner, host, port).start()
                log.info("console: listening on %s", settings.bot_admin_listen)
            except OSError as exc:
                log.error("console: cannot listen on %s (%s)", settings.bot_admin_listen, exc)
                console = None
        yield console
    finally:
        if watch is not None:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
        if desk is not None:
            await desk.close()
        if runner is not None:
            await runner.cleanup()


__all__ = ["Console", "build_console", "serving_console"]
