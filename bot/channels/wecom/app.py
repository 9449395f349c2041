"""Wiring: settings -> the WeCom channels (self-built app, 微信客服), their callbacks and the
upload page on one web server."""

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
from bot.channels.wecom.shared import SharedPacer, token_store
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
    """Run the configured WeCom channels until ``stop`` is set (or forever): the self-built app
    and 微信客服 (kf), each when configured, on one web server at WECOM_LISTEN with the upload
    page. Pass ``uploads`` to share one page with other channels. ``senders`` (channel name ->
    ``bot.channels.base.Sender``) gets ``"wecom"`` / ``"wecom_kf"`` while they run, for messages
    the bot sends on its own (reminders)."""
    host, port = parse_listen(settings.wecom_listen)
    async with aiohttp.ClientSession(timeout=API_TIMEOUT) as session:
        if uploads is None:
            base_url = settings.bot_public_url or f"http://{settings.wecom_listen}"
            if not settings.bot_public_url:
                log.warning("BOT_PUBLIC_URL is not set: upload links point at %s", base_url)
            uploads = build_upload_page(service, settings, base_url)
        app = web.Application(client_max_size=UPLOAD_BODY_LIMIT)
        mine: dict[str, Any] = {}
        closers = []
        if settings.wecom_configured:
            channel = mount_app(app, service, settings, session, uploads)
            mine[CHANNEL] = channel
            closers.append(channel.close)
        if settings.wecom_kf_configured:
            from bot.channels.wecom.kf.app import build_kf, mount_kf

            kf = build_kf(session, service, settings, uploads)
            mount_kf(app, kf, settings, uploads)
            mine["wecom_kf"] = kf.channel
            closers.append(kf.close)
        uploads.add_routes(app)
        runner = web.AppRunner(app, access_log=None)  # paths carry upload tokens
        await runner.setup()
        if senders is not None:
            senders.update(mine)
        try:
            await web.TCPSite(runner, host, port).start()
            paths = [p for on, p in ((settings.wecom_configured, settings.wecom_path),
                                     (settings.wecom_kf_configured, settings.wecom_kf_path))
                     if on]
            log.info("wecom: listening on %s:%d, callback path(s) %s", host, port,
                     ", ".join(paths))
            await (stop or asyncio.Event()).wait()
        finally:
            if senders is not None:
                for name, channel in mine.items():
                    if senders.get(name) is channel:
                        del senders[name]
            for close in closers:
                await close()
            await uploads.close()
            await runner.cleanup()


def mount_app(app: web.Application, service: Service, settings: Settings,
              session: aiohttp.ClientSession, uploads: UploadPage) -> WeComChannel:
    """The self-built app's callback routes on ``app``; returns its channel.

    On a database several workers can share (not SQLite's embedded file), what must hold for
    the app as a whole lives in the database: the pacing per member, the access token, and
    the inbox that keeps each member's messages in order across workers."""
    shared = not service.db.is_sqlite
    app_name = f"wecom:{settings.wecom_corp_id}:{settings.wecom_agent_id}"
    engine = service.db.engine
    api = WeComApi(session, base_url=settings.wecom_api_base, corp_id=settings.wecom_corp_id,
                   secret=settings.wecom_secret.get_secret_value(),
                   agent_id=int(settings.wecom_agent_id),
                   pacer=SharedPacer(engine, app_name) if shared else None,
                   token_store=token_store(engine, app_name, cipher=settings.cipher)
                   if shared else None)
    channel = WeComChannel(service, api, uploads, inbox=shared)
    channel.start()
    uploads.register(CHANNEL, channel.deliver)
    callback = CallbackApp(build_crypto(settings), corp_id=settings.wecom_corp_id,
                           agent_id=settings.wecom_agent_id, submit=channel.submit)
    callback.add_routes(app, settings.wecom_path)
    return channel
