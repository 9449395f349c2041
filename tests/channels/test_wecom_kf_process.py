"""The real process: ``python -m bot run`` with only the 微信客服 (kf) settings, against a fake
kf API on loopback. The test plays WeCom: it writes the merchant's messages into the fake's
message log, POSTs the signed ``kf_msg_or_event`` callback, and reads what the bot sent."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from dbkit import read, write
from fake_kf import (
    KF_AES_KEY,
    KF_SECRET,
    KF_TOKEN,
    OPEN_KFID,
    ROBOT_KEY,
    FakeKf,
    kf_event,
    kf_verification,
)
from fake_wecom import CORP_ID, minimal_pdf, png

ROOT = Path(__file__).resolve().parents[2]
PATH = "/wecom/kf"
START_TIMEOUT = 60
REPLY_TIMEOUT = 20
QUIET = 1.5  # seconds to wait for a message that must not come


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kf_env(tmp: Path, api_base: str, port: int, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WECOM_", "BOT_", "TELEGRAM_"))}
    env.update({
        "PYTHONPATH": str(ROOT), "BOT_DATA_DIR": str(tmp / "data"), "BOT_LOG_LEVEL": "INFO",
        "BOT_DATABASE_URL": database_url,
        "WECOM_CORP_ID": CORP_ID, "WECOM_KF_SECRET": KF_SECRET, "WECOM_KF_TOKEN": KF_TOKEN,
        "WECOM_KF_ENCODING_AES_KEY": KF_AES_KEY, "WECOM_KF_SERVICER": "LiSi",
        "WECOM_ROBOT_KEY": ROBOT_KEY, "WECOM_LISTEN": f"127.0.0.1:{port}",
        "WECOM_API_BASE": api_base, "BOT_PUBLIC_URL": f"http://127.0.0.1:{port}",
    })
    return env


class Bot:
    def __init__(self, tmp: Path, api_base: str, database_url: str) -> None:
        self.tmp = tmp
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = kf_env(tmp, api_base, self.port, database_url)
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def log(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.tmp.glob("bot-*.log")))

    async def start(self, http: aiohttp.ClientSession) -> None:
        self.starts += 1
        self._out = open(self.tmp / f"bot-{self.starts}.log", "wb")  # noqa: SIM115, ASYNC230
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=self.tmp, env=self.env,
            stdin=asyncio.subprocess.DEVNULL, stdout=self._out, stderr=self._out)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.returncode is not None:
                raise AssertionError(f"the bot exited early:\n{self.log}")
            try:
                async with http.get(f"{self.url}{PATH}") as resp:
                    if resp.status == 403:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.2)
        raise AssertionError(f"the bot did not start in {START_TIMEOUT} s:\n{self.log}")

    async def kill(self) -> None:
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

    def rows(self, sql: str) -> list[tuple]:
        return read(self.database_url, sql)


@pytest.fixture
async def world(tmp_path, database_url):
    fake = FakeKf()
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
    """One WeChat user talking to the customer-service account."""

    def __init__(self, fake: FakeKf, bot: Bot, http: aiohttp.ClientSession, user: str) -> None:
        self.fake, self.bot, self.http, self.user = fake, bot, http, user

    async def callback(self) -> None:
        query, body = kf_event()
        async with self.http.post(f"{self.bot.url}{PATH}?{query}", data=body) as resp:
            assert resp.status == 200, self.bot.log
            assert await resp.read() == b""

    async def replies(self, before: int) -> str:
        deadline = time.monotonic() + REPLY_TIMEOUT
        while len(self.fake.shown(self.user)) <= before:
            if time.monotonic() > deadline:
                raise AssertionError(f"no reply to {self.user}:\n{self.bot.log}")
            await asyncio.sleep(0.1)
        count = 0
        while count != len(self.fake.shown(self.user)) and time.monotonic() < deadline:
            count = len(self.fake.shown(self.user))  # a turn may take two messages: settle
            await asyncio.sleep(0.4)
        return "\n".join(self.fake.shown(self.user)[before:])

    async def quiet(self, before: int) -> None:
        await asyncio.sleep(QUIET)
        assert self.fake.shown(self.user)[before:] == []

    async def act(self, add) -> str:
        before = len(self.fake.shown(self.user))
        add()
        await self.callback()
        return await self.replies(before)

    async def say(self, text: str) -> str:
        return await self.act(lambda: self.fake.text(self.user, text))

    async def click(self, label: str) -> str:
        (item,) = [i for i in self.fake.menu(self.user) if i["content"] == label]
        return await self.act(lambda: self.fake.text(self.user, label, menu_id=item["id"]))

    async def send_file(self, kind: str, data: bytes, ctype: str, name: str) -> str:
        media = self.fake.add_media(data, ctype, name)
        return await self.act(lambda: self.fake.media_message(self.user, kind, media))


async def test_url_verification_on_the_kf_path(world):
    fake, bot, http = world
    query, echo = kf_verification("6714066396912345678")
    async with http.get(f"{bot.url}{PATH}?{query}") as resp:
        assert resp.status == 200 and await resp.read() == echo.encode()
    async with http.get(f"{bot.url}{PATH}?{query.replace('nonce=', 'nonce=9')}") as resp:
        assert resp.status == 403 and await resp.read() == b""
    query, body = kf_event()
    async with http.post(f"{bot.url}{PATH}?{query.replace('nonce=', 'nonce=9')}",
                         data=body) as resp:
        assert resp.status == 403
    query, body = kf_event(timestamp=int(time.time()) - 3600)  # signed, but an hour old
    async with http.post(f"{bot.url}{PATH}?{query}", data=body) as resp:
        assert resp.status == 403
    assert fake.calls.count("kf/sync_msg") == 0  # nothing is pulled for a refused callback


async def test_chinese_merchant_welcome_menu_picture_pdf_crash_and_handoff(world):
    fake, bot, http = world
    m = Merchant(fake, bot, http, "wmZhangWei")

    welcome = await m.act(lambda: fake.enter(m.user, scene_param="canton_fair"))
    assert "请问您想做什么？" in welcome and "[基本认证]" in welcome
    assert len(fake.welcomes) == 1 and fake.sends(m.user) == []  # through send_msg_on_event
    assert bot.rows("select scene from kf_sessions") == [("canton_fair",)]

    reply = await m.click("基本认证")
    assert "您的公司名称是什么？" in reply
    reply = await m.say("宁波海岸贸易有限公司")
    assert "营业执照扫描件" in reply and f"{bot.url}/upload/" in reply  # large files: the page
    reply = await m.send_file("image", png(900, 700), "image/png", "营业执照.png")
    assert "已收到 营业执照.png" in reply and "有效期" in reply
    assert "media/get" in fake.calls

    # the same callback again: the stored cursor says nothing is new; nothing is said
    sent = len(fake.kf_sent)
    await m.callback()
    await m.quiet(len(fake.shown(m.user)))
    assert len(fake.kf_sent) == sent

    # kill -9, and the cursor is lost as if the crash came before it was stored; a message
    # arrives while the bot is down: after the restart nothing is replayed, nothing skipped
    await bot.kill()
    write(bot.database_url, "update kf_cursors set cursor = '1'")
    before = len(fake.shown(m.user))
    fake.text(m.user, "长期")
    await bot.start(http)
    downloads = fake.calls.count("media/get")
    await m.callback()
    reply = await m.replies(before)
    assert "统一社会信用代码" in reply and "已收到" not in reply and "公司名称" not in reply
    assert fake.calls.count("media/get") == downloads  # the picture is not fetched again
    assert bot.rows("select count(*) from documents") == [(1,)]
    assert bot.rows(f"select cursor from kf_cursors where open_kfid = '{OPEN_KFID}'") == [
        (str(len(fake.log)),)]

    for text in ("91330106MA2B3C4D5D", "张伟", "11010519491231002X", "sales@example.com"):
        await m.say(text)
    reply = await m.say("+86 138 0013 8000")
    assert "税务登记证" in reply
    reply = await m.send_file("file", minimal_pdf(), "application/pdf", "税务登记证.pdf")
    assert "已收到 税务登记证.pdf" in reply and "组织机构代码证" in reply

    # a person, please: the shared handoff answers (as on every channel), the session goes
    # to the servicer once that reply is out, staff hear of it, the bot is quiet
    reply = await m.say("转人工")
    assert "工作人员会在这里回复您" in reply and "服务时间" in reply
    to_servicer = {"open_kfid": OPEN_KFID, "external_userid": m.user, "service_state": 3,
                   "servicer_userid": "LiSi"}
    await wait_for(lambda: fake.transfers[-1:] == [to_servicer], bot)
    await wait_for(lambda: any("宁波海岸贸易有限公司" in text and "转人工" in text
                               for _, text in fake.robot), bot)
    assert bot.rows("select count(*) from handoffs where closed_at is null") == [(1,)]
    before = len(fake.shown(m.user))
    fake.staff_says(m.user, "您好，我是李四", "LiSi")
    fake.text(m.user, "营业执照上的日期怎么看？")
    await m.callback()
    await m.quiet(before)
    assert bot.rows("select serving, servicer from kf_sessions") == [("person", "LiSi")]
    # the servicer's answer is in the console's transcript; the merchant still in the inbox
    await wait_for(lambda: ("operator:LiSi",) in bot.rows("select author from turns"), bot)
    assert bot.rows("select count(*) from handoffs where closed_at is null") == [(1,)]

    # the person ends the session: the inbox lets go, the guide resumes at its question
    fake.session_ended(m.user)
    await m.callback()
    await wait_for(lambda: bot.rows("select closed_by from handoffs") == [("wecom:servicer",)],
                   bot)
    reply = await m.say("完成")  # Done at the question it was at: the summary follows
    assert "公司名称：宁波海岸贸易有限公司" in reply and "1101**********002X" in reply
    assert bot.rows("select category, name from documents order by id") == [
        ("business_license", "营业执照.png"), ("tax_registration", "税务登记证.pdf")]
    assert fake.refused == []  # nothing was ever sent that WeCom would refuse
    assert all(len(m["text"]["content"].encode()) <= 2048 for m in fake.kf_sent
               if m["msgtype"] == "text")
    assert "11010519491231002X" not in bot.log and KF_SECRET not in bot.log
    assert ROBOT_KEY not in bot.log and "access_token=" not in bot.log


async def test_english_merchant_refused_three_times_alerts_staff(world):
    fake, bot, http = world
    m = Merchant(fake, bot, http, "wmTom")
    await m.act(lambda: fake.enter(m.user))
    reply = await m.say("/lang en")
    assert "What would you like to do?" in reply
    assert "[Basic certification]" in reply
    reply = await m.click("Basic certification")
    assert "What is your company's name?" in reply
    reply = await m.say("Ningbo Coast Trading Co., Ltd.")
    assert "business license" in reply
    for attempt in range(3):
        reply = await m.send_file("file", minimal_pdf(), "application/pdf", "license.pdf")
        assert "JPG" in reply and "PNG" in reply, reply  # what is accepted, in English
    await wait_for(lambda: any("Ningbo Coast Trading" in text and "3" in text
                               for _, text in fake.robot), bot)
    # the step by its name in the team's language, not by its id
    assert any("「基本认证 › " in text and "basic.license" not in text for _, text in fake.robot)
    await wait_for(lambda: bot.rows("select kind, status from staff_alerts") == [
        ("refused", "sent")], bot)  # marked once the robot's answer is in
    # each merchant message got one or two messages back, never more
    assert max(len(group) for group in replies_per_message(fake, m.user)) <= 2


async def test_typed_language_names_numbers_and_a_session_staff_take_in_wecom(world):
    fake, bot, http = world
    m = Merchant(fake, bot, http, "wmAnna")
    welcome = await m.act(lambda: fake.enter(m.user))
    assert "请问您想做什么？" in welcome
    assert "What would you like to do?" in await m.say("English")
    assert "请问您想做什么？" in await m.say("中文")
    assert "What would you like to do?" in await m.say("English")
    # a typed number is the question's choice in the menu's order, as the engine numbers it
    assert [i["content"] for i in fake.menu(m.user)][:2] == [
        "Where to find certification", "Basic certification"]
    reply = await m.say("2")
    assert "What is your company's name?" in reply

    # a servicer takes the session inside WeCom: the merchant is in the console's inbox and
    # staff hear of it; the bot says nothing while the person serves
    fake.staff_takes(m.user, "WangWu")
    await m.callback()
    await wait_for(lambda: bot.rows(
        "select count(*) from handoffs where closed_at is null") == [(1,)], bot)
    await wait_for(lambda: any("wecom_kf" in text for _, text in fake.robot), bot)
    assert fake.transfers == []  # WeCom moved it: nothing to move
    before = len(fake.shown(m.user))
    fake.text(m.user, "Ningbo Coast Trading Co., Ltd.")
    await m.callback()
    await m.quiet(before)
    assert bot.rows("select serving, servicer from kf_sessions") == [("person", "WangWu")]

    # the servicer ends it: the inbox lets go; the guide answers at the question it was at
    fake.session_ended(m.user)
    await m.callback()
    await wait_for(lambda: bot.rows(
        "select count(*) from handoffs where closed_at is null") == [(0,)], bot)
    reply = await m.say("Ningbo Coast Trading Co., Ltd.")
    assert "business license" in reply
    assert fake.refused == []


def replies_per_message(fake: FakeKf, user: str) -> list[list[dict]]:
    """The bot's sends to ``user``, grouped by the merchant message they followed."""
    groups: dict[int, list[dict]] = {}
    for m in fake.sends(user):
        groups.setdefault(m["after"], []).append(m)
    return list(groups.values())


