"""Wiring: settings -> crypto, API client, channel, callback and upload page on one web server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import MutableMapping
from typing import Any

import aiohttp
from aiohttp import web

from bot.channels.wecom.api import WeComApi
from bot.channels.wecom.callback import CallbackApp
from bot.channels.wecom.channel import CHANNEL, WeComChannel
from bot.channels.wecom.crypto import WeComCrypto
from bot.config import Settings
from bot.service import Service
from bot.web import UPLOAD_BODY_LIMIT, UploadPage, build_upload_page

log = logging.getLogger(__name__)

API_TIMEOUT = aiohttp.ClientTimeout(total=60, connect=10)


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.strip().rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"WECOM_LISTEN must be host:port, got {listen!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def build_crypto(settings: Settings) -> WeComCrypto:
    keys = [settings.wecom_encoding_aes_key.get_secret_value()]
    previous = settings.wecom_previous_encoding_aes_key
    if previous is not None and previous.get_secret_value():
        keys.append(previous.get_secret_value())
    return WeComCrypto(settings.wecom_token.get_secret_value(), keys, settings.wecom_corp_id)


async def serve(service: Service, settings: Settings, stop: asyncio.Event | None = None,
                uploads: UploadPage | None = None,
                senders: MutableMapping[str, Any] | None = None) -> None:
    """Run the WeCom channel until ``stop`` is set (or forever). The upload page is served on
    the same web server; pass ``uploads`` to share one page with other channels. ``senders``
    (channel name -> ``bot.channels.base.Sender``) gets ``"wecom"`` while the channel runs, for
    messages the bot sends on its own (reminders)."""
    host, port = parse_listen(settings.wecom_listen)
    crypto = build_crypto(settings)
    async with aiohttp.ClientSession(timeout=API_TIMEOUT) as session:
        api = WeComApi(session, base_url=settings.wecom_api_base,
                       corp_id=settings.wecom_corp_id,
                       secret=settings.wecom_secret.get_secret_value(),
                       agent_id=int(settings.wecom_agent_id))
        if uploads is None:
            base_url = settings.bot_public_url or f"http://{settings.wecom_listen}"
            if not settings.bot_public_url:
                log.warning("BOT_PUBLIC_URL is not set: upload links point at %s", base_url)
            uploads = build_upload_page(service, settings, base_url)
        channel = WeComChannel(service, api, uploads)
        uploads.register(CHANNEL, channel.deliver)
        callback = CallbackApp(crypto, corp_id=settings.wecom_corp_id,
                               agent_id=settings.wecom_agent_id, submit=channel.submit)
        app = web.Application(client_max_size=UPLOAD_BODY_LIMIT)
        callback.add_routes(app, settings.wecom_path)
        uploads.add_routes(app)
        runner = web.AppRunner(app, access_log=None)  # paths carry upload tokens
        await runner.setup()
        if senders is not None:
            senders[CHANNEL] = channel
        try:
            await web.TCPSite(runner, host, port).start()
            log.info("wecom: listening on %s:%d, callback path %s", host, port,
                     settings.wecom_path)
            await (stop or asyncio.Event()).wait()
        finally:
            if senders is not None and senders.get(CHANNEL) is channel:
                del senders[CHANNEL]
            await channel.close()
            await uploads.close()
            await runner.cleanup()
