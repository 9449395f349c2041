"""Telegram webhook workers as real ``python -m bot run`` processes on one database, behind one
fake Bot API on loopback: the tests of several workers and ``bench/bench_workers.py`` use it.

Each worker listens on a port of its own; the tests play Telegram's load balancer and post each
update to the worker they choose (``Worker.post``), as Telegram posts it to the webhook URL.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import ClientError, ClientSession, ClientTimeout
from fake_telegram import WAIT, FakeBotAPI, button_data, picture
from test_telegram_process import SECRET, START_WAIT, BotProcess, free_port

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SETTLE = 2.0  # seconds after the last answer in which no further message may arrive
LOST = -1  # the status of a call whose worker died before answering it


class Worker:
    def __init__(self, tmp_path: Path, api: FakeBotAPI, database_url: str, name: str,
                 **env: str) -> None:
        self.name = name
        self.port = free_port()
        (tmp_path / name).mkdir()
        self.process = BotProcess(
            tmp_path / name, api, database_url,
            TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{self.port}/tg/hook",
            TELEGRAM_WEBHOOK_LISTEN=f"127.0.0.1:{self.port}", TELEGRAM_WEBHOOK_SECRET=SECRET,
            BOT_UPLOAD_SECRET="one-secret-for-every-worker", **env)
        self._http: ClientSession | None = None

    def listening(self) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def alive(self) -> bool:
        return self.process.proc is not None and self.process.proc.poll() is None

    async def post(self, update: dict) -> int:
        """Post ``update`` as Telegram does; the HTTP status once the worker handled it, or
        ``LOST`` when the worker died (or was never there) before answering."""
        if self._http is None:
            self._http = ClientSession(timeout=ClientTimeout(total=WAIT * 3))
        try:
            async with self._http.post(f"http://127.0.0.1:{self.port}/tg/hook", json=update,
                                       headers={SECRET_HEADER: SECRET}) as resp:
                await resp.read()
                return resp.status
        except (ClientError, ConnectionError):
            return LOST

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None


@asynccontextmanager
async def workers(tmp_path: Path, api: FakeBotAPI, database_url: str, count: int = 2,
                  **env: str) -> AsyncIterator[list[Worker]]:
    """``count`` workers started at once, listening; stopped (SIGTERM) afterwards."""
    started = [Worker(tmp_path, api, database_url, chr(ord("a") + i), **env)
               for i in range(count)]
    try:
        for worker in started:
            worker.process.spawn()
        await api.until(lambda: all(w.listening() or not w.alive() for w in started),
                        timeout=START_WAIT)
        for worker in started:
            assert worker.alive(), worker.process.log()
        yield started
    finally:
        for worker in started:
            await worker.close()
            await worker.process.stop()


def logs(started: list[Worker]) -> str:
    return "\n".join(f"--- worker {w.name} ---\n{w.process.log()}" for w in started)


async def settle(api: FakeBotAPI, chat: int, count: int) -> list[dict]:
    """What the bot sent to ``chat``, once at least ``count`` messages and then nothing more."""
    await api.until(lambda: len(api.to(chat)) >= count, timeout=WAIT * 3)
    await asyncio.sleep(SETTLE)
    return api.to(chat)


def texts(messages: list[dict]) -> list[str]:
    return [m.get("text") or "" for m in messages]


# -- what a merchant sends, built from what the bot last sent --------------------------------
LANGUAGE = "zh-hans"
Step = Callable[[FakeBotAPI, int, dict | None], dict]  # (api, chat, last message) -> update


def say(text: str) -> Step:
    return lambda api, chat, last: api.updates.text(chat, text, LANGUAGE)


def click(choice: str) -> Step:
    return lambda api, chat, last: api.updates.click(chat, last, button_data(last, choice),
                                                     LANGUAGE)


def document(seed: int, name: str) -> Step:
    return lambda api, chat, last: api.updates.document(
        chat, picture(1200, 1600, "JPEG", seed=seed), name, LANGUAGE)


def photo(seed: int) -> Step:
    return lambda api, chat, last: api.updates.photo(
        chat, picture(1000, 1400, "JPEG", seed=seed), 1000, 1400, LANGUAGE)


async def one_by_one(api: FakeBotAPI, chat: int, worker: Worker, steps: list[Step]
                     ) -> list[int]:
    """The reference: every update through one worker, each once the last was handled; how
    many messages the merchant had after each."""
    counts = []
    for step in steps:
        last = api.to(chat)[-1] if api.to(chat) else None
        assert await worker.post(step(api, chat, last)) == 200, worker.process.log()
        counts.append(len(api.to(chat)))
    return counts
