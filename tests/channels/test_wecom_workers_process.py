"""Two ``python -m bot run`` WeCom workers on one PostgreSQL database, as a load balancer
spreads a member's callbacks between them. The worker that acknowledged a picture is killed
with -9 while it downloads it: the member's next message, sent to the other worker, waits for
the picture, which the live worker takes over once the dead one's claim runs out. Both are
applied, in the member's order, once."""

from __future__ import annotations

import asyncio
import re
import time

import aiohttp
import pytest
from dbkit import on_postgresql, read
from fake_wecom import FakeWeCom, envelope, event_xml, image_xml, png, text_xml
from test_wecom_process import PATH, Bot

from bot.channels.wecom.channel import CLAIM

pytestmark = pytest.mark.skipif(
    not on_postgresql(), reason="several workers share a PostgreSQL database "
    "(BOT_TEST_DATABASE_URL=postgresql+asyncpg://...)")

USER = "LiNa"


async def post(http: aiohttp.ClientSession, bot: Bot, inner: str) -> int:
    query, body = envelope(inner)
    async with http.post(f"{bot.url}{PATH}?{query}", data=body) as resp:
        await resp.read()
        return resp.status


@pytest.fixture
async def two(tmp_path, database_url):
    fake = FakeWeCom()
    await fake.start()
    bots = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        bots.append(Bot(tmp_path / name, fake.base_url, database_url))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        try:
            await asyncio.gather(*(bot.start(http) for bot in bots))
            yield fake, bots, http
        finally:
            for bot in bots:
                await bot.stop()
    await fake.stop()


async def test_a_picture_a_killed_worker_acknowledged_is_applied_before_the_next_text(two):
    fake, (a, b), http = two
    ids = iter(range(8_000_000, 8_001_000))

    async def say(bot: Bot, text: str) -> str:
        before = len(fake.texts(USER))
        assert await post(http, bot, text_xml(USER, text, next(ids))) == 200
        return "\n".join((await fake.wait_texts(USER, before + 1, 20))[before:])

    assert await post(http, a, event_xml(USER, "enter_agent", int(time.time()))) == 200
    menu = "\n".join(await fake.wait_texts(USER, 1, 20))
    number = re.search(r"^(\d+)\. 基本认证$", menu, re.MULTILINE)
    assert number, menu
    assert "您的公司名称是什么？" in await say(b, number.group(1))  # either worker answers
    assert "营业执照扫描件" in await say(a, "宁波海岸贸易有限公司")

    answered = len(fake.texts(USER))
    fake.media_delay = 10.0  # the download is slow: a is killed in the middle of it
    media_id = fake.add_media(png(900, 700), "image/png", "营业执照.png")
    assert await post(http, a, image_xml(USER, media_id, next(ids))) == 200  # kept: acknowledged
    deadline = time.monotonic() + 10
    while "media/get" not in fake.calls:
        assert time.monotonic() < deadline, a.log
        await asyncio.sleep(0.05)
    await a.kill()
    fake.media_delay = 0.0
    killed = time.monotonic()
    assert await post(http, b, text_xml(USER, "长期", next(ids))) == 200  # the next answer

    replies = await fake.wait_texts(USER, answered + 2, CLAIM + 30)
    picture, date = replies[answered:answered + 2]
    assert "已收到 营业执照.png" in picture and "有效期" in picture, b.log
    assert "统一社会信用代码" in date, b.log  # the end date after the picture, as sent
    assert time.monotonic() - killed < CLAIM + 20
    await asyncio.sleep(1.0)
    assert len(fake.texts(USER)) == answered + 2  # each answered once
    assert read(b.database_url, "SELECT category, name FROM documents") == [
        ("business_license", "营业执照.png")]
    assert read(b.database_url, "SELECT count(*) FROM inbox") == [(0,)]
