"""A handoff end to end: the real ``python -m bot run`` with the console at BOT_ADMIN_LISTEN,
a merchant on the fake Bot API, an operator in the console over HTTP."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys

import aiohttp
import pytest
from fake_telegram import FakeBotAPI, Person
from test_telegram_process import BotProcess, free_port

PASSWORD = "correct horse battery"


@pytest.fixture
async def api():
    server = FakeBotAPI()
    await server.start()
    yield server
    await server.stop()


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


START = 90.0  # a start-up on a loaded machine (two processes' imports, migrations)


async def until_up(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(int(START * 10)):
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the console did not start")


async def test_a_merchant_asks_for_a_person_and_an_operator_answers(tmp_path, api,
                                                                   database_url):
    listen = f"127.0.0.1:{free_port()}"
    bot = BotProcess(tmp_path, api, database_url, BOT_ADMIN_LISTEN=listen, BOT_TEAM_HOURS="9:00-18:00")
    added = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "bot", "admin", "add-user", "lin", "--role",
                         "operator"], input=PASSWORD + "\n", text=True, cwd=tmp_path,
        env=bot.env, capture_output=True, timeout=120, check=False)
    assert added.returncode == 0, added.stderr
    try:
        bot.spawn()
        base = f"http://{listen}/admin"
        await until_up(base + "/login")
        await api.until(lambda: any(n == "getUpdates" for n, _ in api.calls), timeout=START)
        person = Person(api, 801, "zh-hans")
        await person.say("/start")
        out = await person.say("转人工")
        assert "9:00-18:00" in out[-1]["text"] and "工作人员" in out[-1]["text"]
        out = await person.say("营业执照过期了怎么办？")
        assert out == []  # the guide stays silent: the message waits for a person

        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(base + "/login") as page:
                token = csrf(await page.text())
            async with http.post(base + "/login", data={
                    "username": "lin", "password": PASSWORD, "csrf_token": token}) as signed:
                assert signed.status == 200 and str(signed.url).endswith("/admin/")
            async with http.get(base + "/inbox") as inbox:
                html = await inbox.text()
            merchant = re.search(r'id="inbox-(\d+)"', html).group(1)
            token = csrf(html)
            seen = len(person.inbox)
            async with http.post(f"{base}/merchants/{merchant}/reply", data={
                    "text": "您好，请上传新的营业执照。", "csrf_token": token}) as replied:
                assert replied.status == 200
                assert "您好，请上传新的营业执照。" in await replied.text()
            await api.until(lambda: len(person.inbox) > seen)
            assert person.inbox[-1]["text"] == "您好，请上传新的营业执照。"

            seen = len(person.inbox)
            async with http.post(f"{base}/merchants/{merchant}/release",
                                 data={"csrf_token": token}) as released:
                assert released.status == 200
            await api.until(lambda: len(person.inbox) >= seen + 2)
            back = person.inbox[seen:]
            assert "已回到认证向导" in back[0]["text"]
            assert back[-1].get("reply_markup")  # the menu's question, with its buttons

        out = await person.say("/status")  # the guide answers again
        assert out
    finally:
        await bot.stop()
    assert "您好，请上传新的营业执照。" not in bot.log()
