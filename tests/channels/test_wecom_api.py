"""The WeCom API client against a fake WeCom server on loopback; fake clocks, no sleeping."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from fake_wecom import AGENT_ID, CORP_ID, SECRET, FakeWeCom, png

from bot.channels.wecom.api import (
    MediaTooLarge,
    Pacer,
    WeComApi,
    WeComApiError,
    split_text,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
async def fake():
    server = FakeWeCom()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def api(fake, clock):
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield WeComApi(session, base_url=fake.base_url, corp_id=CORP_ID, secret=SECRET,
                       agent_id=int(AGENT_ID), clock=clock, sleep=clock.sleep)


async def test_token_is_cached_until_near_expiry(api, fake, clock):
    first = await api.token()
    assert await api.token() == first
    await api.send_text("u1", "hello")
    assert fake.gettoken_calls == 1
    clock.now += 7200 - 299  # inside the 300 s safety margin: a new token
    assert await api.token() != first
    assert fake.gettoken_calls == 2


async def test_concurrent_callers_share_one_token_fetch(api, fake):
    tokens = await asyncio.gather(*(api.token() for _ in range(8)))
    assert len(set(tokens)) == 1
    assert fake.gettoken_calls == 1


@pytest.mark.parametrize("errcode", [40014, 42001, 40001])
async def test_token_error_refreshes_once_and_retries_once(api, fake, errcode):
    await api.send_text("u1", "first")
    fake.send_errors.append(errcode)
    await api.send_text("u1", "second")
    assert fake.gettoken_calls == 2
    assert fake.texts("u1") == ["first", "second"]


async def test_token_error_twice_fails_without_a_loop(api, fake):
    await api.token()
    fake.send_errors.extend([42001, 42001, 42001])
    with pytest.raises(WeComApiError) as failed:
        await api.send_text("u1", "x")
    assert failed.value.errcode == 42001
    assert fake.gettoken_calls == 2  # one refresh, not more


async def test_expired_token_is_refreshed(api, fake):
    await api.send_text("u1", "a")
    fake.expire_tokens()
    await api.send_text("u1", "b")
    assert fake.texts("u1") == ["a", "b"]
    assert fake.gettoken_calls == 2


async def test_wrong_secret_is_an_error(fake, clock):
    async with aiohttp.ClientSession() as session:
        api = WeComApi(session, base_url=fake.base_url, corp_id=CORP_ID, secret="wrong",
                       agent_id=1, clock=clock, sleep=clock.sleep)
        with pytest.raises(WeComApiError) as failed:
            await api.token()
    assert failed.value.errcode == 40001
    assert "wrong" not in str(failed.value)


async def test_frequency_limit_backs_off_then_succeeds(api, fake, clock):
    fake.send_errors.extend([45009, 45009])
    await api.send_text("u1", "hi")
    assert clock.slept == [1.0, 2.0]
    assert fake.texts("u1") == ["hi"]


async def test_frequency_limit_gives_up_after_bounded_retries(api, fake, clock):
    fake.send_errors.extend([45009] * 10)
    with pytest.raises(WeComApiError) as failed:
        await api.send_text("u1", "hi")
    assert failed.value.errcode == 45009
    assert clock.slept == [1.0, 2.0, 4.0]


async def test_other_errors_are_raised(api, fake):
    fake.send_errors.append(81013)
    with pytest.raises(WeComApiError) as failed:
        await api.send_text("nobody", "hi")
    assert failed.value.errcode == 81013


async def test_long_text_is_split_under_2048_bytes(api, fake):
    text = "\n\n".join(f"第{i}段：" + "营业执照需要清晰可读。" * 12 for i in range(20))
    count = await api.send_text("u1", text)
    sent = fake.texts("u1")
    assert count == len(sent) > 1
    assert all(len(piece.encode()) <= 2048 for piece in sent)
    assert "".join(sent).replace("\n", "") == text.replace("\n", "")


def test_split_keeps_short_text_whole_and_cuts_unbroken_text():
    assert split_text("short") == ["short"]
    pieces = split_text("字" * 3000)
    assert all(len(p.encode()) <= 2048 for p in pieces)
    assert "".join(pieces) == "字" * 3000
    mixed = split_text(("a" * 100 + "\n") * 50, limit=500)
    assert all(len(p.encode()) <= 500 and p.endswith("a") for p in mixed)


async def test_media_get_returns_bytes_and_name(api, fake):
    data = png()
    media_id = fake.add_media(data, "image/png", "license.png")
    media = await api.get_media(media_id, max_bytes=1 << 20)
    assert media.data == data
    assert media.filename == "license.png"
    assert media.content_type == "image/png"


async def test_media_get_error_comes_back_as_json(api, fake):
    with pytest.raises(WeComApiError) as failed:
        await api.get_media("no-such-media", max_bytes=1 << 20)
    assert failed.value.errcode == 40007


async def test_media_get_refreshes_an_expired_token(api, fake):
    media_id = fake.add_media(b"%PDF-1.4 test", "application/pdf", "a.pdf")
    await api.token()
    fake.expire_tokens()
    media = await api.get_media(media_id, max_bytes=1 << 20)
    assert media.data == b"%PDF-1.4 test"
    assert fake.gettoken_calls == 2


async def test_media_get_bounds_the_download(api, fake):
    media_id = fake.add_media(b"x" * 5000, "application/octet-stream", "big.bin")
    with pytest.raises(MediaTooLarge):
        await api.get_media(media_id, max_bytes=4096)


async def test_send_file_uploads_then_sends(api, fake):
    await api.send_file("u1", "summary.pdf", b"%PDF-1.4 summary")
    assert fake.uploaded == [("file", "summary.pdf", b"%PDF-1.4 summary")]
    assert fake.sent[-1]["msgtype"] == "file"
    assert fake.sent[-1]["file"]["media_id"].startswith("UP")
    assert fake.sent[-1]["agentid"] == int(AGENT_ID)


async def test_pacer_holds_each_member_to_30_a_minute(clock):
    pacer = Pacer(clock=clock, sleep=clock.sleep)
    start = clock.now
    for _ in range(30):
        await pacer.acquire("u1")
    assert clock.now == start  # the first 30 go at once
    await pacer.acquire("u2")  # another member is not held back
    assert clock.now == start
    await pacer.acquire("u1")
    assert clock.now == pytest.approx(start + 60)
    assert pacer.delay("u2") == 0


async def test_pacer_hourly_limit(clock):
    pacer = Pacer(clock=clock, sleep=clock.sleep)
    start = clock.now
    for _ in range(1000):
        await pacer.acquire("u1")
    assert clock.now - start == pytest.approx(33 * 60)  # 30 a minute
    await pacer.acquire("u1")  # the 1001st waits for the first to leave the hour
    assert clock.now == pytest.approx(start + 3600)


async def test_sender_paces_itself(fake, clock):
    async with aiohttp.ClientSession() as session:
        api = WeComApi(session, base_url=fake.base_url, corp_id=CORP_ID, secret=SECRET,
                       agent_id=1, clock=clock, sleep=clock.sleep)
        for i in range(31):
            await api.send_text("u1", f"m{i}")
    assert len(fake.texts("u1")) == 31
    assert clock.slept and sum(clock.slept) == pytest.approx(60)


async def test_media_get_reads_a_large_body_whole(api, fake):
    import os

    data = os.urandom(3 * 1024 * 1024)
    media_id = fake.add_media(data, "application/octet-stream", "big.bin")
    media = await api.get_media(media_id, max_bytes=4 * 1024 * 1024)
    assert media.data == data
