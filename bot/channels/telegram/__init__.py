"""The Telegram channel: ``serve(service, settings)`` runs it with aiogram (or, when
``TELEGRAM_LIBRARY=ptb``, with python-telegram-bot), by long polling or by webhook."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

from aiogram.exceptions import TelegramUnauthorizedError
from aiogram.types import Update

from bot.channels.telegram.aiogram_transport import (
    POLL_ERRORS,
    AiogramTransport,
    fetcher,
    make_bot,
)
from bot.channels.telegram.core import CHANNEL, MB, TelegramChannel
from bot.channels.telegram.polling import UNAUTHORIZED, Poller, PollingStopped
from bot.channels.telegram.webhook import serve_webhook, webhook_app
from bot.config import Settings
from bot.service import Service
from bot.web.upload import UploadPage

__all__ = ["CHANNEL", "TelegramChannel", "serve"]

log = logging.getLogger(__name__)


async def serve(service: Service, settings: Settings,
                senders: MutableMapping[str, Any] | None = None,
                uploads: UploadPage | None = None) -> None:
    """Run the Telegram channel until cancelled. ``senders`` (channel name -> ``Sender``) gets
    ``"telegram"`` while the channel runs, for messages the bot sends on its own (reminders).
    ``uploads`` takes files over the download limit in the browser; the webhook server serves
    it too (without a webhook, whoever built it serves it)."""
    if settings.telegram_library == "ptb":
        from bot.channels.ptb import serve as serve_ptb

        await serve_ptb(service, settings, senders, uploads)
        return
    assert settings.telegram_bot_token is not None
    bot = make_bot(settings.telegram_bot_token.get_secret_value(), settings.telegram_api_server,
                   local=settings.telegram_api_local)
    channel = TelegramChannel(service, AiogramTransport(bot),
                              max_download=settings.telegram_max_download_mb * MB,
                              uploads=uploads)
    if senders is not None:
        senders[CHANNEL] = channel
    try:
        try:
            me = await bot.get_me()
        except TelegramUnauthorizedError as exc:
            raise PollingStopped(UNAUTHORIZED) from exc
        log.info("Telegram: serving @%s with aiogram", me.username)
        try:
            await channel.register_commands()
        except Exception as exc:  # noqa: BLE001 - the menu is a convenience
            log.warning("could not register the command menu: %r", exc)
        if settings.telegram_webhook_url:
            secret = settings.telegram_webhook_secret
            assert secret is not None  # checked by Settings
            url = settings.telegram_webhook_url

            def parse(data: dict) -> Update:
                return Update.model_validate(data, context={"bot": bot})

            async def set_webhook() -> None:
                await bot.set_webhook(url, secret_token=secret.get_secret_value(),
                                      allowed_updates=["message", "callback_query"],
                                      drop_pending_updates=False)

            app = webhook_app(url, secret.get_secret_value(), parse, channel.accept)
            if uploads is not None:
                uploads.add_routes(app)
            await serve_webhook(app, settings.telegram_webhook_listen, set_webhook)
        else:
            await bot.delete_webhook(drop_pending_updates=False)
            await Poller(fetcher(bot), channel.accept, POLL_ERRORS,
                         timeout=settings.telegram_poll_timeout).run()
    except PollingStopped as exc:
        raise SystemExit(str(exc)) from None  # a plain sentence, no traceback
    finally:
        if senders is not None and senders.get(CHANNEL) is channel:
            del senders[CHANNEL]
        await channel.drain(timeout=10)
        await bot.session.close()
