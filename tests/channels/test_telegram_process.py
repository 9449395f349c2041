"""The real process, ``python -m bot run``, against a fake Bot API server on loopback."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from dbkit import on_postgresql, read
from fake_telegram import TOKEN, WAIT, FakeBotAPI, Person, button_ids, picture

from bot.content import load_guide
from bot.engine.validators import id_check_char, uscc_check_char

ROOT = Path(__file__).resolve().parents[2]
ID = "33010619850317461" + id_check_char("33010619850317461")
PHONE = "13812345678"
USCC = "91330106MA2B3C4D5" + uscc_check_char("91330106MA2B3C4D5")
SECRET = "right-secret_1"
START_WAIT = 120.0  # seconds for a new process to import and start, on a loaded machine


class BotProcess:
    def __init__(self, tmp_path: Path, api: FakeBotAPI, database_url: str,
                 library: str = "aiogram", **env: str) -> None:
        self.tmp = tmp_path
        self.api = api
        self.data = tmp_path / "data"
        self.log_path = tmp_path / "bot.log"
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("BOT_", "TELEGRAM_", "WECOM_"))}
        self.env = {**base, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_SERVER": api.url,
                    "BOT_DATA_DIR": str(self.data), "BOT_DATABASE_URL": database_url,
                    "TELEGRAM_POLL_TIMEOUT": "1",
                    "TELEGRAM_LIBRARY": library, "PYTHONPATH": str(ROOT),
                    "PYTHONUNBUFFERED": "1", "BOT_LOG_LEVEL": "INFO",
                    "BOT_UPLOAD_LISTEN": f"127.0.0.1:{free_port()}", **env}
        self.database_url = database_url
        self.proc: subprocess.Popen | None = None

    async def start(self) -> None:
        calls = len(self.api.calls)
        self.spawn()
        ready = "setWebhook" if "TELEGRAM_WEBHOOK_URL" in self.env else "getUpdates"
        try:
            await self.api.until(lambda: any(n == ready for n, _ in self.api.calls[calls:])
                                 or self.proc.poll() is not None, timeout=START_WAIT)
        except TimeoutError:
            raise AssertionError(f"the bot did not start:\n{self.log()}") from None
        assert self.proc.poll() is None, f"the bot exited:\n{self.log()}"

    def spawn(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=self.tmp,
                                         env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # SIGKILL: no clean-up of any kind
        self.proc.wait(WAIT)

    async def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            await asyncio.to_thread(self.proc.wait, WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(WAIT)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def documents(self, category: str) -> list[tuple[str, str]]:
        return read(self.database_url, "SELECT name, sha256 FROM documents WHERE category = "
                    ":category ORDER BY id", category=category)


@pytest.fixture
async def api():
    server = FakeBotAPI()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(params=["aiogram", "ptb", "botapi"])
def library(request):
    if request.param == "ptb":
        pytest.importorskip("telegram", reason="pip install .[ptb]")
    return request.param


@pytest.fixture
async def bot(tmp_path, api, library, database_url):
    process = BotProcess(tmp_path, api, database_url, library)
    yield process
    await process.stop()


@pytest.fixture(scope="module")
def zh():
    guide = load_guide()

    def text(flow: str, step: str) -> str:
        return guide.render.text("zh_CN", guide.flows[flow].steps[step].text)

    return text


def texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


async def test_a_full_chinese_basic_certification_with_uploads(bot, api, zh):
    await bot.start()
    person = Person(api, 501, "zh-hans")
    out = await person.say("/start")
    assert "basic" in button_ids(out[-1])
    out = await person.click(out[-1], "basic")
    assert zh("basic", "company_name") in texts(out)
    out = await person.say("杭州星辰贸易有限公司")
    assert zh("basic", "license") in out[-1]["text"]
    out = await person.send_document(picture(1200, 1600, "JPEG", seed=1), "营业执照.jpg")
    assert "营业执照.jpg" in texts(out) and zh("basic", "license_end") in out[-1]["text"]
    out = await person.say("长期")
    assert zh("basic", "uscc") in out[-1]["text"]
    out = await person.say(USCC)
    assert zh("basic", "legal_name") in out[-1]["text"]
    out = await person.say("张伟")
    out = await person.say(ID)
    assert zh("basic", "email") in out[-1]["text"]
    out = await person.say("sales@example.com")
    out = await person.say(PHONE)
    assert zh("basic", "tax_cert") in out[-1]["text"]
    out = await person.send_photo(picture(1000, 1400, "JPEG", seed=7), 1000, 1400)
    assert zh("basic", "org_code") in out[-1]["text"]  # a photo, compressed by Telegram
    out = await person.click(out[-1], "done")
    summary = texts(out)
    assert "杭州星辰贸易有限公司" in summary and USCC in summary
    assert zh("basic", "review").split("{")[0][:10] in summary
    assert "basic" in button_ids(out[-1])  # back at the main menu
    everything = texts(person.inbox)
    assert ID not in everything  # the ID number is only ever shown masked
    assert ID not in bot.log() and PHONE not in bot.log()
    assert len(bot.documents("tax_registration")) == 1
    (license_,) = bot.documents("business_license")
    assert license_[0] == "营业执照.jpg"
    if on_postgresql():  # kept in the database, for every host (BOT_FILE_STORE=database)
        assert read(bot.database_url, "SELECT name FROM blobs WHERE name LIKE '%.jpg'")
    else:
        assert list((bot.data / "files").rglob("*.jpg"))
    assert TOKEN not in bot.log() and TOKEN.split(":")[1] not in bot.log()
    assert set(api.commands) == {None, "zh", "en"}
    assert [c["command"] for c in api.commands["zh"]][:3] == ["start", "back", "cancel"]
    pressed = [p for n, p in api.calls if n == "editMessageReplyMarkup"]
    assert pressed and all(not p.get("reply_markup") for p in pressed)


async def start_factory(person: Person) -> dict:
    out = await person.say("/start")
    out = await person.click(out[-1], "factory")
    return out[-1]


async def test_an_album_is_stored_whole_and_answered_once(bot, api):
    await bot.start()
    person = Person(api, 502, "zh-CN")
    question = await start_factory(person)
    assert "done" in button_ids(question)
    photos = [(picture(1000, 800, "JPEG" if i % 2 else "PNG", seed=i), 1000, 800)
              for i in range(1, 6)]
    out = await person.send_album(photos, group="album-1")
    assert len(out) == 1  # one answer for five photos
    assert "done" in button_ids(out[0])
    stored = bot.documents("production_line")
    assert len(stored) == 5
    ids = [int(name.removeprefix("photo_").removesuffix(".jpg")) for name, _ in stored]
    assert ids == sorted(ids)  # in the photos' message order


async def test_a_duplicated_update_is_applied_once(bot, api, zh):
    await bot.start()
    person = Person(api, 503, "zh-hans")
    out = await person.say("/start")
    await person.click(out[-1], "basic")
    update = api.updates.text(person.id, "杭州星辰贸易有限公司", "zh-hans")
    first = await person.send(update)
    assert zh("basic", "license") in first[-1]["text"]
    again = await person.send(update)  # Telegram delivers it once more
    assert again == []
    out = await person.send_document(picture(1200, 1600, "PNG", seed=2), "license.png")
    assert zh("basic", "license_end") in out[-1]["text"]


async def test_kill_9_and_restart_continue_exactly(bot, api, zh):
    await bot.start()
    person = Person(api, 504, "zh-hans")
    out = await person.say("/start")
    await person.click(out[-1], "basic")
    await person.say("杭州星辰贸易有限公司")

    # killed before the license was stored: Telegram delivers it again and it is applied
    api.hung.clear()
    api.hang.add("getFile")
    seen = len(person.inbox)
    license_update = api.updates.document(person.id, picture(1200, 1600, seed=4), "lic.jpg",
                                          "zh-hans")
    await api.push(license_update)
    await asyncio.wait_for(api.hung.wait(), WAIT)
    bot.kill()
    assert not bot.documents("business_license")
    await bot.start()
    await api.until(lambda: api.confirmed(license_update["update_id"]))
    assert zh("basic", "license_end") in person.inbox[-1]["text"]
    assert len(bot.documents("business_license")) == 1
    out = await person.say("长期")
    assert zh("basic", "uscc") in out[-1]["text"]

    # killed after the answer was saved, before the reply went out: nothing is applied twice
    api.hung.clear()
    api.hang.add("sendMessage")
    uscc_update = api.updates.text(person.id, USCC, "zh-hans")
    seen = len(person.inbox)
    await api.push(uscc_update)
    await asyncio.wait_for(api.hung.wait(), WAIT)
    bot.kill()
    await bot.start()
    await api.until(lambda: api.confirmed(uscc_update["update_id"]))
    # the redelivered answer is not applied again, but its lost reply is made good: the
    # merchant gets the current question once
    (again,) = person.inbox[seen:]
    assert zh("basic", "legal_name") in again["text"]
    out = await person.say("张伟")
    assert zh("basic", "legal_id") in out[-1]["text"]  # right after the legal name
    out = await person.say("/status")
    assert USCC in texts(out) and "张伟" in texts(out)
    assert len(bot.documents("business_license")) == 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_webhook_mode_checks_the_secret(tmp_path, api, library, database_url):
    port = free_port()
    bot = BotProcess(tmp_path, api, database_url, library,
                     TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{port}/tg/hook",
                     TELEGRAM_WEBHOOK_LISTEN=f"127.0.0.1:{port}",
                     TELEGRAM_WEBHOOK_SECRET=SECRET)
    try:
        await bot.start()
        assert api.webhook["secret_token"] == SECRET
        assert api.webhook["url"].endswith("/tg/hook")
        start = api.updates.text(505, "/start", "zh-hans")
        assert await api.deliver(start, "wrong") == 401
        assert await api.deliver(start, None) == 401
        assert api.to(505) == []
        person = Person(api, 505, "zh-hans", webhook_secret=SECRET)
        out = await person.send(start)
        assert "basic" in button_ids(out[-1])
        assert await person.send(start) == []  # delivered twice, answered once
        question = (await person.click(out[-1], "factory"))[-1]
        assert "done" in button_ids(question)
        photos = [(picture(1000, 800, seed=10 + i), 1000, 800) for i in range(3)]
        out = await person.send_album(photos, group="album-w")
        assert len(out) == 1 and len(bot.documents("production_line")) == 3
        assert not any(n == "getUpdates" for n, _ in api.calls)
    finally:
        await bot.stop()


async def test_a_409_conflict_is_reported_plainly(bot, api):
    api.conflict = True
    bot.spawn()
    code = await asyncio.to_thread(bot.proc.wait, START_WAIT)
    assert code != 0
    assert "another copy of this bot" in bot.log()
    assert "Traceback" not in bot.log()
