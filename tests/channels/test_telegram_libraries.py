"""Every Telegram library through the same ``serve`` pieces, against the fake Bot API on
loopback: an album reaches the service as one event and gets one answer; python-telegram-bot
runs with no aiogram installed at all."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fake_telegram import TOKEN, FakeBotAPI, Person, button_ids, picture
from test_telegram_process import BotProcess

from bot.channels.telegram.botapi import BotAPI
from bot.channels.telegram.core import TelegramChannel
from bot.channels.telegram.serve import open_library
from bot.config import Settings
from bot.content import load_guide
from bot.engine.model import Files
from bot.service import Service
from bot.store.db import Database
from bot.store.files import FileStore

TINY = Path(__file__).with_name("tiny")
UID = 9100
LIBRARIES = ["aiogram", "ptb", "botapi"]


class Watched(Service):
    """The real service; it also notes what the channel asked of it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.events: list = []
        self.notices = 0

    async def handle(self, channel, user_key, event, **kwargs):
        self.events.append(event)
        return await super().handle(channel, user_key, event, **kwargs)

    async def notice(self, channel, user_key, message):
        self.notices += 1
        return await super().notice(channel, user_key, message)


@pytest.fixture
async def api():
    server = FakeBotAPI()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def service(tmp_path, database_url):
    db = Database(database_url)
    await db.migrate()
    yield Watched(load_guide(TINY / "dialogs", TINY / "locales"), db,
                  FileStore(tmp_path / "files"))
    await db.close()


@pytest.fixture(params=LIBRARIES)
async def library(request, api, service):
    if request.param == "ptb":
        pytest.importorskip("telegram", reason="pip install .[ptb]")
    settings = Settings(_env_file=None, telegram_bot_token=TOKEN, telegram_api_server=api.url,
                        telegram_library=request.param)
    client = BotAPI(TOKEN, api.url)
    lib = open_library(settings, client)
    channel = TelegramChannel(service, lib.transport, album_wait=0.05)
    lib.attach(channel)
    await lib.start()
    yield lib
    await lib.stop()
    await channel.drain(5)
    await lib.close()
    await client.close()


async def feed(api: FakeBotAPI, lib, *updates: dict) -> list[dict]:
    seen = len(api.to(UID))
    await asyncio.wait_for(asyncio.gather(*(lib.feed(u) for u in updates)), 20)
    return api.to(UID)[seen:]


def click(api: FakeBotAPI, message: dict, choice_id: str) -> dict:
    data = next(b["callback_data"] for row in message["reply_markup"]["inline_keyboard"]
                for b in row if b["callback_data"].startswith(f"c|{choice_id}|"))
    return api.updates.click(UID, message, data, "en")


async def test_an_album_is_one_event_with_one_answer(api, service, library):
    u = api.updates
    menu = (await feed(api, library, u.text(UID, "/start", "en")))[-1]
    await feed(api, library, click(api, menu, "form"))
    kinds = (await feed(api, library, u.text(UID, "Acme Trading Co", "en")))[-1]
    await feed(api, library, click(api, kinds, "maker"))
    await feed(api, library, u.document(UID, picture(seed=5), "license.jpg", "en"))
    service.events.clear()
    notices = service.notices
    group = [u.photo(UID, picture(900, 700, seed=i), 900, 700, "en", group="a1")
             for i in range(1, 4)]
    sent = await feed(api, library, *reversed(group))
    (event,) = service.events  # one call of the service for the whole album
    assert isinstance(event, Files)
    assert [f.name for f in event.uploads] == [
        f"photo_{g['message']['message_id']}.jpg" for g in group]  # in message order
    assert service.notices == notices  # no probe of the current step
    assert len(sent) == 1 and sent[0]["text"].count("Received photo_") == 3
    assert "done" in button_ids(sent[0])


async def test_an_album_at_a_question_without_files_is_refused_once(api, service, library):
    u = api.updates
    menu = (await feed(api, library, u.text(UID, "/start", "en")))[-1]
    await feed(api, library, click(api, menu, "form"))
    group = [u.photo(UID, picture(900, 700, seed=i), 900, 700, "en", group="a2")
             for i in range(1, 3)]
    sent = await feed(api, library, *group)
    assert len(service.events) == 3 and isinstance(service.events[-1], Files)
    assert len(sent) == 1 and sent[0]["text"].count("does not take files") == 1
    assert "What is the company name?" in sent[0]["text"]


async def test_python_telegram_bot_runs_without_aiogram(tmp_path, api, database_url):
    pytest.importorskip("telegram", reason="pip install .[ptb]")
    blocker = tmp_path / "no_aiogram" / "aiogram"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text(
        "raise ImportError('aiogram is not installed here')\n", encoding="utf-8")
    root = Path(__file__).resolve().parents[2]
    bot = BotProcess(tmp_path, api, database_url, "ptb", PYTHONPATH=f"{blocker.parent}{':'}{root}")
    await bot.start()
    try:
        person = Person(api, 9200, "en")
        out = await person.say("/start")
        assert "basic" in button_ids(out[-1])
        out = await person.click(out[-1], "basic")
        assert out and "aiogram is not installed" not in bot.log()
    finally:
        await bot.stop()
    assert "Traceback" not in bot.log()


@pytest.mark.parametrize("name", LIBRARIES)
async def test_a_refused_token_ends_the_process_with_one_plain_sentence(tmp_path, api, name,
                                                                        database_url):
    if name == "ptb":
        pytest.importorskip("telegram", reason="pip install .[ptb]")
    bot = BotProcess(tmp_path, api, database_url, name, TELEGRAM_BOT_TOKEN="123456789:not-the-right-token")
    bot.spawn()
    code = await asyncio.to_thread(bot.proc.wait, 60)
    assert code == 1
    assert "Telegram did not accept TELEGRAM_BOT_TOKEN" in bot.log()
    assert "Traceback" not in bot.log() and "not-the-right-token" not in bot.log()
