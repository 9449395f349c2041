"""Webhook mode: an aiohttp server that checks Telegram's secret header and answers each update
only after it was handled, so an update lost to a crash is delivered again by Telegram."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from bot.channels.telegram.incoming import update_id

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ANSWER_WITHIN = 50.0  # Telegram gives up on a webhook call after about a minute


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"TELEGRAM_WEBHOOK_LISTEN must be host:port, got {listen!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def webhook_app(url: str, secret: str,
                accept: Callable[[dict[str, Any]], asyncio.Future[None]]) -> web.Application:
    """``accept`` queues the update (the Bot API's JSON object); the call is answered once the
    returned future is done (or after a minute)."""
    expected = secret.encode()

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            log.warning("webhook call with a wrong secret token refused")
            return web.Response(status=401, text="wrong secret token")
        try:
            update = await request.json()
            number = update_id(update)
            handled = accept(update)
        except (ValueError, TypeError, KeyError, AttributeError):
            return web.Response(status=400, text="not a Telegram update")
        done, _ = await asyncio.wait([handled], timeout=ANSWER_WITHIN)
        if not done:
            log.warning("update %s still being handled; answering the webhook call", number)
        return web.json_response({})

    app = web.Application()
    app.router.add_post(urlsplit(url).path or "/", receive)
    return app


async def serve_webhook(app: web.Application, listen: str,
                        started: Callable[[], asyncio.Future] | None = None) -> None:
    """Serve until cancelled; ``started`` (e.g. setWebhook) runs once the port is open."""
    host, port = parse_listen(listen)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        log.info("Telegram webhook listening on %s:%d", host, port)
        if started is not None:
            await started()
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
