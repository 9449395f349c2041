"""Two WeCom app workers (each its own service, channel and callback server, wired by
``mount_app`` as ``python -m bot run`` wires them) on one PostgreSQL database, against one fake
WeCom API on loopback: the pacing per member holds for the app, not for each worker; one access
token serves both; a member's messages are applied in the order WeCom delivered them, whichever
worker each went to; a message a dead worker kept is applied by the other; one the inbox could
not keep is answered 503 and applied once WeCom posts it again."""

from __future__ import annotations

import asyncio
from dataclasses import asdict

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.fernet import Fernet
from dbkit import on_postgresql, read, write
from fake_wecom import (
    AES_KEY,
    AGENT_ID,
    CORP_ID,
    SECRET,
    TOKEN,
    FakeWeCom,
    envelope,
    image_xml,
    mini_guide,
    png,
    text_xml,
)

from bot.channels.wecom import channel as channel_module
from bot.channels.wecom.app import mount_app
from bot.channels.wecom.channel import CHANNEL, WeComChannel
from bot.channels.wecom.inbound import Inbound
from bot.config import Settings
from bot.engine.model import Reply
from bot.service import Service
from bot.store import shared as S
from bot.store.db import Database
from bot.store.files import FileStore
from bot.web.upload import UploadPage

pytestmark = pytest.mark.skipif(
    not on_postgresql(), reason="several workers share a PostgreSQL database "
    "(BOT_TEST_DATABASE_URL=postgresql+asyncpg://...)")

PATH = "/wecom/callback"
KEY = Fernet.generate_key().decode()
APP = f"wecom:{CORP_ID}:{AGENT_ID}"


