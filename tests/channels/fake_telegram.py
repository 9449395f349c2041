"""Test doubles for Telegram.

``RecordingSession``: an aiogram ``BaseSession`` that records every request and answers it from
memory (the pattern of aiogram's own ``tests/mocked_bot.py``); failures can be queued per method.

``FakeBotAPI``: a Bot API server on loopback speaking HTTP/JSON (getMe, deleteWebhook, setWebhook,
getUpdates, sendMessage, sendDocument, editMessageReplyMarkup, answerCallbackQuery, getFile, the
file download URL, setMyCommands) for tests that run the real ``python -m bot run``.

``Person``: a merchant in a chat, reading like a user: ``await person.say("/start")``,
``await person.click(message, "basic")``, ``await person.send_photo(jpeg)``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import defaultdict
from collections.abc import AsyncGenerator, Callable
from typing import Any

from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramNetworkError
from aiohttp import ClientSession, ClientTimeout, web

TOKEN = "123456789:TEST-token_for-the-fake-bot-api-000"
BOT_USER = {"id": 123456789, "is_bot": True, "first_name": "Guide", "username": "guide_bot"}
INT_FIELDS = {"chat_id", "message_id", "offset", "timeout", "limit"}
WAIT = 20.0  # seconds any single wait in a test may take before it fails


# --- Bot API JSON builders -------------------------------------------------------------------
def user_json(user_id: int, language: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": f"M{user_id}"}
    if language:
        data["language_code"] = language
    return data


def chat_json(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "type": "private", "first_name": f"M{user_id}"}


def photo_sizes(file_id: str, size: int, width: int, height: int) -> list[dict[str, Any]]:
    return [
        {"file_id": f"{file_id}-thumb", "file_unique_id": f"{file_id}-t", "width": 90,
         "height": 90, "file_size": 1000},
        {"file_id": file_id, "file_unique_id": f"{file_id}-u", "width": width,
         "height": height, "file_size": size},
    ]


class Updates:
    """Builds updates as Telegram sends them, with increasing update and message ids."""

    def __init__(self) -> None:
        self._update_ids = itertools.count(1000)
        self._message_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self.files: dict[str, bytes] = {}

    def add_file(self, data: bytes) -> str:
        file_id = f"file{next(self._file_ids)}"
        self.files[file_id] = data
        return file_id

    def message(self, user_id: int, language: str | None, **content: Any) -> dict[str, Any]:
        message = {"message_id": next(self._message_ids), "date": 1_764_000_000,
                   "chat": chat_json(user_id), "from": user_json(user_id, language), **content}
        return {"update_id": next(self._update_ids), "message": message}

    def text(self, user_id: int, text: str, language: str | None = "zh-hans") -> dict:
        return self.message(user_id, language, text=text)

    def document(self, user_id: int, data: bytes, name: str, language: str | None = "zh-hans",
                 size: int | None = None, group: str | None = None) -> dict:
        file_id = self.add_file(data)
        doc = {"file_id": file_id, "file_unique_id": f"{file_id}-u", "file_name": name,
               "file_size": len(data) if size is None else size}
        extra = {"media_group_id": group} if group else {}
        return self.message(user_id, language, document=doc, **extra)

    def photo(self, user_id: int, data: bytes, width: int, height: int,
              language: str | None = "zh-hans", group: str | None = None,
              size: int | None = None) -> dict:
        file_id = self.add_file(data)
        extra = {"media_group_id": group} if group else {}
        sizes = photo_sizes(file_id, len(data) if size is None else size, width, height)
        return self.message(user_id, language, photo=sizes, **extra)

    def sticker(self, user_id: int, language: str | None = "zh-hans") -> dict:
        sticker = {"file_id": "st", "file_unique_id": "st-u", "type": "regular", "width": 512,
                   "height": 512, "is_animated": False, "is_video": False}
        return self.message(user_id, language, sticker=sticker)

    def click(self, user_id: int, message: dict, data: str,
              language: str | None = "zh-hans") -> dict:
        query = {"id": f"cq{next(self._update_ids)}", "from": user_json(user_id, language),
                 "chat_instance": "ci", "data": data,
                 "message": {"message_id": message["message_id"], "date": 1_764_000_000,
                             "chat": chat_json(user_id), "from": BOT_USER,
                             "text": message.get("text", "")}}
        return {"update_id": next(self._update_ids), "callback_query": query}


def button_data(message: dict, choice_id: str) -> str:
    """The callback data of the button for ``choice_id`` on a message the bot sent."""
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        for button in row:
            if button.get("callback_data", "").startswith(f"c|{choice_id}|"):
                return button["callback_data"]
    raise AssertionError(f"no button {choice_id!r} on {message.get('text', '')[:80]!r}")


def button_ids(message: dict) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [b["callback_data"].split("|")[1] for row in rows for b in row
            if "callback_data" in b]


def web_app_buttons(message: dict) -> list[dict]:
    """The buttons of a message that open a Mini App: ``{"text": ..., "web_app": {"url"}}``."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [b for row in rows for b in row if "web_app" in b]


