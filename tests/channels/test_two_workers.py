"""Two ``python -m bot run`` Telegram webhook workers on one PostgreSQL database, behind one
(fake) Bot API: what one merchant sends to both at once is applied once, in one conversation."""

from __future__ import annotations

import asyncio

import pytest
from dbkit import on_postgresql, read
from fake_telegram import FakeBotAPI, button_data
from workers import Worker, logs, settle, texts, workers

pytestmark = pytest.mark.skipif(
    not on_postgresql(), reason="several workers share a PostgreSQL database "
    "(BOT_TEST_DATABASE_URL=postgresql+asyncpg://...)")


@pytest.fixture
async def two(tmp_path, database_url):
    api = FakeBotAPI()
    await api.start()
    try:
        async with workers(tmp_path, api, database_url) as started:
            yield api, started, database_url
    finally:
        await api.stop()


async def start_and_choose_basic(api: FakeBotAPI, chat: int, *to: Worker) -> list[dict]:
    """/start through the first worker, then the click on "basic" through every worker at
    once; what the bot sent the merchant."""
    assert await to[0].post(api.updates.text(chat, "/start", "en")) == 200
    menu = (await settle(api, chat, 1))[-1]
    click = api.updates.click(chat, menu, button_data(menu, "basic"), "en")
    before = len(api.to(chat))
    statuses = await asyncio.gather(*(w.post(click) for w in to))
    assert set(statuses) == {200}, logs(to)
    return await settle(api, chat, before + 1)


async def test_the_same_update_to_both_workers_at_once_is_applied_once(two):
    api, (a, b), url = two
    once = await start_and_choose_basic(api, 700, a)  # the reference: delivered once
    twice = await start_and_choose_basic(api, 701, a, b)
    assert read(url, "SELECT count(*) FROM turns WHERE channel = 'telegram'"
                " AND update_key IS NOT NULL") == [
        (4,)]
    assert read(url, "SELECT user_key, version FROM merchants ORDER BY user_key") == [
        ("700", 2), ("701", 2)]  # /start, then the click: each applied once
    assert texts(twice) == texts(once), logs([a, b])  # answered once, as if delivered once


async def test_a_new_merchant_writing_to_both_workers_at_once(two):
    api, (a, b), url = two
    first, second = api.updates.text(702, "/start", "en"), api.updates.text(702, "/help", "en")
    statuses = await asyncio.gather(a.post(first), b.post(second))
    assert statuses == [200, 200], logs([a, b])
    sent = "\n".join(texts(await settle(api, 702, 2)))
    assert read(url, "SELECT count(*) FROM merchants WHERE user_key = '702'") == [(1,)]
    assert "something went wrong" not in sent, logs([a, b])  # no apology: both applied
    assert read(url, "SELECT count(*) FROM turns WHERE channel = 'telegram'"
                " AND update_key IS NOT NULL") == [
        (2,)]
