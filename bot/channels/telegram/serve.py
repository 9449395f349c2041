"""``serve()``: one skeleton for every library. The plain JSON ``BotAPI`` does the intake
(getMe, long polling or the webhook's set-up) and hands each update to the library as the Bot
API's JSON; the library's transport sends the answers.

``TELEGRAM_LIBRARY``: ``aiogram`` (default: the plain client sends each turn's messages, aiogram
the files and the command menu), ``ptb`` (python-telegram-bot sends everything, ``pip install
.[ptb]``) or ``botapi`` (no library: the plain client sends everything).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, MutableMapping
from typing import Any, Protocol

from bot.channels.base import ChannelError
from bot.channels.telegram.botapi import POLL_ERRORS, BotAPI, BotAPIError
from bot.channels.telegram.core import CHANNEL, MB, TelegramChannel, Transport
from bot.channels.telegram.polling import ALLOWED_UPDATES, UNAUTHORIZED, Poller, PollingStopped
from bot.channels.telegram.webhook import serve_webhook, webhook_app
from bot.config import Settings
from bot.service import Service
from bot.web.upload import UploadPage

log = logging.getLogger(__name__)


class Library(Protocol):
    name: str
    transport: Transport
    feed: Callable[[dict[str, Any]], asyncio.Future[None]]

    def attach(self, channel: TelegramChannel) -> None: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...  # before the channel drains
    async def close(self) -> None: ...  # after


class PlainLibrary:
    """No library: ``BotAPI`` sends as well."""

    name = "the plain Bot API transport"

    def __init__(self, api: BotAPI) -> None:
        self.transport = api
        self.feed = None

    def attach(self, channel: TelegramChannel) -> None:
        self.feed = channel.accept

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def close(self) -> None:
        return None


def open_library(settings: Settings, api: BotAPI) -> Library:
    assert settings.telegram_bot_token is not None
    if settings.telegram_library == "ptb":
        from bot.channels.telegram.ptb import PTBLibrary

        return PTBLibrary(settings)
    if settings.telegram_library == "botapi":
        return PlainLibrary(api)
    from bot.channels.telegram.aiogram_transport import AiogramLibrary

    return AiogramLibrary(settings.telegram_bot_token.get_secret_value(),
                          settings.telegram_api_server, local=settings.telegram_api_local,
                          fast=api)


async def serve(service: Service, settings: Settings,
                senders: MutableMapping[str, Any] | None = None,
                uploads: UploadPage | None = None) -> None:
    """Run the Telegram channel until cancelled. ``senders`` (channel name -> ``Sender``) gets
    ``"telegram"`` while the channel runs, for messages the bot sends on its own (reminders).
    ``uploads`` takes files over the download limit in the browser; the webhook server serves
    it too (without a webhook, whoever built it serves it). A channel that cannot serve raises
    ``ChannelError`` with a plain sentence."""
    assert settings.telegram_bot_token is not None
    api = BotAPI(settings.telegram_bot_token.get_secret_value(), settings.telegram_api_server,
                 local=settings.telegram_api_local)
    library = open_library(settings, api)
    channel = TelegramChannel(service, library.transport,
                              max_download=settings.telegram_max_download_mb * MB,
                              uploads=uploads, albums_in_database=not service.db.is_sqlite)
    library.attach(channel)
    try:
        try:
            me = await api.get_me()
        except BotAPIError as exc:
            if POLL_ERRORS.unauthorized(exc):
                raise ChannelError(UNAUTHORIZED) from None
            raise
        await library.start()
        if senders is not None:
            senders[CHANNEL] = channel
        log.info("Telegram: serving @%s with %s", me.get("username"), library.name)
        try:
            await channel.register_commands()
        except Exception as exc:  # noqa: BLE001 - the menu is a convenience
            log.warning("could not register the command menu: %r", exc)
        if settings.telegram_webhook_url:
            await _webhook(settings, api, library, uploads)
        else:
            await api.call("deleteWebhook", drop_pending_updates=False)
            await Poller(api.get_updates, library.feed, POLL_ERRORS,
                         timeout=settings.telegram_poll_timeout).run()
    except PollingStopped as exc:
        raise ChannelError(str(exc)) from None
    finally:
        if senders is not None and senders.get(CHANNEL) is channel:
            del senders[CHANNEL]
        await library.stop()
        await channel.drain(timeout=10)
        await library.close()
        await api.close()


async def _webhook(settings: Settings, api: BotAPI, library: Library,
                   uploads: UploadPage | None) -> None:
    secret = settings.telegram_webhook_secret
    url = settings.telegram_webhook_url
    assert secret is not None and url  # checked by Settings

    async def set_webhook() -> None:
        await api.call("setWebhook", url=url, secret_token=secret.get_secret_value(),
                       allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False)

    app = webhook_app(url, secret.get_secret_value(), library.feed)
    if uploads is not None:
        uploads.add_routes(app)
    await serve_webhook(app, settings.telegram_webhook_listen, set_webhook)