# --- unit tests: a recording session -----------------------------------------------------------
class RecordingSession(BaseSession):
    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        super().__init__()
        self.requests: list[tuple[str, Any]] = []
        self.failures: dict[str, list[dict[str, Any] | Exception]] = defaultdict(list)
        self.gates: dict[str, asyncio.Event] = {}  # a method waits for its gate to open
        self.files = files if files is not None else {}
        self.downloads: list[str] = []
        self.message_ids: dict[int, int] = {}  # id(sendMessage method) -> message_id
        self._message_ids = itertools.count(5000)
        self.closed = False

    def fail(self, method: str, status: int = 500, description: str = "Internal Server Error",
             retry_after: int | None = None, times: int = 1) -> None:
        for _ in range(times):
            error: dict[str, Any] = {"ok": False, "error_code": status,
                                     "description": description}
            if retry_after is not None:
                error["parameters"] = {"retry_after": retry_after}
            self.failures[method].append({"status": status, **error})

    def fail_network(self, method: str, times: int = 1) -> None:
        for _ in range(times):
            self.failures[method].append(TelegramNetworkError(None, "connection reset"))

    def calls(self, name: str) -> list[Any]:
        return [m for n, m in self.requests if n == name]

    def sent(self) -> list[Any]:
        return self.calls("sendMessage")

    async def close(self) -> None:
        self.closed = True

    async def make_request(self, bot, method, timeout=None):
        name = method.__api_method__
        self.requests.append((name, method))
        if name in self.gates:
            await asyncio.wait_for(self.gates[name].wait(), WAIT)
        if self.failures.get(name):
            failure = self.failures[name].pop(0)
            if isinstance(failure, Exception):
                failure.method = method
                raise failure
            status = failure.pop("status")
            return self.check_response(bot, method, status, json.dumps(failure)).result
        result = self.result(name, method)
        if isinstance(result, dict) and "message_id" in result:
            self.message_ids[id(method)] = result["message_id"]
        response = self.check_response(bot, method, 200, json.dumps({"ok": True,
                                                                      "result": result}))
        return response.result

    def result(self, name: str, method: Any) -> Any:
        if name in ("sendMessage", "sendDocument"):
            return {"message_id": next(self._message_ids), "date": 1_764_000_000,
                    "chat": chat_json(int(method.chat_id)), "from": BOT_USER,
                    "text": getattr(method, "text", None) or ""}
        if name == "getMe":
            return BOT_USER
        if name == "getFile":
            data = self.files[method.file_id]
            return {"file_id": method.file_id, "file_unique_id": "u", "file_size": len(data),
                    "file_path": f"documents/{method.file_id}"}
        if name == "getUpdates":
            return []
        return True

    async def stream_content(self, url: str, headers=None, timeout: int = 30,
                             chunk_size: int = 65536, raise_for_status: bool = True
                             ) -> AsyncGenerator[bytes, None]:
        self.downloads.append(url)
        data = self.files[url.rsplit("/", 1)[1]]
        for start in range(0, len(data), chunk_size):
            yield data[start:start + chunk_size]


