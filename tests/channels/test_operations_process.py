"""``python -m bot run`` as an operator runs it: health and metrics on the webhook server,
SIGTERM while a turn is in flight, JSON logs."""

from __future__ import annotations

import asyncio
import json
import signal
import socket

from aiohttp import ClientSession
from fake_telegram import WAIT, FakeBotAPI, Person
from test_telegram_process import ID, SECRET, BotProcess, free_port

SLOW_SEND = 3.0  # seconds the fake Bot API takes to answer sendMessage


class SlowBotAPI(FakeBotAPI):
    def __init__(self) -> None:
        super().__init__()
        self.delay = 0.0

    async def _m_sendMessage(self, params):
        await asyncio.sleep(self.delay)
        return await super()._m_sendMessage(params)


def refuses(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


async def test_sigterm_finishes_the_turn_in_flight_takes_no_new_one_and_exits_0(
        tmp_path, database_url):
    api = SlowBotAPI()
    await api.start()
    port = free_port()
    bot = BotProcess(tmp_path, api, database_url,
                     TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{port}/tg/hook",
                     TELEGRAM_WEBHOOK_LISTEN=f"127.0.0.1:{port}",
                     TELEGRAM_WEBHOOK_SECRET=SECRET, BOT_LOG_FORMAT="json",
                     BOT_LOG_LEVEL="DEBUG")
    try:
        await bot.start()
        person = Person(api, 601, "en", webhook_secret=SECRET)
        await person.say("/start")
        await person.say(ID)  # typed at the menu: refused, but it passed through the logs
        async with ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                assert resp.status == 200 and (await resp.json())["status"] == "ok"
            async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                metrics = await resp.text()
        assert 'bot_turns_total{channel="telegram",outcome="applied"} 2.0' in metrics
        answered = len(api.to(601))
        api.delay = SLOW_SEND
        calls = len(api.calls)
        in_flight = asyncio.create_task(
            api.deliver(api.updates.text(601, "/help", "en"), SECRET))
        await api.until(lambda: any(n == "sendMessage" for n, _ in api.calls[calls:]))
        bot.proc.send_signal(signal.SIGTERM)
        await api.until(lambda: refuses(port) or bot.proc.poll() is not None)
        assert bot.proc.poll() is None  # no longer listening, still finishing the turn
        assert await in_flight == 200
        code = await asyncio.to_thread(bot.proc.wait, WAIT)
        assert code == 0, bot.log()
        assert len(api.to(601)) > answered  # the reply of the turn in flight went out
    finally:
        await bot.stop()
        await api.stop()
    lines = bot.log().splitlines()
    records = [json.loads(line) for line in lines]  # every line one JSON object
    assert {"time", "level", "logger", "message"} <= set(records[0])
    assert any(r["level"] == "DEBUG" for r in records)
    assert ID not in bot.log()
