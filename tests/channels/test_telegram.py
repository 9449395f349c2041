"""The Telegram adapter with aiogram's real Bot on a recording session, the real engine and
service on SQLite, and a tiny flow of its own (tests/channels/tiny)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from fake_telegram import TOKEN, RecordingSession, Updates, picture
from sqlalchemy import select

from bot.channels.telegram.aiogram_transport import AiogramTransport, make_bot
from bot.channels.telegram.core import TelegramChannel
from bot.channels.telegram.render import CALLBACK_LIMIT
from bot.content import load_guide
from bot.engine.machine import COMMANDS
from bot.engine.model import Choice, Expect, Reply
from bot.service import Result, Service
from bot.store.db import Database
from bot.store.files import FileStore
from bot.store.models import Document, Merchant, Turn
from bot.web.upload import UploadPage

TINY = Path(__file__).with_name("tiny")
ID = "11010519491231002X"
UID = 7001


class Rig:
    """A channel wired to a recording session; ``feed`` hands it updates as Telegram would."""

    def __init__(self, service: Service, updates: Updates,
                 uploads: UploadPage | None = None) -> None:
        self.service = service
        self.updates = updates
        self.session = RecordingSession(updates.files)
        self.sleeps: list[float] = []

        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        from bot.channels.telegram.retry import Backoff

        self.backoff = Backoff(sleep=sleep)
        self.bot = make_bot(TOKEN, "http://127.0.0.1:9", backoff=self.backoff,
                            session=self.session)
        self.channel = TelegramChannel(service, AiogramTransport(self.bot, self.backoff),
                                       album_wait=0.05, album_max_wait=2.0, uploads=uploads)

    def update(self, data: dict) -> dict:
        return data  # the channel reads the Bot API's JSON as every library hands it over

    async def feed(self, *updates: dict) -> list:
        seen = len(self.session.sent())
        futures = [self.channel.accept(self.update(u)) for u in updates]
        await asyncio.wait_for(asyncio.gather(*futures), 10)
        return self.session.sent()[seen:]

    async def say(self, text: str, language: str | None = "en", user: int = UID) -> list:
        return await self.feed(self.updates.text(user, text, language))

    async def press(self, message, choice_id: str, language: str | None = "en",
                    user: int = UID) -> list:
        data = next(b.callback_data for row in message.reply_markup.inline_keyboard
                    for b in row if (b.callback_data or "").startswith(f"c|{choice_id}|"))
        as_json = {"message_id": 1, "text": message.text}
        update = self.updates.click(user, as_json, data, language)
        update["callback_query"]["message"]["message_id"] = self.message_id(message)
        return await self.feed(update)

    def message_id(self, method) -> int:
        return self.session.message_ids[id(method)]


def keyboard(method) -> list[str]:
    markup = method.reply_markup
    return [b.callback_data for row in markup.inline_keyboard for b in row] if markup else []


@pytest.fixture(scope="module")
def guide():
    return load_guide(TINY / "dialogs", TINY / "locales")


@pytest.fixture
async def service(tmp_path, guide, database_url):
    db = Database(database_url)
    await db.migrate()
    service = Service(guide, db, FileStore(tmp_path / "files"))
    yield service
    await service.close()  # its marks of sent replies, still lingering
    await db.close()


@pytest.fixture
def rig(service):
    return Rig(service, Updates())


async def at_photos(rig: Rig) -> None:
    menu = (await rig.say("/start"))[-1]
    await rig.press(menu, "form")
    kinds = (await rig.say("Acme Trading Co"))[-1]
    await rig.press(kinds, "maker")
    await rig.feed(rig.updates.document(UID, picture(), "license.jpg", "en"))


async def rows(service, model, **where):
    async with service.db.session() as session:
        query = select(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return list(await session.scalars(query.order_by(model.id)))


# -- language, keyboards, buttons -------------------------------------------------------------
@pytest.mark.parametrize("tag", ["zh", "zh-hans", "zh-CN", "zh-TW", "zh-hant"])
async def test_any_chinese_language_code_starts_in_chinese(rig, tag):
    sent = await rig.say("/start", language=tag)
    assert "您想做什么？" in sent[-1].text
    assert [b.text for row in sent[-1].reply_markup.inline_keyboard for b in row] == ["填写表格"]


async def test_the_merchants_choice_of_language_sticks(rig):
    await rig.say("/start", language="en")
    await rig.say("/lang zh")
    sent = await rig.say("/start", language="en")
    assert "您想做什么？" in sent[-1].text


async def test_buttons_carry_ids_and_a_step_token_within_64_bytes(rig):
    sent = await rig.say("/start")
    (data,) = keyboard(sent[-1])
    kind, choice, token = data.split("|")
    assert (kind, choice) == ("c", "form") and len(token) == 6
    assert len(data.encode()) <= CALLBACK_LIMIT


async def test_a_press_is_answered_moves_on_and_removes_the_keyboard(rig):
    menu = (await rig.say("/start"))[-1]
    sent = await rig.press(menu, "form")
    assert rig.session.calls("answerCallbackQuery")
    (edit,) = rig.session.calls("editMessageReplyMarkup")
    assert edit.message_id == rig.message_id(menu) and edit.reply_markup is None
    assert "What is the company name?" in sent[-1].text


async def test_a_button_of_an_answered_question_gets_already_answered(rig, service):
    menu = (await rig.say("/start"))[-1]
    await rig.press(menu, "form")
    kinds = (await rig.say("Acme Trading Co"))[-1]
    sent = await rig.press(menu, "form")  # the old menu again
    assert "already answered" in sent[0].text
    assert "Which kind of company?" in sent[-1].text
    (merchant,) = await rows(service, Merchant)
    assert merchant.state["step"] == "kind"
    sent = await rig.press(kinds, "trader")
    assert "Send the business license." in sent[-1].text


async def test_unreadable_callback_data_counts_as_stale(rig):
    menu = (await rig.say("/start"))[-1]
    await rig.press(menu, "form")
    update = rig.updates.click(UID, {"message_id": 1, "text": ""}, "garbage", "en")
    sent = await rig.feed(update)
    assert "already answered" in sent[0].text
    assert "What is the company name?" in sent[-1].text


# -- exactly once ---------------------------------------------------------------------------------
async def test_a_duplicated_update_is_applied_once(rig, service):
    await rig.say("/start")
    menu = rig.session.sent()[-1]
    await rig.press(menu, "form")
    update = rig.updates.text(UID, "Acme Trading Co", "en")
    first = await rig.feed(update)
    again = await rig.feed(update)
    assert first and not again
    (merchant,) = await rows(service, Merchant)
    assert merchant.state["answers"]["company_name"] == "Acme Trading Co"
    assert merchant.state["step"] == "kind"
    keys = [p.update_key for p in await rows(service, Turn)]
    assert keys.count(str(update["update_id"])) == 1


# -- files ----------------------------------------------------------------------------------------
async def test_a_license_sent_as_a_photo_is_accepted_with_a_tip(rig, service):
    menu = (await rig.say("/start"))[-1]
    await rig.press(menu, "form")
    kinds = (await rig.say("Acme Trading Co"))[-1]
    await rig.press(kinds, "maker")
    big = picture(1600, 2000, seed=3)
    sent = await rig.feed(rig.updates.photo(UID, big, 1600, 2000, "en", size=3_000_000))
    text = "\n".join(m.text for m in sent)
    assert "Received photo_" in text
    assert "compressed this photo" in text and "as a file" in text
    (doc,) = await rows(service, Document)
    assert doc.category == "business_license" and doc.size == len(big)
    assert rig.session.downloads and rig.session.downloads[0].endswith(
        f"/file/bot{TOKEN}/documents/file1")


async def test_a_file_over_the_download_limit_gets_a_clear_message(rig, service):
    menu = (await rig.say("/start"))[-1]
    await rig.press(menu, "form")
    await rig.say("Acme Trading Co")
    update = rig.updates.document(UID, b"x", "huge.pdf", "en", size=25 * 1024 * 1024)
    sent = await rig.feed(update)
    assert "25 MB" in sent[0].text and "20 MB" in sent[0].text
    assert not rig.session.calls("getFile")
    assert "Which kind of company?" in sent[-1].text
    assert not await rows(service, Document)


async def test_getfile_saying_too_big_gets_the_same_message(rig):
    await rig.say("/start")
    rig.session.fail("getFile", 400, "Bad Request: file is too big")
    sent = await rig.feed(rig.updates.document(UID, b"x", "a.pdf", "en", size=None))
    assert "20 MB" in sent[0].text


async def test_other_messages_get_a_plain_explanation(rig):
    await rig.say("/start")
    sent = await rig.feed(rig.updates.sticker(UID, "en"))
    assert "documents and photos" in sent[0].text


# -- albums ---------------------------------------------------------------------------------------
async def test_an_album_is_stored_whole_in_message_order_with_one_answer(rig, service):
    await at_photos(rig)
    group = [rig.updates.photo(UID, picture(900, 700, seed=i), 900, 700, "en", group="g1")
             for i in range(1, 6)]
    shuffled = [group[i] for i in (3, 0, 4, 1, 2)]  # concurrent deliveries arrive any way
    sent = await rig.feed(*shuffled)
    assert len(sent) == 1
    assert sent[0].text.count("Received photo_") == 5
    assert keyboard(sent[0])[0].startswith("c|done|")
    docs = await rows(service, Document, category="photos")
    names = [d.name for d in docs]
    assert names == [f"photo_{u['message']['message_id']}.jpg" for u in group]
    processed = {p.update_key for p in await rows(service, Turn)}
    first = min(u["update_id"] for u in group)
    assert f"album:g1:{first}" in processed  # one event, applied once


async def test_an_album_redelivered_changes_nothing_and_says_nothing(rig, service):
    await at_photos(rig)
    group = [rig.updates.photo(UID, picture(900, 700, seed=i), 900, 700, "en", group="g2")
             for i in range(1, 4)]
    await rig.feed(*group)
    again = await rig.feed(*group)
    assert again == []
    assert len(await rows(service, Document, category="photos")) == 3


async def test_album_photos_beyond_the_question_are_not_stored_elsewhere(rig, service):
    menu = (await rig.say("/start"))[-1]
    await rig.press(menu, "form")
    kinds = (await rig.say("Acme Trading Co"))[-1]
    await rig.press(kinds, "maker")
    group = [rig.updates.photo(UID, picture(900, 700, seed=i), 900, 700, "en", group="g3")
             for i in range(1, 4)]
    sent = await rig.feed(*group)
    assert len(sent) == 1
    assert "2 more file(s) of this album were not used" in sent[0].text
    assert len(await rows(service, Document, category="business_license")) == 1
    assert not await rows(service, Document, category="photos")


async def test_an_album_and_a_later_text_keep_their_order(rig, service):
    await at_photos(rig)
    group = [rig.updates.photo(UID, picture(900, 700, seed=i), 900, 700, "en", group="g4")
             for i in range(1, 3)]
    done = rig.updates.text(UID, "done", "en")
    sent = await rig.feed(*group, done)
    assert len(await rows(service, Document, category="photos")) == 2
    assert "What is the ID number?" in sent[-1].text


async def test_one_merchant_in_order_others_in_parallel(rig, service):
    await at_photos(rig)
    await rig.say("/start", user=UID + 1)
    rig.session.gates["getFile"] = gate = asyncio.Event()
    photo = rig.channel.accept(rig.update(
        rig.updates.photo(UID, picture(900, 700, seed=9), 900, 700, "en")))
    after = rig.channel.accept(rig.update(rig.updates.text(UID, "done", "en")))
    other = rig.channel.accept(rig.update(rig.updates.text(UID + 1, "/status", "en")))
    await asyncio.wait_for(other, 10)  # another merchant is not held up
    assert not photo.done() and not after.done()
    gate.set()
    await asyncio.wait_for(asyncio.gather(photo, after), 10)
    (merchant,) = await rows(service, Merchant, user_key=str(UID))
    assert merchant.state["step"] == "legal_id"  # the photo came first, then "done"
    assert len(await rows(service, Document, category="photos")) == 1


# -- long texts -----------------------------------------------------------------------------------
async def test_long_replies_are_split_with_the_keyboard_on_the_last_part(rig):
    paragraph = "营业执照" * 300  # 1200 characters
    reply = Reply("\n\n".join([paragraph] * 8), (Choice("keep", "Keep"), Choice("change", "x")))
    await rig.channel._deliver(UID, Result([reply], Expect("choice", "form.name"), "en"))
    sent = rig.session.sent()
    assert len(sent) == 3
    assert all(len(m.text) <= 4096 for m in sent)
    assert [bool(m.reply_markup) for m in sent] == [False, False, True]
    assert "\n\n".join(m.text for m in sent) == reply.text


# -- resilience -----------------------------------------------------------------------------------
async def test_429_waits_retry_after_and_network_errors_back_off(rig):
    rig.session.fail("sendMessage", 429, "Too Many Requests: retry after 3", retry_after=3)
    rig.session.fail_network("sendMessage", times=2)
    sent = await rig.say("/start")
    assert rig.sleeps == [3.0, 1.0, 2.0]  # by attempt: base 0.5 doubled
    assert len(sent) == 4 and len({m.text for m in sent}) == 1  # 3 failed tries, 1 delivered


async def test_retries_are_bounded(rig, caplog):
    rig.session.fail("sendMessage", 502, "Bad Gateway", times=10)
    await rig.say("/start")
    assert len(rig.sleeps) == rig.backoff.attempts - 1
    assert max(rig.sleeps) <= rig.backoff.cap
    assert "sending the answer" in caplog.text


async def test_an_error_inside_handling_apologises_and_changes_nothing(rig, service, caplog,
                                                                        monkeypatch):
    menu = (await rig.say("/start"))[-1]
    await rig.press(menu, "form")
    real = service.guide.handle

    def broken(state, event, today):
        if getattr(event, "text", "").startswith("Acme"):
            raise RuntimeError(f"cannot handle {event.text}")
        return real(state, event, today)

    monkeypatch.setattr(service.guide, "handle", broken)
    caplog.set_level(logging.INFO)
    sent = await rig.say(f"Acme {ID} 13812345678")
    assert len(sent) == 1 and "Sorry" in sent[0].text
    assert ID not in caplog.text and "13812345678" not in caplog.text
    assert "RuntimeError" in caplog.text
    (merchant,) = await rows(service, Merchant)
    assert merchant.state["step"] == "name" and "company_name" not in merchant.state["answers"]
    monkeypatch.setattr(service.guide, "handle", real)
    sent = await rig.say("Beta Trading Co")
    assert "Which kind of company?" in sent[-1].text


async def test_commands_are_registered_in_both_languages(rig):
    await rig.channel.register_commands()
    calls = rig.session.calls("setMyCommands")
    assert [c.language_code for c in calls] == [None, "zh", "en"]
    for call in calls:
        assert [c.command for c in call.commands][:len(COMMANDS)] == list(COMMANDS)
        assert all(3 <= len(c.description) <= 256 for c in call.commands)


# -- messages the bot sends on its own ------------------------------------------------------------
async def test_a_reminder_goes_out_with_buttons_of_no_question(rig):
    menu = (await rig.say("/start"))[-1]
    reminder = Reply("Reminder: book the inspection", (Choice("rem:1:done", "Done"),))
    await rig.channel.send(str(UID), [reminder])
    sent = rig.session.sent()[-1]
    assert sent.text == reminder.text and keyboard(sent) == ["c|rem:1:done|-"]
    assert rig.channel.codec.decode("c|rem:1:done|-") == ("rem:1:done", None)
    await rig.say("/status")
    stripped = [e.message_id for e in rig.session.calls("editMessageReplyMarkup")]
    assert rig.message_id(menu) in stripped and rig.message_id(sent) not in stripped


async def test_a_blocked_merchant_is_a_permanent_delivery_error(rig):
    from bot.channels.base import DeliveryError

    rig.session.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
    with pytest.raises(DeliveryError) as failed:
        await rig.channel.send(str(UID), [Reply("Reminder")])
    assert failed.value.permanent
