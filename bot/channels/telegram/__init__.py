"""The Telegram channel: ``serve(service, settings)`` runs it with aiogram (default),
python-telegram-bot (``TELEGRAM_LIBRARY=ptb``) or the plain JSON Bot API transport
(``TELEGRAM_LIBRARY=botapi``), by long polling or by webhook."""

from __future__ import annotations

from bot.channels.telegram.core import CHANNEL, TelegramChannel
from bot.channels.telegram.serve import serve

__all__ = ["CHANNEL", "TelegramChannel", "serve"]