# --- process tests: a Bot API server on loopback -------------------------------------------
class FakeBotAPI:
    """Plays Telegram for a bot process: queues updates, records what the bot sends."""

    def __init__(self) -> None:
        self.updates = Updates()
        self.pending: list[dict] = []  # not yet confirmed by an offset
        self.offsets: list[int | None] = []
        self.calls: list[tuple[str, dict]] = []
        self.messages: list[dict] = []  # what the bot sent, in order
        self.webhook: dict[str, Any] = {}
        self.commands: dict[str | None, list[dict]] = {}
        self.conflict = False
        self.hang: set[str] = set()  # the next call of these methods never gets an answer
        # queued per method: an HTTP status to answer with, or "reset" (the connection drops)
        self.failures: dict[str, list[int | str]] = defaultdict(list)
        self.hung = asyncio.Event()
        self.changed = asyncio.Condition()
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- server ------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return await request.json()
        params: dict[str, Any] = {}
        for key, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                params[key] = {"filename": value.filename, "size": len(value.file.read())}
                continue
            if value[:1] in ("{", "[") and key != "text":
                value = json.loads(value)
            elif key in INT_FIELDS and value.lstrip("-").isdigit():
                value = int(value)
            params[key] = value
        return params

    async def _method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return web.json_response({"ok": False, "error_code": 401,
                                      "description": "Unauthorized"}, status=401)
        name = request.match_info["method"]
        params = await self._params(request)
        self.calls.append((name, params))
        if name in self.hang:
            self.hang.discard(name)
            self.hung.set()
            await asyncio.Event().wait()  # until the bot process dies
        if self.failures.get(name):
            failure = self.failures[name].pop(0)
            if failure == "reset":
                assert request.transport is not None
                request.transport.close()
                return web.Response(status=500)
            return web.json_response({"ok": False, "error_code": failure,
                                      "description": f"Error {failure}"}, status=failure)
        handler = getattr(self, f"_m_{name}", None)
        if handler is None:
            return web.json_response({"ok": False, "error_code": 404,
                                      "description": "Not Found: method not found"}, status=404)
        result = await handler(params)
        async with self.changed:
            self.changed.notify_all()
        if isinstance(result, web.Response):
            return result
        return web.json_response({"ok": True, "result": result})

    async def _file(self, request: web.Request) -> web.Response:
        file_id = request.match_info["path"].rsplit("/", 1)[1]
        return web.Response(body=self.updates.files[file_id])

    async def _m_getMe(self, params):
        return BOT_USER

    async def _m_deleteWebhook(self, params):
        self.webhook = {}
        return True

    async def _m_setWebhook(self, params):
        self.webhook = params
        return True

    async def _m_setMyCommands(self, params):
        self.commands[params.get("language_code")] = params["commands"]
        return True

    async def _m_answerCallbackQuery(self, params):
        return True

    async def _m_editMessageReplyMarkup(self, params):
        for message in self.messages:
            if message["message_id"] == int(params["message_id"]):
                message["reply_markup"] = params.get("reply_markup")
        return True

    async def _m_getFile(self, params):
        data = self.updates.files[params["file_id"]]
        return {"file_id": params["file_id"], "file_unique_id": "u", "file_size": len(data),
                "file_path": f"documents/{params['file_id']}"}

    async def _m_sendMessage(self, params):
        return self._sent(params, text=params["text"])

    async def _m_sendDocument(self, params):
        return self._sent(params, document=params.get("document"))

    def _sent(self, params, **content) -> dict:
        message = {"message_id": next(self._ids), "date": 1_764_000_000,
                   "chat": chat_json(int(params["chat_id"])), "from": BOT_USER, **content}
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        self.messages.append(message)
        return message

    async def _m_getUpdates(self, params):
        offset = params.get("offset")
        self.offsets.append(offset)
        if self.conflict:
            return web.json_response({"ok": False, "error_code": 409, "description": (
                "Conflict: terminated by other getUpdates request; make sure that only one bot "
                "instance is running")}, status=409)
        if offset is not None:
            self.pending = [u for u in self.pending if u["update_id"] >= offset]
        async with self.changed:
            self.changed.notify_all()
        wait = min(float(params.get("timeout") or 0), 1.0)
        deadline = asyncio.get_running_loop().time() + wait
        async with self.changed:
            while not self.pending:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                try:
                    await asyncio.wait_for(self.changed.wait(), remaining)
                except TimeoutError:
                    break
        return self.pending[:100]

    # -- what tests use ------------------------------------------------------------------
    async def push(self, *updates: dict) -> None:
        async with self.changed:
            self.pending.extend(updates)
            self.changed.notify_all()

    async def until(self, condition: Callable[[], bool], timeout: float = WAIT) -> None:
        """Wait for ``condition``: checked on every call the bot makes and every 0.2 s (for
        conditions about the bot process itself); TimeoutError after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self.changed:
            while not condition():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError
                try:
                    await asyncio.wait_for(self.changed.wait(), min(remaining, 0.2))
                except TimeoutError:
                    pass

    def confirmed(self, update_id: int) -> bool:
        """Telegram knows the bot is done with ``update_id``: a later offset was asked for."""
        return any(o is not None and o > update_id for o in self.offsets)

    def to(self, chat_id: int) -> list[dict]:
        return [m for m in self.messages if m["chat"]["id"] == chat_id]

    async def deliver(self, update: dict, secret: str | None) -> int:
        """Webhook mode: post ``update`` to the bot like Telegram does; the HTTP status."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        async with (ClientSession(timeout=ClientTimeout(total=WAIT)) as session,
                    session.post(self.webhook["url"], json=update, headers=headers) as resp):
            await resp.read()
            return resp.status


