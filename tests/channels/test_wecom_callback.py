"""The callback app with the real channel, service and a small guide, against a fake WeCom API."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from fake_wecom import (
    AGENT_ID,
    CORP_ID,
    SECRET,
    FakeWeCom,
    crypto,
    envelope,
    event_xml,
    image_xml,
    mini_guide,
    minimal_pdf,
    other_xml,
    png,
    text_xml,
    verification,
)
from sqlalchemy import func, select

from bot.channels.wecom import crypto as crypto_module
from bot.channels.wecom.api import WeComApi
from bot.channels.wecom.callback import CallbackApp, query_once
from bot.channels.wecom.channel import CHANNEL, WeComChannel
from bot.engine.model import Text
from bot.service import Service
from bot.store.db import Database
from bot.store.files import FileStore
from bot.store.models import Document, Merchant, Turn
from bot.web.upload import UploadPage

PATH = "/wecom/callback"


class Stack:
    def __init__(self, client: TestClient, fake: FakeWeCom, service: Service,
                 channel: WeComChannel, uploads: UploadPage) -> None:
        self.client = client
        self.fake = fake
        self.service = service
        self.channel = channel
        self.uploads = uploads
        self._msg_id = 1000

    def next_id(self) -> int:
        self._msg_id += 1
        return self._msg_id

    async def post(self, inner: str, **kwargs) -> aiohttp.ClientResponse:
        query, body = envelope(inner, **kwargs)
        return await self.client.post(f"{PATH}?{query}", data=body)

    async def say(self, user: str, text: str) -> list[str]:
        """Send ``text`` and return the reply messages it produced."""
        before = len(self.fake.texts(user))
        resp = await self.post(text_xml(user, text, self.next_id()))
        assert resp.status == 200 and await resp.read() == b""
        return (await self.fake.wait_texts(user, before + 1))[before:]

    async def idle(self) -> None:
        """Wait (bounded) until every queued message is processed and its replies sent."""
        for _ in range(200):
            if not self.channel._workers and not self.uploads._tasks:
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the channel did not become idle")

    async def count(self, model) -> int:
        async with self.service.db.session() as session:
            return await session.scalar(select(func.count()).select_from(model))


@pytest.fixture
async def stack(tmp_path, database_url):
    fake = FakeWeCom()
    await fake.start()
    db = Database(database_url)
    await db.migrate()
    service = Service(mini_guide(tmp_path / "dialogs"), db, FileStore(tmp_path / "files"),
                      outbox_lease=0.3)
    async with aiohttp.ClientSession() as session:
        api = WeComApi(session, base_url=fake.base_url, corp_id=CORP_ID, secret=SECRET,
                       agent_id=int(AGENT_ID))
        uploads = UploadPage(service, secret=b"s" * 32, base_url="http://127.0.0.1:1")
        channel = WeComChannel(service, api, uploads)
        uploads.register(CHANNEL, channel.deliver)
        app = web.Application()
        CallbackApp(crypto(), corp_id=CORP_ID, agent_id=AGENT_ID,
                    submit=channel.submit).add_routes(app, PATH)
        uploads.add_routes(app)
        async with TestClient(TestServer(app)) as client:
            yield Stack(client, fake, service, channel, uploads)
            await channel.close()
    await db.close()
    await fake.stop()


# -- URL verification -------------------------------------------------------------------------
async def test_url_verification_answers_the_bare_echostr(stack):
    query, echo = verification("1288432023552776189")
    resp = await stack.client.get(f"{PATH}?{query}")
    assert resp.status == 200
    assert await resp.read() == b"1288432023552776189"


async def test_url_verification_with_bad_signature_is_403_and_nothing_else(stack):
    query, _ = verification("42")
    query = query.replace("msg_signature=", "msg_signature=0")
    resp = await stack.client.get(f"{PATH}?{query}")
    assert resp.status == 403
    assert await resp.read() == b""


async def test_url_verification_refuses_a_stale_timestamp(stack):
    query, _ = verification("42", timestamp=int(time.time()) - 3600)
    resp = await stack.client.get(f"{PATH}?{query}")
    assert resp.status == 403


def test_query_is_decoded_once_and_plus_stays_plus():
    assert query_once("echostr=a+b%2Bc%3D%3D&nonce=1&nonce=2") == {"echostr": "a+b+c==",
                                                                    "nonce": "1"}
    assert query_once("echostr=%252B") == {"echostr": "%2B"}


# -- messages -----------------------------------------------------------------------------------
async def test_text_is_answered_with_numbered_choices(stack):
    replies = await stack.say("alice", "你好")
    assert len(replies) == 1
    assert "What would you like to do?" in replies[0]
    assert "1. Send documents\n2. About" in replies[0]
    replies = await stack.say("alice", "1")  # the number picks the option
    assert "What is the company's name?" in replies[0]


async def test_option_label_picks_too(stack):
    await stack.say("bob", "hi")
    replies = await stack.say("bob", "send documents")
    assert "What is the company's name?" in replies[0]


async def test_signature_is_checked_before_any_decryption(stack, monkeypatch):
    opened = []
    monkeypatch.setattr(crypto_module.WeComCrypto, "decrypt",
                        lambda self, value: opened.append(value))

    def forge(query):
        query["msg_signature"] = "0" * 40

    resp = await stack.post(text_xml("eve", "hi", 1), tamper=forge)
    assert resp.status == 403 and await resp.read() == b""
    assert opened == []
    assert stack.fake.sent == []
    assert await stack.count(Merchant) == 0


async def test_garbage_ciphertext_with_bad_signature_is_403_not_400(stack):
    body = b"<xml><Encrypt><![CDATA[%%%not base64%%%]]></Encrypt></xml>"
    ts = str(int(time.time()))
    resp = await stack.client.post(f"{PATH}?msg_signature={'1' * 40}&timestamp={ts}&nonce=n",
                                   data=body)
    assert resp.status == 403


async def test_stale_and_future_timestamps_are_refused(stack):
    for skew in (-3600, 3600):
        resp = await stack.post(text_xml("carol", "hi", stack.next_id()),
                                timestamp=int(time.time()) + skew)
        assert resp.status == 403
    assert stack.fake.sent == []


async def test_missing_query_is_refused(stack):
    _, body = envelope(text_xml("dan", "hi", 1))
    resp = await stack.client.post(PATH, data=body)
    assert resp.status == 403


async def test_duplicate_callback_is_200_and_changes_nothing(stack):
    await stack.say("erin", "hi")
    query, body = envelope(text_xml("erin", "1", 777))
    resp = await stack.client.post(f"{PATH}?{query}", data=body)
    assert resp.status == 200
    await stack.fake.wait_texts("erin", 2)
    await stack.idle()
    async with stack.service.db.session() as session:
        merchant = await session.scalar(select(Merchant))
    version, sent = merchant.version, len(stack.fake.sent)
    for _ in range(2):  # WeCom's retry: byte for byte the same
        again = await stack.client.post(f"{PATH}?{query}", data=body)
        assert again.status == 200 and await again.read() == b""
    await stack.idle()
    # and a retry that reached a fresh process (nothing in memory): the database says no
    stack.channel._recent.clear()
    again = await stack.client.post(f"{PATH}?{query}", data=body)
    assert again.status == 200
    await stack.idle()
    async with stack.service.db.session() as session:
        merchant = await session.scalar(select(Merchant))
    assert merchant.version == version
    assert len(stack.fake.sent) == sent
    assert await stack.count(Turn) == 2


async def test_a_retry_after_a_crash_before_the_reply_sends_it_once(stack):
    await stack.say("fay", "hi")
    # the turn committed, then the process died before its reply went out
    lost = await stack.service.handle(CHANNEL, "fay", Text("1"), update_id="m:778")
    sent = len(stack.fake.texts("fay"))
    query, body = envelope(text_xml("fay", "1", 778))
    for _ in range(2):  # WeCom retries, the second time after the reply went out
        assert (await stack.client.post(f"{PATH}?{query}", data=body)).status == 200
        await stack.idle()
        stack.channel._recent.clear()  # as if each retry reached a fresh process
    again = stack.fake.texts("fay")[sent:]
    assert len(again) == 1 and lost.replies[0].text.split("\n")[0] in again[0]
    assert await stack.count(Turn) == 2


async def test_duplicate_event_is_keyed_on_sender_and_create_time(stack):
    when = int(time.time())
    for _ in range(2):
        resp = await stack.post(event_xml("frank", "enter_agent", when))
        assert resp.status == 200
    await stack.fake.wait_texts("frank", 1)
    await stack.idle()
    assert len(stack.fake.texts("frank")) == 1
    await stack.post(event_xml("frank", "enter_agent", when + 1))
    await stack.fake.wait_texts("frank", 2)


@pytest.mark.parametrize("event", ["subscribe", "enter_agent"])
async def test_events_greet(stack, event):
    await stack.post(event_xml("gina", event, int(time.time())))
    replies = await stack.fake.wait_texts("gina", 1)
    assert "What would you like to do?" in replies[0]


async def test_unsubscribe_is_silent(stack):
    resp = await stack.post(event_xml("hank", "unsubscribe", int(time.time())))
    assert resp.status == 200
    await stack.idle()
    assert stack.fake.sent == []


@pytest.mark.parametrize("msg_type", ["voice", "video", "location", "link", "weird"])
async def test_unknown_types_get_a_polite_reply_and_change_nothing(stack, msg_type):
    await stack.say("ivy", "hi")
    await stack.post(other_xml("ivy", msg_type, stack.next_id()))
    replies = await stack.fake.wait_texts("ivy", 2)
    assert "I can read text, pictures and files" in replies[1]
    assert "What would you like to do?" in replies[1]  # the question again
    await stack.idle()
    assert await stack.count(Turn) == 1


HOSTILE = [
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
    b"<xml><Encrypt>&b;</Encrypt></xml>",
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    b"<xml><Encrypt>&e;</Encrypt></xml>",
    b"<xml><Encrypt>a</Encrypt><Encrypt>b</Encrypt></xml>",
    b"<xml><Encrypt>unclosed",
    b"not xml at all",
    b"",
]


@pytest.mark.parametrize("body", HOSTILE)
async def test_hostile_xml_is_refused_without_harm(stack, body):
    ts = str(int(time.time()))
    resp = await stack.client.post(f"{PATH}?msg_signature={'a' * 40}&timestamp={ts}&nonce=1",
                                   data=body)
    assert resp.status in (400, 403)
    assert stack.fake.sent == []


async def test_huge_body_is_refused(stack):
    ts = str(int(time.time()))
    body = b"<xml><Encrypt>" + b"A" * (256 * 1024) + b"</Encrypt></xml>"
    resp = await stack.client.post(f"{PATH}?msg_signature={'a' * 40}&timestamp={ts}&nonce=1",
                                   data=body)
    assert resp.status == 413


async def test_message_for_another_agent_is_ignored(stack):
    inner = text_xml("jack", "hi", 5).replace(f"<AgentID>{AGENT_ID}</AgentID>",
                                              "<AgentID>999</AgentID>")
    resp = await stack.post(inner)
    assert resp.status == 200
    await stack.idle()
    assert stack.fake.sent == []


# -- files ----------------------------------------------------------------------------------------
async def reach_license(stack: Stack, user: str) -> None:
    await stack.say(user, "hi")
    await stack.say(user, "1")
    replies = await stack.say(user, "宁波海岸贸易有限公司")
    assert "Send the business license." in replies[0]
    assert "You can send pictures right here in the chat" in replies[0]
    assert "http://127.0.0.1:1/upload/" in replies[0]


async def test_image_is_downloaded_through_media_get_and_stored(stack):
    await reach_license(stack, "kate")
    media_id = stack.fake.add_media(png(), "image/png", "license.png")
    resp = await stack.post(image_xml("kate", media_id, stack.next_id()))
    assert resp.status == 200
    replies = await stack.fake.wait_texts("kate", 4)
    assert "Received license.png" in replies[3]
    assert "Send the transaction report." in replies[3]
    assert "Files cannot be sent in this chat" in replies[3]  # PDF/XLSX only: the page
    assert await stack.count(Document) == 1


async def test_expired_media_gets_a_message_and_changes_nothing(stack):
    await reach_license(stack, "liam")
    await stack.post(image_xml("liam", "gone-media", stack.next_id()))
    replies = await stack.fake.wait_texts("liam", 4)
    assert "I could not fetch that file from WeCom" in replies[3]
    assert "Send the business license." in replies[3]
    assert await stack.count(Document) == 0


async def test_refused_image_is_explained(stack):
    await reach_license(stack, "mia")
    media_id = stack.fake.add_media(minimal_pdf(), "application/pdf", "license.pdf")
    await stack.post(image_xml("mia", media_id, stack.next_id()))
    replies = await stack.fake.wait_texts("mia", 4)
    assert "JPG, PNG" in replies[3]
    assert await stack.count(Document) == 0


async def test_done_by_number_on_a_files_step(stack):
    await reach_license(stack, "noah")
    media_id = stack.fake.add_media(png(), "image/png", "license.png")
    await stack.post(image_xml("noah", media_id, stack.next_id()))
    replies = await stack.fake.wait_texts("noah", 4)
    assert "1. Done" in replies[3]
    replies = await stack.say("noah", "1")
    assert "All done." in replies[0]


async def test_english_switches_the_language(stack):
    await stack.say("olga", "hi")
    replies = await stack.say("olga", "English")
    assert "Language switched to English." in replies[0]
    async with stack.service.db.session() as session:
        merchant = await session.scalar(select(Merchant))
    assert merchant.locale == "en"
    await stack.say("olga", "中文")
    async with stack.service.db.session() as session:
        merchant = await session.scalar(select(Merchant))
    assert merchant.locale == "zh_CN"


async def test_messages_of_one_member_are_applied_in_order(stack):
    await reach_license(stack, "pia")
    media_id = stack.fake.add_media(png(), "image/png", "license.png")
    await stack.post(image_xml("pia", media_id, stack.next_id()))  # downloaded first
    await stack.post(text_xml("pia", "done", stack.next_id()))  # must wait for the image
    replies = await stack.fake.wait_texts("pia", 5)
    assert "Received license.png" in replies[3]
    assert "All done." in replies[4]


# -- messages the bot sends on its own (reminders) ----------------------------------------------
async def test_sender_sends_and_reports_failures(stack):
    from bot.channels.base import DeliveryError
    from bot.engine.model import Reply

    assert WeComChannel.buttons is False
    await stack.channel.send("quinn", [Reply("营业执照将在 30 天后到期。"), Reply("请及时更新。")])
    assert stack.fake.texts("quinn") == ["营业执照将在 30 天后到期。\n\n请及时更新。"]
    stack.fake.send_errors.append(81013)
    with pytest.raises(DeliveryError) as gone:
        await stack.channel.send("quinn", [Reply("x")])
    assert gone.value.permanent
    stack.fake.send_errors.extend([45009] * 4)
    stack.channel.api.backoff = (0.01,)
    with pytest.raises(DeliveryError) as busy:
        await stack.channel.send("quinn", [Reply("x")])
    assert not busy.value.permanent


async def test_body_arriving_in_pieces_is_read_whole(stack):
    query, body = envelope(text_xml("rita", "hi", stack.next_id()))

    async def pieces():
        for start in range(0, len(body), 100):
            yield body[start:start + 100]
            await asyncio.sleep(0.01)

    resp = await stack.client.post(f"{PATH}?{query}", data=pieces())
    assert resp.status == 200
    replies = await stack.fake.wait_texts("rita", 1)
    assert "What would you like to do?" in replies[0]


async def test_huge_body_without_length_is_refused(stack):
    ts = str(int(time.time()))

    async def endless():
        for _ in range(100):
            yield b"A" * 4096

    resp = await stack.client.post(f"{PATH}?msg_signature={'a' * 40}&timestamp={ts}&nonce=1",
                                   data=endless())
    assert resp.status == 413


async def test_callback_answers_at_once_while_a_slow_download_goes_on(stack):
    await reach_license(stack, "sam")
    stack.fake.media_delay = 3.0
    media_id = stack.fake.add_media(png(), "image/png", "license.png")
    started = time.monotonic()
    resp = await stack.post(image_xml("sam", media_id, stack.next_id()))
    assert resp.status == 200 and await resp.read() == b""
    assert time.monotonic() - started < 2.5  # before the 3 s download ends (WeCom: 5 s)
    replies = await stack.fake.wait_texts("sam", 4, timeout=10)
    assert "Received license.png" in replies[3]


# -- /metrics -----------------------------------------------------------------------------------
async def metrics_text(stack) -> str:
    from bot.web.ops import Operations

    app = web.Application()
    Operations(stack.service.db).add_routes(app)
    async with TestClient(TestServer(app)) as client:
        return await (await client.get("/metrics")).text()


def sends(text: str, result: str) -> float:
    line = f'bot_sends_total{{channel="{CHANNEL}",result="{result}"}} '
    found = [row for row in text.splitlines() if row.startswith(line)]
    return float(found[0].rsplit(" ", 1)[1]) if found else 0.0


async def metrics_once(stack, ready) -> str:
    """/metrics once ``ready(text)`` holds (a reply's mark joins the next batch: soon)."""
    for _ in range(100):
        text = await metrics_text(stack)
        if ready(text):
            return text
        await asyncio.sleep(0.02)
    raise AssertionError("the metrics did not change")


async def test_replies_are_counted_as_sends_and_a_failed_one_stays_unsent(stack):
    before = await metrics_text(stack)
    await stack.say("tess", "hi")
    await stack.idle()
    middle = await metrics_once(stack, lambda t: sends(t, "sent") > sends(before, "sent"))
    assert sends(middle, "sent") == sends(before, "sent") + 1
    assert sends(middle, "failed") == sends(before, "failed")
    stack.fake.send_errors.append(81013)  # WeCom refuses the next message
    resp = await stack.post(text_xml("tess", "1", stack.next_id()))
    assert resp.status == 200
    await stack.idle()
    after = await metrics_text(stack)
    assert sends(after, "failed") == sends(middle, "failed") + 1
    assert sends(after, "sent") == sends(middle, "sent")
    async with stack.service.db.session() as session:
        unsent = (await session.scalars(select(Turn).where(Turn.sent_at.is_(None)))).all()
    assert len(unsent) == 1  # a redelivery of that callback sends its reply again


async def test_the_next_message_is_applied_while_the_last_reply_is_still_being_sent(stack):
    await stack.say("uma", "hi")
    stack.fake.send_delay = 1.0  # WeCom takes its time with every message/send
    first = await stack.post(text_xml("uma", "1", stack.next_id()))
    started = time.monotonic()
    second = await stack.post(text_xml("uma", "宁波海岸贸易有限公司", stack.next_id()))
    assert first.status == second.status == 200
    assert time.monotonic() - started < 0.9  # committed and answered before the send ended
    replies = await stack.fake.wait_texts("uma", 3, timeout=10)
    assert "What is the company's name?" in replies[1]  # in the order they were asked
    assert "Send the business license." in replies[2]
