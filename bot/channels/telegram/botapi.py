"""The Bot API as plain JSON over one aiohttp session: the channel's intake (getUpdates, webhook
set-up) for every library, and a ``Transport`` of its own (``TELEGRAM_LIBRARY=botapi``).

A call is one POST of a JSON body; the answer's ``result`` comes back as parsed JSON, with no
model built for it: the guide reads three fields of an update and one of a sent message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bot.channels.telegram.core import FileTooBig
from bot.channels.telegram.polling import ALLOWED_UPDATES, PollErrors
from bot.channels.telegram.render import Button, inline_button
from bot.channels.telegram.retry import Backoff, retrying

log = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT = 120
JSON = {"Content-Type": "application/json"}  # bodies are UTF-8 JSON, as the Bot API takes
CALL_TIMEOUT = 60


class BotAPIError(Exception):
    """Telegram answered ``ok: false``: ``code`` is its error_code (400, 401, 403, 409, 429...)."""

    def __init__(self, method: str, code: int, description: str,
                 retry_after: float | None = None) -> None:
        super().__init__(f"{method}: {code} {description}")
        self.method = method
        self.code = code
        self.description = description
        self.retry_after = retry_after


def classify(exc: BaseException) -> float | None:
    """Seconds to wait before a retry (0: back off), or None when retrying cannot help."""
    if isinstance(exc, BotAPIError):
        if exc.code == 429:
            return float(max(exc.retry_after or 1, 1))
        return 0.0 if exc.code >= 500 else None
    if isinstance(exc, (aiohttp.ClientError, asyncio.TimeoutError, ValueError)):
        return 0.0  # ValueError: a body that is not JSON (a proxy's error page)
    return None


POLL_ERRORS = PollErrors(
    conflict=lambda exc: isinstance(exc, BotAPIError) and exc.code == 409,
    unauthorized=lambda exc: isinstance(exc, BotAPIError) and exc.code in (401, 404)
    and exc.method in ("getUpdates", "getMe"),
    retry=classify,
)


class BotAPI:
    def __init__(self, token: str, server: str = "https://api.telegram.org", *,
                 local: bool = False, backoff: Backoff | None = None,
                 session: aiohttp.ClientSession | None = None) -> None:
        server = server.rstrip("/")
        self._base = f"{server}/bot{token}/"
        self._files = f"{server}/file/bot{token}/"
        self.local = local  # a self-hosted server with --local: file paths are on its disk
        self.backoff = backoff or Backoff()
        self._session = session
        self._own_session = session is None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()

    # -- calls -----------------------------------------------------------------------------
    async def raw(self, method: str, params: dict[str, Any] | None = None, *,
                  timeout: float = CALL_TIMEOUT, data: aiohttp.FormData | None = None) -> Any:
        """One call, no retries: the ``result``, or ``BotAPIError``."""
        kwargs: dict[str, Any] = ({"data": data} if data is not None else
                                  {"data": orjson.dumps(params or {}), "headers": JSON})
        async with self.session.post(self._base + method,
                                     timeout=aiohttp.ClientTimeout(total=timeout),
                                     **kwargs) as response:
            body = orjson.loads(await response.read())
        if not isinstance(body, dict):
            raise ValueError(f"{method}: the answer is not a Bot API response")  # noqa: TRY004
        if body.get("ok"):
            return body.get("result")
        retry_after = (body.get("parameters") or {}).get("retry_after")
        raise BotAPIError(method, int(body.get("error_code") or response.status),
                          str(body.get("description") or ""), retry_after)

    async def call(self, method: str, **params: Any) -> Any:
        """A call with bounded retries (network errors, 5xx, 429)."""
        params = {k: v for k, v in params.items() if v is not None}
        return await retrying(lambda: self.raw(method, params), self.backoff, classify, method)

    async def get_updates(self, offset: int | None, timeout: int) -> list[dict[str, Any]]:
        """For the poller (it backs off on its own): the updates as JSON objects."""
        params: dict[str, Any] = {"timeout": timeout, "allowed_updates": ALLOWED_UPDATES}
        if offset is not None:
            params["offset"] = offset
        return await self.raw("getUpdates", params, timeout=timeout + 15)

    async def get_me(self) -> dict[str, Any]:
        return await self.call("getMe")

    # -- Transport -------------------------------------------------------------------------
    async def send_text(self, chat_id: int, text: str, buttons: Sequence[Button]) -> int:
        params: dict[str, Any] = {"chat_id": chat_id, "text": text}
        if buttons:
            params["reply_markup"] = {"inline_keyboard": [[inline_button(b)] for b in buttons]}
        message = await self.call("sendMessage", **params)
        return message["message_id"]

    async def send_document(self, chat_id: int, path: str, name: str) -> None:
        data = await asyncio.to_thread(Path(path).read_bytes)

        def form() -> aiohttp.FormData:  # a fresh body for every attempt
            body = aiohttp.FormData()
            body.add_field("chat_id", str(chat_id))
            body.add_field("document", data, filename=name,
                           content_type="application/octet-stream")
            return body

        await retrying(lambda: self.raw("sendDocument", data=form()), self.backoff, classify,
                       "sendDocument")

    async def remove_keyboard(self, chat_id: int, message_id: int) -> None:
        await self.call("editMessageReplyMarkup", chat_id=chat_id, message_id=message_id)

    async def answer_callback(self, callback_id: str) -> None:
        await self.call("answerCallbackQuery", callback_query_id=callback_id)

    async def set_commands(self, commands: Sequence[tuple[str, str]],
                           language: str | None) -> None:
        await self.call("setMyCommands",
                        commands=[{"command": c, "description": d} for c, d in commands],
                        scope={"type": "default"}, language_code=language)

    async def download(self, file_id: str, limit: int) -> bytes:
        try:
            file = await self.call("getFile", file_id=file_id)
        except BotAPIError as exc:
            if "too big" in exc.description.lower():
                raise FileTooBig(None) from exc
            raise
        size, path = file.get("file_size"), file.get("file_path")
        if (size and size > limit) or not path:
            raise FileTooBig(size)
        if self.local:
            return await asyncio.to_thread(_read_bounded, Path(path), limit)
        return await retrying(lambda: self._stream(self._files + path, limit), self.backoff,
                              classify, "file download")

    async def _stream(self, url: str, limit: int) -> bytes:
        data = bytearray()
        async with self.session.get(url, timeout=aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT),
                                    raise_for_status=True) as response:
            async for chunk in response.content.iter_chunked(65536):
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