class Person:
    """A merchant chatting with the bot through ``FakeBotAPI``."""

    def __init__(self, api: FakeBotAPI, user_id: int, language: str | None = "zh-hans",
                 webhook_secret: str | None = None) -> None:
        self.api = api
        self.id = user_id
        self.language = language
        self.secret = webhook_secret  # set: updates go to the bot's webhook

    @property
    def inbox(self) -> list[dict]:
        return self.api.to(self.id)

    async def send(self, *updates: dict) -> list[dict]:
        """Send updates; once the bot is done with all of them, what it sent in between."""
        seen = len(self.inbox)
        if self.secret is not None:
            statuses = await asyncio.gather(*(self.api.deliver(u, self.secret) for u in updates))
            assert set(statuses) == {200}, statuses
        else:
            await self.api.push(*updates)
            last = max(u["update_id"] for u in updates)
            await self.api.until(lambda: self.api.confirmed(last))
        return self.inbox[seen:]

    async def say(self, text: str) -> list[dict]:
        return await self.send(self.api.updates.text(self.id, text, self.language))

    async def click(self, message: dict, choice_id: str) -> list[dict]:
        data = button_data(message, choice_id)
        return await self.send(self.api.updates.click(self.id, message, data, self.language))

    async def send_document(self, data: bytes, name: str) -> list[dict]:
        return await self.send(self.api.updates.document(self.id, data, name, self.language))

    async def send_photo(self, data: bytes, width: int, height: int) -> list[dict]:
        return await self.send(self.api.updates.photo(self.id, data, width, height,
                                                      self.language))

    async def send_album(self, photos: list[tuple[bytes, int, int]], group: str) -> list[dict]:
        updates = [self.api.updates.photo(self.id, d, w, h, self.language, group=group)
                   for d, w, h in photos]
        return await self.send(*updates)


def picture(width: int = 800, height: int = 1000, fmt: str = "JPEG", seed: int = 0) -> bytes:
    """A sharp scan-like image; a different ``seed`` gives a visibly different picture (the
    intake refuses near-duplicates by perceptual hash)."""
    import io
    import random

    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for _ in range(14):  # large blocks decide the perceptual hash
        x, y = rng.randrange(width), rng.randrange(height)
        w, h = rng.randrange(width // 8, width // 2), rng.randrange(height // 8, height // 2)
        shade = rng.randrange(0, 160)
        draw.rectangle([x, y, x + w, y + h], fill=(shade, shade, shade))
    for y in range(30, height - 30, 26):  # text-like lines keep it sharp
        for x in range(30 + rng.randrange(20), width - 80, 85):
            draw.rectangle([x, y, x + 55, y + 9], fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, quality=90)
    return buffer.getvalue()
