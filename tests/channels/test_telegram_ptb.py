"""The python-telegram-bot adapter in process: a PTB ``Application`` on a recording request
(PTB's counterpart of aiogram's session), the real channel, engine and service on SQLite."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import defaultdict
from pathlib import Path

import pytest

pytest.importorskip("telegram", reason="pip install .[ptb]")

from fake_telegram import BOT_USER, TOKEN, Updates, picture
from telegram import Update
from telegram.ext import ApplicationBuilder
from telegram.request import BaseRequest

from bot.channels.telegram.core import TelegramChannel
from bot.channels.telegram.ptb import PTBTransport, guide_handler
from bot.channels.telegram.retry import Backoff
from bot.content import load_guide
from bot.service import Service
from bot.store.db import Database
from bot.store.files import FileStore

TINY = Path(__file__).with_name("tiny")
UID = 8001


class RecordingRequest(BaseRequest):
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requests: list[tuple[str, dict]] = []
        self.failures: dict[str, list[tuple[int, dict]]] = defaultdict(list)
        self._ids = itertools.count(9000)

    @property
    def read_timeout(self) -> float:
        return 5.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    def sent(self) -> list[dict]:
        return [p for n, p in self.requests if n == "sendMessage"]

    async def do_request(self, url, method, request_data=None, read_timeout=None,
                         write_timeout=None, connect_timeout=None, pool_timeout=None):
        if "/file/bot" in url:
            return 200, self.files[url.rsplit("/", 1)[1]]
        name = url.rsplit("/", 1)[1]
        params = request_data.parameters if request_data else {}
        self.requests.append((name, params))
        if self.failures[name]:
            status, body = self.failures[name].pop(0)
            return status, json.dumps(body).encode()
        result: object = True
        if name == "getMe":
            result = {**BOT_USER, "can_join_groups": False, "can_read_all_group_messages": False,
                      "supports_inline_queries": False}
        elif name == "sendMessage":
            result = {"message_id": next(self._ids), "date": 0, "text": params["text"],
                      "chat": {"id": params["chat_id"], "type": "private"}}
        elif name == "getFile":
            data = self.files[params["file_id"]]
            result = {"file_id": params["file_id"], "file_unique_id": "u",
                      "file_size": len(data), "file_path": f"documents/{params['file_id']}"}
        return 200, json.dumps({"ok": True, "result": result}).encode()


@pytest.fixture
async def ptb(tmp_path, monkeypatch, database_url):
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # as bot.channels.telegram.ptb.build_application does
    db = Database(database_url)
    await db.migrate()
    service = Service(load_guide(TINY / "dialogs", TINY / "locales"), db,
                      FileStore(tmp_path / "files"))
    updates = Updates()
    request = RecordingRequest(updates.files)
    app = (ApplicationBuilder().token(TOKEN).request(request)
           .get_updates_request(RecordingRequest({})).updater(None)
           .concurrent_updates(True).build())
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    channel = TelegramChannel(service, PTBTransport(app.bot, Backoff(sleep=sleep)),
                              album_wait=0.05)
    app.add_handler(guide_handler(channel))

    async def feed(*data: dict) -> list[dict]:
        seen = len(request.sent())
        for item in data:
            await app.process_update(Update.de_json(item, app.bot))
        return request.sent()[seen:]

    async with app:
        yield feed, updates, request, sleeps
    await db.close()


def buttons(params: dict) -> list[str]:
    markup = params.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


async def test_the_guide_through_a_ptb_application(ptb):
    feed, updates, request, _ = ptb
    sent = await feed(updates.text(UID, "/start", "zh-TW"))
    assert "您想做什么？" in sent[-1]["text"]
    (data,) = buttons(sent[-1])
    assert data.startswith("c|form|")
    sent = await feed(updates.click(UID, {"message_id": 9000, "text": ""}, data, "zh-TW"))
    assert "公司名称是什么？" in sent[-1]["text"]
    assert ("editMessageReplyMarkup", {"chat_id": UID, "message_id": 9000}) in request.requests
    sent = await feed(updates.click(UID, {"message_id": 9000, "text": ""}, data, "zh-TW"))
    assert "already answered" in sent[0]["text"]  # the tiny catalogs lack this line


async def test_files_albums_and_retries_through_ptb(ptb):
    feed, updates, request, sleeps = ptb
    await feed(updates.text(UID, "/start", "en"))
    data = buttons(request.sent()[-1])[0]
    await feed(updates.click(UID, {"message_id": 1, "text": ""}, data, "en"))
    kinds = await feed(updates.text(UID, "Acme Trading Co", "en"))
    maker = next(b for b in buttons(kinds[-1]) if b.startswith("c|maker|"))
    await feed(updates.click(UID, {"message_id": 1, "text": ""}, maker, "en"))
    request.failures["sendMessage"].append((429, {
        "ok": False, "error_code": 429, "description": "Too Many Requests: retry after 2",
        "parameters": {"retry_after": 2}}))
    sent = await feed(updates.document(UID, picture(seed=5), "license.jpg", "en"))
    assert "Received license.jpg" in sent[0]["text"] and sleeps == [2.0]
    group = [updates.photo(UID, picture(900, 700, seed=i), 900, 700, "en", group="p1")
             for i in range(1, 4)]
    seen = len(request.sent())
    await asyncio.gather(*(feed(u) for u in group))
    album = request.sent()[seen:]
    assert len(album) == 1 and album[0]["text"].count("Received photo_") == 3
