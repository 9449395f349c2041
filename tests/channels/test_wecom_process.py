"""The real process: ``python -m bot run`` with WECOM_* set, against a fake WeCom API on loopback.

The test plays WeCom: it POSTs encrypted callbacks to the bot's WECOM_LISTEN port and reads what
the bot sends through the fake message/send. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from dbkit import read
from fake_wecom import (
    AES_KEY,
    AGENT_ID,
    CORP_ID,
    SECRET,
    TOKEN,
    FakeWeCom,
    envelope,
    event_xml,
    image_xml,
    minimal_pdf,
    png,
    text_xml,
    verification,
)

ROOT = Path(__file__).resolve().parents[2]
PATH = "/wecom/callback"
START_TIMEOUT = 60
REPLY_TIMEOUT = 20
USER = "ZhangWei"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Bot:
    """One ``python -m bot run`` subprocess, restartable on the same data directory."""

    def __init__(self, tmp: Path, api_base: str, database_url: str) -> None:
        self.tmp = tmp
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("WECOM_", "BOT_", "TELEGRAM_"))}
        self.env.update({
            "PYTHONPATH": str(ROOT), "BOT_DATA_DIR": str(tmp / "data"), "BOT_LOG_LEVEL": "INFO",
            "BOT_DATABASE_URL": database_url,
            "WECOM_CORP_ID": CORP_ID, "WECOM_AGENT_ID": AGENT_ID, "WECOM_SECRET": SECRET,
            "WECOM_TOKEN": TOKEN, "WECOM_ENCODING_AES_KEY": AES_KEY,
            "WECOM_LISTEN": f"127.0.0.1:{self.port}", "WECOM_API_BASE": api_base,
            "BOT_PUBLIC_URL": self.url,
        })
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def log(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.tmp.glob("bot-*.log")))

    async def start(self, http: aiohttp.ClientSession) -> None:
        self.starts += 1
        out = open(self.tmp / f"bot-{self.starts}.log", "wb")  # noqa: SIM115 (closed in stop)
        self._out = out
        # cwd is the temporary directory: a developer's .env must not leak into the test
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=self.tmp, env=self.env,
            stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.returncode is not None:
                raise AssertionError(f"the bot exited early:\n{self.log}")
            try:
                async with http.get(f"{self.url}{PATH}") as resp:
                    if resp.status == 403:  # listening (and refusing an unsigned GET)
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.2)
        raise AssertionError(f"the bot did not start in {START_TIMEOUT} s:\n{self.log}")

    async def kill(self) -> None:
        """kill -9: no clean-up of any kind."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(self.proc.wait(), 10)
        self._out.close()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await asyncio.wait_for(self.proc.wait(), 10)
            self._out.close()


@pytest.fixture
async def world(tmp_path, database_url):
    fake = FakeWeCom()
    await fake.start()
    bot = Bot(tmp_path, fake.base_url, database_url)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        try:
            await bot.start(http)
            yield fake, bot, http
        finally:
            await bot.stop()
    await fake.stop()


class Merchant:
    """Plays one WeCom member talking to the bot."""

    def __init__(self, fake: FakeWeCom, bot: Bot, http: aiohttp.ClientSession) -> None:
        self.fake, self.bot, self.http = fake, bot, http
        self.msg_id = 5_000_000

    async def post(self, inner: str) -> tuple[str, bytes]:
        query, body = envelope(inner)
        await self.post_raw(query, body)
        return query, body

    async def post_raw(self, query: str, body: bytes) -> None:
        async with self.http.post(f"{self.bot.url}{PATH}?{query}", data=body) as resp:
            assert resp.status == 200, self.bot.log
            assert await resp.read() == b""

    async def expect_reply(self, before: int) -> str:
        try:
            texts = await self.fake.wait_texts(USER, before + 1, REPLY_TIMEOUT)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- bot log ---\n{self.bot.log}") from None
        return "\n".join(texts[before:])

    async def say(self, text: str) -> str:
        before = len(self.fake.texts(USER))
        self.msg_id += 1
        await self.post(text_xml(USER, text, self.msg_id))
        return await self.expect_reply(before)


def db_rows(bot: Bot, sql: str) -> list[tuple]:
    return read(bot.database_url, sql)