class FakeClock:
    """One clock for both workers; sleeping moves it on instead of waiting."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


class AppWorker:
    def __init__(self, client: TestClient, channel: WeComChannel) -> None:
        self.client = client
        self.channel = channel

    async def post(self, inner: str) -> int:
        query, body = envelope(inner)
        async with self.client.post(f"{PATH}?{query}", data=body) as resp:
            assert await resp.read() == b""
            return resp.status

    def pace_with(self, clock: FakeClock) -> None:
        self.channel.api.pacer.clock = clock
        self.channel.api.pacer.sleep = clock.sleep


@pytest.fixture
async def two(tmp_path, database_url):
    fake = FakeWeCom()
    await fake.start()
    settings = Settings(
        _env_file=None, bot_data_dir=tmp_path, wecom_corp_id=CORP_ID, wecom_agent_id=AGENT_ID,
        wecom_secret=SECRET, wecom_token=TOKEN, wecom_encoding_aes_key=AES_KEY,
        wecom_api_base=fake.base_url, bot_public_url="http://127.0.0.1:1",
        bot_encryption_key=KEY)
    guide = mini_guide(tmp_path / "dialogs")
    started, closing = [], []
    try:
        for name in ("a", "b"):
            db = Database(database_url)
            service = Service(guide, db, FileStore(tmp_path / name / "files"))
            session = aiohttp.ClientSession()
            uploads = UploadPage(service, secret=b"s" * 32, base_url="http://127.0.0.1:1")
            app = web.Application()
            channel = mount_app(app, service, settings, session, uploads)
            client = TestClient(TestServer(app))
            await client.start_server()
            started.append(AppWorker(client, channel))
            closing.append((client, channel, session, db))
        yield fake, started, database_url
    finally:
        for client, channel, session, db in closing:
            await channel.close()
            await client.close()
            await session.close()
            await db.close()
        await fake.stop()


def windows(times: list[float], per: float) -> int:
    """The most sends inside any window of ``per`` seconds."""
    times = sorted(times)
    return max((sum(1 for t in times[i:] if t < start + per) for i, start in enumerate(times)),
               default=0)


async def test_thirty_a_minute_to_a_member_across_both_workers(two):
    fake, (a, b), url = two
    clock = FakeClock(1_800_000_000.0)
    a.pace_with(clock)
    b.pace_with(clock)
    sends = [w.channel.send("mia", [Reply(f"notice {i}")]) for i in range(20) for w in (a, b)]
    await asyncio.gather(*sends)
    assert len(fake.texts("mia")) == 40  # all sent, none lost to the pacing
    times = [at for (at,) in read(url, "SELECT at FROM send_slots WHERE member = :m",
                                  m=f"{APP}:mia")]
    assert len(times) == 40
    assert windows(times, 60.0) == 30  # the app's limit, not 30 for each worker
    assert max(times) - min(times) >= 60.0


async def test_a_thousand_an_hour_to_a_member_across_both_workers(two):
    fake, (a, b), url = two
    clock = FakeClock(1_800_000_000.0)
    a.pace_with(clock)
    b.pace_with(clock)
    # 995 sends in the last hour, the oldest 3,500 s ago and none in the last 100 s.
    write(url, "INSERT INTO send_slots (member, at) SELECT :m, :start + g * 3.4"
          " FROM generate_series(0, 994) AS g", m=f"{APP}:noa", start=clock.now - 3500)
    await asyncio.gather(*(w.channel.send("noa", [Reply(f"n{i}")])
                           for i in range(5) for w in (a, b)))
    assert len(fake.texts("noa")) == 10
    first = 1_800_000_000.0
    recent = sorted(at for (at,) in read(  # the prefilled ones are all older
        url, "SELECT at FROM send_slots WHERE member = :m AND at >= :first", m=f"{APP}:noa",
        first=first))
    assert len(recent) == 10
    sent_now = [t for t in recent if t == first]
    assert len(sent_now) == 5  # room for 5 more in the hour
    assert all(t >= first + 100 for t in recent if t != first)  # the rest as old ones age out


async def test_one_access_token_for_both_workers(two):
    fake, (a, b), url = two
    await asyncio.gather(*(w.channel.send(f"m{i}", [Reply("hi")])
                           for i in range(5) for w in (a, b)))
    assert fake.gettoken_calls == 1
    fake.expire_tokens()  # WeCom answers 42001 to the old token: one new one for both
    await asyncio.gather(*(w.channel.send(f"m{i}", [Reply("again")])
                           for i in range(5) for w in (a, b)))
    assert fake.gettoken_calls == 2
    assert len(fake.sent) == 20
    ((stored,),) = read(url, "SELECT token FROM shared_tokens")
    assert stored not in fake.valid_tokens  # encrypted under BOT_ENCRYPTION_KEY
    assert Fernet(KEY).decrypt(stored.encode()).decode() in fake.valid_tokens


async def emptied(url: str) -> None:
    """The inbox is empty within a few seconds: each item goes once its replies are sent."""
    for _ in range(100):
        if read(url, "SELECT count(*) FROM inbox") == [(0,)]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"left in the inbox: {read(url, 'SELECT update_key FROM inbox')}")


async def reach_license(fake: FakeWeCom, worker: AppWorker, user: str, ids) -> None:
    for text in ("hi", "1", "宁波海岸贸易有限公司"):
        before = len(fake.texts(user))
        assert await worker.post(text_xml(user, text, next(ids))) == 200
        await fake.wait_texts(user, before + 1)


async def test_a_text_to_one_worker_waits_for_the_picture_the_other_acknowledged(two):
    fake, (a, b), url = two
    ids = iter(range(5000, 6000))
    await reach_license(fake, a, "pia", ids)
    fake.media_delay = 1.5  # the picture's download takes a while after its acknowledgement
    media_id = fake.add_media(png(), "image/png", "license.png")
    assert await a.post(image_xml("pia", media_id, next(ids))) == 200
    assert await b.post(text_xml("pia", "done", next(ids))) == 200  # to the other worker
    replies = await fake.wait_texts("pia", 5)
    assert "Received license.png" in replies[3]  # the picture first, as the member sent it
    assert "All done." in replies[4]
    assert read(url, "SELECT count(*) FROM documents") == [(1,)]
    await emptied(url)  # nothing left pending


async def test_a_message_a_dead_worker_kept_is_applied_by_the_other(two, monkeypatch):
    fake, (a, b), url = two
    ids = iter(range(7000, 8000))
    await reach_license(fake, a, "quin", ids)
    media_id = fake.add_media(png(), "image/png", "license.png")
    # What a worker leaves when it dies after acknowledging a picture: the kept message,
    # claimed until its claim runs out.
    left = Inbound("quin", "image", f"m:{next(ids)}", "image", media_id=media_id)
    engine = b.channel.service.db.engine
    await S.put(engine, CHANNEL, "quin", left.update_key, asdict(left), b.channel.clock() + 1)
    assert await b.post(text_xml("quin", "done", next(ids))) == 200
    await asyncio.sleep(0.5)
    assert len(fake.texts("quin")) == 3  # the text waits while the claim holds
    replies = await fake.wait_texts("quin", 5)
    assert "Received license.png" in replies[3] and "All done." in replies[4]
    # With no later message, the sweeper applies what a dead worker left.
    monkeypatch.setattr(channel_module, "SWEEP_EVERY", 0.1)
    fake.media_delay = 0.0
    await reach_license(fake, b, "rex", ids)
    media_id = fake.add_media(png(seed=3), "image/png", "license.png")
    left = Inbound("rex", "image", f"m:{next(ids)}", "image", media_id=media_id)
    await S.put(engine, CHANNEL, "rex", left.update_key, asdict(left), b.channel.clock() - 1)
    for worker in (a, b):  # restart the sweepers at the new pace
        if worker.channel._sweeper is not None:
            worker.channel._sweeper.cancel()
            worker.channel._sweeper = None
        worker.channel.start()
    replies = await fake.wait_texts("rex", 4)
    assert "Received license.png" in replies[3]
    assert read(url, "SELECT count(*) FROM documents") == [(2,)]
    await emptied(url)


async def test_a_message_that_could_not_be_kept_is_refused_and_applied_once_repeated(two):
    """The inbox refuses the insert (here: its table is briefly away): the callback answers
    503 and keeps nothing, so WeCom's repeat of the same MsgId is applied, once."""
    fake, (a, b), url = two
    msg_id = 9001
    write(url, "ALTER TABLE inbox RENAME TO inbox_away")
    try:
        assert await a.post(text_xml("sol", "hi", msg_id)) == 503
    finally:
        write(url, "ALTER TABLE inbox_away RENAME TO inbox")
    assert fake.texts("sol") == []
    assert await a.post(text_xml("sol", "hi", msg_id)) == 200  # WeCom posts it again
    await fake.wait_texts("sol", 1)
    assert await b.post(text_xml("sol", "hi", msg_id)) == 200  # and a late copy to the other
    await emptied(url)
    await asyncio.sleep(0.3)
    assert len(fake.texts("sol")) == 1
    assert read(url, "SELECT count(*) FROM turns WHERE update_key = :k",
                k=f"m:{msg_id}") == [(1,)]
