"""Reminders reach merchants through the real Telegram and WeCom channels, each talking HTTP to
its fake server (tests/channels/fake_*.py); a button press on Telegram comes back to the
reminder, a blocked WeCom member fails the reminder for good."""

import sys
from datetime import date
from pathlib import Path

import aiohttp
import pytest
from reminder_kit import open_bench
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "channels"))

from fake_telegram import TOKEN, FakeBotAPI, button_data, button_ids
from fake_wecom import AGENT_ID, CORP_ID, SECRET, FakeWeCom

from bot.channels.telegram.aiogram_transport import AiogramTransport, make_bot
from bot.channels.telegram.core import TelegramChannel
from bot.channels.wecom.api import WeComApi
from bot.channels.wecom.channel import WeComChannel
from bot.content import load_guide
from bot.store.models import Reminder

WAIT = 20  # seconds


@pytest.fixture(scope="module")
def guide():
    return load_guide()


@pytest.fixture
async def bench(tmp_path, guide, database_url):
    bench = await open_bench(database_url, tmp_path, guide)
    yield bench
    await bench.db.close()


async def test_a_reminder_on_telegram_and_its_done_button(bench):
    fake = FakeBotAPI()
    await fake.start()
    bot = make_bot(TOKEN, fake.url)
    channel = TelegramChannel(bench.service, AiogramTransport(bot))
    bench.worker.senders = {"telegram": channel}
    try:
        await bench.passed("7001", "basic", "2026-03-10", channel="telegram")
        sent = await bench.run("2027-01-09 11:00")
        assert [(s["channel"], s["merchant"]) for s in sent] == [("telegram", "7001")]
        message = fake.messages[-1]
        assert message["chat"]["id"] == 7001 and "Basic certification" in message["text"]
        reminder_id = sent[0]["reminder"]
        assert button_ids(message) == [f"rem:{reminder_id}:done",
                                       f"rem:{reminder_id}:snooze_day",
                                       f"rem:{reminder_id}:snooze_week"]
        press = fake.updates.click(7001, message, button_data(message, f"rem:{reminder_id}:done"),
                                   "en")
        await channel.accept(press)
        assert any("Next year's reminders are set" in m.get("text", "")
                   for m in fake.messages[1:])
        async with bench.db.session() as session:
            rows = list(await session.scalars(select(Reminder).order_by(Reminder.id)))
        assert [(r.anchor, r.status) for r in rows] == (
            [(date(2027, 3, 10), "done")] * 3 + [(date(2028, 3, 10), "pending")] * 3)
    finally:
        await channel.drain(timeout=WAIT)
        await bot.session.close()
        await fake.stop()


async def test_a_reminder_on_wecom_names_the_typed_commands(bench):
    fake = FakeWeCom()
    await fake.start()
    async with aiohttp.ClientSession() as http:
        api = WeComApi(http, base_url=fake.base_url, corp_id=CORP_ID, secret=SECRET,
                       agent_id=int(AGENT_ID))
        channel = WeComChannel(bench.service, api)
        bench.worker.senders = {"wecom": channel}
        try:
            await bench.passed("ZhangWei", "basic", "2026-03-10", channel="wecom", lang="zh")
            await bench.passed("LiNa", "trade", "2026-03-10", channel="wecom", lang="zh")
            fake.send_errors.append(81013)  # the first send: that member left the company
            sent = await bench.run("2027-01-09 11:00")
            (delivered,) = [s["merchant"] for s in sent]
            (text,) = fake.texts(delivered)
            assert "认证中心" in text and ("基本认证" in text or "贸易能力认证" in text)
            assert "/reminders 完成" in text and "\n1. " not in text  # no numbered buttons
            async with bench.db.session() as session:
                failed = await session.scalar(select(Reminder).where(Reminder.status == "failed"))
            assert failed is not None and failed.attempts == 1
            assert failed.last_error.startswith("wecom:")
            assert await bench.run("2027-01-09 12:00") == []  # given up for good, not retried
        finally:
            await channel.close()
            await fake.stop()
