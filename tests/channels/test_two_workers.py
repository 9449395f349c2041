"""Two ``python -m bot run`` Telegram webhook workers on one PostgreSQL database, behind one
(fake) Bot API: what one merchant sends to both at once is applied once, in one conversation."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiohttp import ClientSession, ClientTimeout
from dbkit import on_postgresql, read
from fake_telegram import WAIT, FakeBotAPI, button_data
from test_telegram_process import SECRET, BotProcess, free_port

pytestmark = pytest.mark.skipif(
    not on_postgresql(), reason="several workers share a PostgreSQL database "
    "(BOT_TEST_DATABASE_URL=postgresql+asyncpg://...)")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SETTLE = 2.0  # seconds after the last answer in which no further message may arrive


class Worker:
    def __init__(self, tmp_path, api: FakeBotAPI, database_url: str, name: str) -> None:
        self.port = free_port()
        (tmp_path / name).mkdir()
        self.process = BotProcess(
            tmp_path / name, api, database_url,
            TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{self.port}/tg/hook",
            TELEGRAM_WEBHOOK_LISTEN=f"127.0.0.1:{self.port}", TELEGRAM_WEBHOOK_SECRET=SECRET,
            BOT_UPLOAD_SECRET="one-secret-for-every-worker")

    def listening(self) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    async def post(self, update: dict) -> int:
        async with (ClientSession(timeout=ClientTimeout(total=WAIT * 3)) as http,
                    http.post(f"http://127.0.0.1:{self.port}/tg/hook", json=update,
                              headers={SECRET_HEADER: SECRET}) as resp):
            await resp.read()
            return resp.status


@pytest.fixture
async def two(tmp_path, database_url):
    api = FakeBotAPI()
    await api.start()
    workers = [Worker(tmp_path, api, database_url, name) for name in ("a", "b")]
    try:
        for worker in workers:
            worker.process.spawn()
        await api.until(lambda: all(w.listening() or w.process.proc.poll() is not None
                                    for w in workers), timeout=WAIT * 6)
        for worker in workers:
            assert worker.process.proc.poll() is None, worker.process.log()
        yield api, workers, database_url
    finally:
        for worker in workers:
            await worker.process.stop()
        await api.stop()


def logs(workers) -> str:
    return "\n".join(f"--- worker {i} ---\n{w.process.log()}" for i, w in enumerate(workers))


async def settle(api: FakeBotAPI, chat: int, count: int) -> list[dict]:
    """What the bot sent to ``chat``, once at least ``count`` messages and then nothing more."""
    await api.until(lambda: len(api.to(chat)) >= count, timeout=WAIT * 3)
    await asyncio.sleep(SETTLE)
    return api.to(chat)


async def start_and_choose_basic(api: FakeBotAPI, chat: int, *workers: Worker) -> list[dict]:
    """/start through the first worker, then the click on "basic" through every worker at
    once; what the bot sent the merchant."""
    assert await workers[0].post(api.updates.text(chat, "/start", "en")) == 200
    menu = (await settle(api, chat, 1))[-1]
    click = api.updates.click(chat, menu, button_data(menu, "basic"), "en")
    before = len(api.to(chat))
    statuses = await asyncio.gather(*(w.post(click) for w in workers))
    assert set(statuses) == {200}, logs(workers)
    return await settle(api, chat, before + 1)


def texts(messages: list[dict]) -> list[str]:
    return [m.get("text") or "" for m in messages]


async def test_the_same_update_to_both_workers_at_once_is_applied_once(two):
    api, (a, b), url = two
    once = await start_and_choose_basic(api, 700, a)  # the reference: delivered once
    twice = await start_and_choose_basic(api, 701, a, b)
    assert read(url, "SELECT count(*) FROM turns WHERE channel = 'telegram'"
                " AND update_key IS NOT NULL") == [
        (4,)]
    assert read(url, "SELECT user_key, version FROM merchants ORDER BY user_key") == [
        ("700", 2), ("701", 2)]  # /start, then the click: each applied once
    assert texts(twice) == texts(once), logs((a, b))  # answered once, as if delivered once


async def test_a_new_merchant_writing_to_both_workers_at_once(two):
    api, (a, b), url = two
    first, second = api.updates.text(702, "/start", "en"), api.updates.text(702, "/help", "en")
    statuses = await asyncio.gather(a.post(first), b.post(second))
    assert statuses == [200, 200], logs((a, b))
    sent = "\n".join(texts(await settle(api, 702, 2)))
    assert read(url, "SELECT count(*) FROM merchants WHERE user_key = '702'") == [(1,)]
    assert "something went wrong" not in sent, logs((a, b))  # no apology: both applied
    assert read(url, "SELECT count(*) FROM turns WHERE channel = 'telegram'"
                " AND update_key IS NOT NULL") == [
        (2,)]