async def wait_for(condition, bot: Bot, timeout: float = REPLY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {timeout} s:\n{bot.log}")
        await asyncio.sleep(0.1)


async def test_a_partial_kf_configuration_names_what_is_missing(tmp_path, database_url):
    env = kf_env(tmp_path, "http://127.0.0.1:9", free_port(), database_url)
    del env["WECOM_KF_TOKEN"], env["WECOM_CORP_ID"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode != 0
    message = err.decode().strip()
    assert "WECOM_CORP_ID" in message and "WECOM_KF_TOKEN" in message
    assert "WECOM_KF_SECRET" not in message and len(message.splitlines()) == 1


async def test_both_wecom_channels_share_one_server(tmp_path, database_url):
    from fake_wecom import AES_KEY, AGENT_ID, SECRET, TOKEN, verification

    fake = FakeKf()
    await fake.start()
    bot = Bot(tmp_path, fake.base_url, database_url)
    bot.env.update({"WECOM_AGENT_ID": AGENT_ID, "WECOM_SECRET": SECRET, "WECOM_TOKEN": TOKEN,
                    "WECOM_ENCODING_AES_KEY": AES_KEY})
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        try:
            await bot.start(http)
            for path, (query, echo) in (("/wecom/callback", verification("111")),
                                        (PATH, kf_verification("222"))):
                async with http.get(f"{bot.url}{path}?{query}") as resp:
                    assert resp.status == 200 and await resp.read() == echo.encode()
            # each path takes only its own keys
            query, _ = kf_verification("333")
            async with http.get(f"{bot.url}/wecom/callback?{query}") as resp:
                assert resp.status == 403
        finally:
            await bot.stop()
    await fake.stop()
    assert "callback path(s) /wecom/callback, /wecom/kf" in bot.log