async def test_url_verification(world):
    fake, bot, http = world
    query, echo = verification("1288432023552776189")
    async with http.get(f"{bot.url}{PATH}?{query}") as resp:
        assert resp.status == 200
        assert await resp.read() == echo.encode()
    async with http.get(f"{bot.url}{PATH}?{query.replace('nonce=', 'nonce=1')}") as resp:
        assert resp.status == 403
        assert await resp.read() == b""


async def test_full_chinese_basic_certification(world):
    fake, bot, http = world
    merchant = Merchant(fake, bot, http)

    await merchant.post(event_xml(USER, "enter_agent", int(time.time())))
    menu = await merchant.expect_reply(0)
    assert "请问您想做什么？" in menu  # Chinese by default
    number = re.search(r"^(\d+)\. 基本认证$", menu, re.MULTILINE)  # choices are numbered
    assert number, menu

    reply = await merchant.say(number.group(1))
    assert "您的公司名称是什么？" in reply
    reply = await merchant.say("宁波海岸贸易有限公司")
    assert "营业执照扫描件" in reply
    assert f"{bot.url}/upload/" in reply

    # the access token expires mid-conversation: the bot fetches a new one by itself
    fake.expire_tokens()
    tokens_before = fake.gettoken_calls
    media_id = fake.add_media(png(900, 700), "image/png", "营业执照.png")
    before = len(fake.texts(USER))
    merchant.msg_id += 1
    image = await merchant.post(image_xml(USER, media_id, merchant.msg_id))
    reply = await merchant.expect_reply(before)
    assert "已收到 营业执照.png" in reply
    assert "有效期" in reply
    assert fake.gettoken_calls == tokens_before + 1
    assert "media/get" in fake.calls

    # WeCom retries the same callback: 200, nothing changes, nothing is sent
    sent = len(fake.sent)
    await merchant.post_raw(*image)
    await asyncio.sleep(1.0)
    assert len(fake.sent) == sent
    assert db_rows(bot, "select count(*) from documents") == [(1,)]

    # kill -9 and restart: the conversation goes on where it was
    await bot.kill()
    await bot.start(http)
    downloads = fake.calls.count("media/get")
    await merchant.post_raw(*image)  # a retry reaching the new process is still a duplicate
    await asyncio.sleep(1.0)
    assert len(fake.sent) == sent
    assert fake.calls.count("media/get") == downloads  # not even downloaded again
    assert db_rows(bot, "select count(*) from documents") == [(1,)]

    reply = await merchant.say("长期")
    assert "统一社会信用代码" in reply
    reply = await merchant.say("91330106MA2B3C4D5D")
    assert "法人" in reply
    await merchant.say("张伟")
    await merchant.say("11010519491231002X")
    await merchant.say("sales@example.com")
    reply = await merchant.say("+86 138 0013 8000")
    assert "税务登记证" in reply
    link = re.search(rf"{re.escape(bot.url)}/upload/\S+", reply).group(0)

    # the PDF through the one-time upload page
    async with http.get(link) as resp:
        assert resp.status == 200
        page = await resp.text()
        assert "PDF" in page and '<html lang="zh-CN">' in page
    before = len(fake.texts(USER))
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(minimal_pdf()), filename="税务登记证.pdf",
                   content_type="application/pdf")
    async with http.post(link, data=form) as resp:
        assert resp.status == 200, await resp.text()
        assert "已收到 税务登记证.pdf" in await resp.text()
    reply = await merchant.expect_reply(before)  # the chat continues by itself
    assert "组织机构代码证" in reply
    async with http.get(link) as resp:
        assert resp.status == 410  # used up

    reply = await merchant.say("完成")
    assert "宁波海岸贸易有限公司" in reply  # the summary
    assert "11010519491231002X" not in reply  # the ID masked
    assert "基本认证的内容就到这里" in reply
    assert "接下来您想做什么？" in reply and "1. 认证入口在哪里" in reply  # back at the menu

    docs = db_rows(bot, "select category, name, kind from documents order by id")
    assert docs == [("business_license", "营业执照.png", "png"),
                    ("tax_registration", "税务登记证.pdf", "pdf")]
    assert all(len(text.encode()) <= 2048 for text in fake.texts(USER))
    assert "11010519491231002X" not in bot.log
    assert SECRET not in bot.log and "access_token=" not in bot.log
