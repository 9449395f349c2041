"""The same guide through python-telegram-bot, for teams that already run PTB.

Install with ``pip install .[ptb]`` and set ``TELEGRAM_LIBRARY=ptb``. Updates reach a PTB
``Application`` through ``Application.process_update``, fed by the channel's own long polling
(PTB's ``Updater`` confirms updates to Telegram when it fetches them, so a crash would lose the
ones being handled) or by its webhook server (``serve.py``). One ``TypeHandler`` hands each update
to the ``TelegramChannel`` as the Bot API's JSON, and ``PTBTransport`` sends through PTB's ``Bot``.
A team with its own PTB application adds ``guide_handler(channel)`` to it. Nothing here needs
aiogram.
"""

from __future__ import annotations

import asyncio
import logging
import os
import warnings
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from telegram import Bot as PTBBot
from telegram import (
    BotCommand,
    BotCommandScopeDefault,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
    WebAppInfo,
)
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.channels.base import ChannelError
from bot.channels.telegram.core import FileTooBig, TelegramChannel
from bot.channels.telegram.polling import UNAUTHORIZED
from bot.channels.telegram.render import Button
from bot.channels.telegram.retry import Backoff, retrying
from bot.config import Settings


def classify(exc: BaseException) -> float | None:
    if isinstance(exc, RetryAfter):
        with warnings.catch_warnings():  # PTB 22 warns about int-valued retry_after
            warnings.simplefilter("ignore")
            wait = exc.retry_after
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        return max(seconds, 1.0)
    if isinstance(exc, BadRequest):
        return None
    if isinstance(exc, (NetworkError, asyncio.TimeoutError)):  # TimedOut included
        return 0.0
    return None


class PTBTransport:
    def __init__(self, bot: PTBBot, backoff: Backoff | None = None) -> None:
        self.bot = bot
        self.backoff = backoff or Backoff()

    async def _call(self, what: str, call):
        return await retrying(call, self.backoff, classify, what)

    async def send_text(self, chat_id: int, text: str, buttons: Sequence[Button]) -> int:
        markup = None
        if buttons:
            markup = InlineKeyboardMarkup([[
                InlineKeyboardButton(b.label, web_app=WebAppInfo(b.web_app)) if b.web_app
                else InlineKeyboardButton(b.label, callback_data=b.data)] for b in buttons])
        message = await self._call("sendMessage", lambda: self.bot.send_message(
            chat_id, text, reply_markup=markup))
        return message.message_id

    async def send_document(self, chat_id: int, path: str, name: str) -> None:
        data = await asyncio.to_thread(_read, path)
        await self._call("sendDocument", lambda: self.bot.send_document(
            chat_id, data, filename=name))

    async def remove_keyboard(self, chat_id: int, message_id: int) -> None:
        await self._call("editMessageReplyMarkup", lambda: self.bot.edit_message_reply_markup(
            chat_id=chat_id, message_id=message_id, reply_markup=None))

    async def answer_callback(self, callback_id: str) -> None:
        await self._call("answerCallbackQuery",
                         lambda: self.bot.answer_callback_query(callback_id))

    async def set_commands(self, commands: Sequence[tuple[str, str]],
                           language: str | None) -> None:
        await self._call("setMyCommands", lambda: self.bot.set_my_commands(
            [BotCommand(c, d) for c, d in commands], scope=BotCommandScopeDefault(),
            language_code=language))

    async def download(self, file_id: str, limit: int) -> bytes:
        try:
            file = await self._call("getFile", lambda: self.bot.get_file(file_id))
        except BadRequest as exc:
            if "too big" in exc.message.lower():
                raise FileTooBig(None) from exc
            raise
        if file.file_size and file.file_size > limit:
            raise FileTooBig(file.file_size)
        data = await self._call("file download", file.download_as_bytearray)
        if len(data) > limit:
            raise FileTooBig(len(data))
        return bytes(data)


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def build_application(settings: Settings) -> Application:
    # PTB 22 warns on every int-valued time period (a 429's retry_after); opt into timedelta
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    server = settings.telegram_api_server.rstrip("/")
    assert settings.telegram_bot_token is not None
    builder = (ApplicationBuilder()
               .token(settings.telegram_bot_token.get_secret_value())
               .base_url(f"{server}/bot")
               .base_file_url(f"{server}/file/bot")
               .local_mode(settings.telegram_api_local)
               .concurrent_updates(True))  # the channel orders each merchant's updates
    return builder.updater(None).build()  # fed by the channel's poller or webhook server


def guide_handler(channel: TelegramChannel) -> TypeHandler:
    """A handler for any PTB application: every update goes to the guide's channel."""

    async def on_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await channel.accept(update.to_dict())

    return TypeHandler(Update, on_update)


class PTBLibrary:
    """``serve``'s view of python-telegram-bot: a transport, and a feed into its application."""

    name = "python-telegram-bot"

    def __init__(self, settings: Settings) -> None:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry the token
        self.app = build_application(settings)
        self.transport = PTBTransport(self.app.bot)
        self._initialized = False

    def attach(self, channel: TelegramChannel) -> None:
        self.app.add_handler(guide_handler(channel))

    def feed(self, data: dict[str, Any]) -> asyncio.Future[None]:
        return asyncio.ensure_future(self.app.process_update(Update.de_json(data, self.app.bot)))

    async def start(self) -> None:
        try:
            await self.app.initialize()
        except InvalidToken:
            raise ChannelError(UNAUTHORIZED) from None
        self._initialized = True
        await self.app.start()

    async def stop(self) -> None:
        if self.app.running:
            await self.app.stop()

    async def close(self) -> None:
        if self._initialized:
            await self.app.shutdown()
