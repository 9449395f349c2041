"""The aiogram side of the channel: a ``Bot`` with bounded retries, and the ``Transport``.

Updates come in as JSON for every library (``serve.py``); aiogram's ``Bot`` sends the answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import aclosing
from pathlib import Path
from typing import Protocol

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import BaseRequestMiddleware
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import GetUpdates
from aiogram.types import (
    BotCommand,
    BotCommandScopeDefault,
    FSInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    WebAppInfo,
)
from aiohttp import ClientError, ClientResponseError

from bot.channels.telegram.core import FileTooBig, TelegramChannel
from bot.channels.telegram.render import Button
from bot.channels.telegram.retry import Backoff, retrying

DOWNLOAD_TIMEOUT = 120


class FastTransport(Protocol):
    async def send_text(self, chat_id: int, text: str, buttons: Sequence[Button]) -> int: ...
    async def remove_keyboard(self, chat_id: int, message_id: int) -> None: ...
    async def answer_callback(self, callback_id: str) -> None: ...


def classify(exc: BaseException) -> float | None:
    """Seconds to wait before a retry (0: back off), or None when retrying cannot help."""
    if isinstance(exc, TelegramRetryAfter):
        return float(max(exc.retry_after, 1))
    if isinstance(exc, TelegramEntityTooLarge):
        return None
    if isinstance(exc, (TelegramNetworkError, TelegramServerError, asyncio.TimeoutError)):
        return 0.0
    if isinstance(exc, ClientResponseError):
        return 0.0 if exc.status >= 500 or exc.status == 429 else None
    if isinstance(exc, ClientError):
        return 0.0
    return None


class RetryMiddleware(BaseRequestMiddleware):
    """Every Bot API call but getUpdates (the poller backs off on its own)."""

    def __init__(self, backoff: Backoff) -> None:
        self.backoff = backoff

    async def __call__(self, make_request, bot, method):
        if isinstance(method, GetUpdates):
            return await make_request(bot, method)
        return await retrying(lambda: make_request(bot, method), self.backoff, classify,
                              method.__api_method__)


def make_bot(token: str, api_server: str, *, local: bool = False,
             backoff: Backoff | None = None, session: AiohttpSession | None = None) -> Bot:
    api = TelegramAPIServer.from_base(api_server, is_local=local)
    session = session or AiohttpSession(api=api)
    session.api = api
    session.middleware(RetryMiddleware(backoff or Backoff()))
    return Bot(token, session=session)


class AiogramTransport:
    """Sends through aiogram's ``Bot``. Given ``fast`` (the plain JSON client), the calls of
    every turn (sendMessage, editMessageReplyMarkup, answerCallbackQuery) go through it, and
    aiogram keeps what it does well: streamed uploads from disk, downloads (also from a local
    Bot API server's disk) and the typed command menu."""

    def __init__(self, bot: Bot, backoff: Backoff | None = None,
                 fast: FastTransport | None = None) -> None:
        self.bot = bot
        self.backoff = backoff or Backoff()
        self.fast = fast

    async def send_text(self, chat_id: int, text: str, buttons: Sequence[Button]) -> int:
        if self.fast is not None:
            return await self.fast.send_text(chat_id, text, buttons)
        markup = None
        if buttons:
            markup = InlineKeyboardMarkup(inline_keyboard=[[
                InlineKeyboardButton(text=b.label, web_app=WebAppInfo(url=b.web_app))
                if b.web_app else InlineKeyboardButton(text=b.label, callback_data=b.data)]
                for b in buttons])
        message = await self.bot.send_message(chat_id, text, reply_markup=markup,
                                              parse_mode=None)
        return message.message_id

    async def send_document(self, chat_id: int, path: str, name: str) -> None:
        await self.bot.send_document(chat_id, FSInputFile(path, filename=name))

    async def remove_keyboard(self, chat_id: int, message_id: int) -> None:
        if self.fast is not None:
            await self.fast.remove_keyboard(chat_id, message_id)
            return
        await self.bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id,
                                                 reply_markup=None)

    async def answer_callback(self, callback_id: str) -> None:
        if self.fast is not None:
            await self.fast.answer_callback(callback_id)
            return
        await self.bot.answer_callback_query(callback_id)

    async def set_commands(self, commands: Sequence[tuple[str, str]],
                           language: str | None) -> None:
        await self.bot.set_my_commands(
            [BotCommand(command=c, description=d) for c, d in commands],
            scope=BotCommandScopeDefault(), language_code=language)

    async def download(self, file_id: str, limit: int) -> bytes:
        try:
            file = await self.bot.get_file(file_id)
        except TelegramBadRequest as exc:
            if "too big" in exc.message.lower():
                raise FileTooBig(None) from exc
            raise
        if file.file_size and file.file_size > limit:
            raise FileTooBig(file.file_size)
        if not file.file_path:
            raise FileTooBig(file.file_size)
        api = self.bot.session.api
        if api.is_local:
            path = Path(api.wrap_local_file.to_local(file.file_path))
            return await asyncio.to_thread(_read_bounded, path, limit)
        url = api.file_url(self.bot.token, file.file_path)
        return await retrying(lambda: self._stream(url, limit), self.backoff, classify,
                              "file download")

    async def _stream(self, url: str, limit: int) -> bytes:
        data = bytearray()
        stream = self.bot.session.stream_content(url, timeout=DOWNLOAD_TIMEOUT,
                                                 raise_for_status=True)
        async with aclosing(stream):
            async for chunk in stream:
                data += chunk
                if len(data) > limit:
                    raise FileTooBig(None)
        return bytes(data)


def _read_bounded(path: Path, limit: int) -> bytes:
    with path.open("rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise FileTooBig(path.stat().st_size)
    return data


class AiogramLibrary:
    """``serve``'s view of aiogram: updates go straight to the channel; aiogram's ``Bot`` sends
    files and the command menu, the plain client ``fast`` the messages of every turn."""

    name = "aiogram"

    def __init__(self, token: str, api_server: str, *, local: bool = False,
                 fast: FastTransport | None = None) -> None:
        self.bot = make_bot(token, api_server, local=local)
        self.transport = AiogramTransport(self.bot, fast=fast)
        self.feed = None

    def attach(self, channel: TelegramChannel) -> None:
        self.feed = channel.accept

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def close(self) -> None:
        await self.bot.session.close()
