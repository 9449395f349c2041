"""An album split between two ``python -m bot run`` Telegram webhook workers on one PostgreSQL
database (its photos posted half to each, all at once, as a load balancer spreads them): stored
whole, in message order, and answered once; also when the worker gathering it is killed."""

from __future__ import annotations

import asyncio
import time

import pytest
from dbkit import on_postgresql, read
from fake_telegram import FakeBotAPI, button_ids, picture
from workers import LANGUAGE, LOST, SETTLE, click, logs, one_by_one, say, workers

from bot.channels.telegram.albums import SharedAlbums
from bot.channels.telegram.incoming import FILE, FileRef, Incoming
from bot.store.db import Database

pytestmark = pytest.mark.skipif(
    not on_postgresql(), reason="several workers share a PostgreSQL database "
    "(BOT_TEST_DATABASE_URL=postgresql+asyncpg://...)")


def stored(url: str, chat: int) -> list[str]:
    return [name for (name,) in read(
        url, "SELECT d.name FROM documents d JOIN merchants m ON m.id = d.merchant_id"
        " WHERE m.user_key = :chat AND d.category = 'production_line' ORDER BY d.id",
        chat=str(chat))]


async def test_an_album_split_between_two_workers_is_stored_whole_and_answered_once(
        tmp_path, database_url):
    url = database_url
    api = FakeBotAPI()
    await api.start()
    try:
        async with workers(tmp_path, api, url) as (a, b):
            for chat in (600, 601):
                await one_by_one(api, chat, a, [say("/start"), click("factory")])
                assert "done" in button_ids(api.to(chat)[-1])
            answers = {}
            for chat, spread in ((600, (a, a)), (601, (a, b))):  # one worker, then both
                photos = [api.updates.photo(chat, picture(1000, 800, "JPEG", seed=chat + i),
                                            1000, 800, LANGUAGE, group=f"album-{chat}")
                          for i in range(6)]
                before = len(api.to(chat))
                statuses = await asyncio.gather(*(spread[i % 2].post(u)
                                                  for i, u in enumerate(photos)))
                assert set(statuses) == {200}, logs([a, b])
                await asyncio.sleep(SETTLE)
                answers[chat] = api.to(chat)[before:]
                ids = [int(n.removeprefix("photo_").removesuffix(".jpg"))
                       for n in stored(url, chat)]
                assert len(ids) == 6, logs([a, b])  # every photo, once
                assert ids == sorted(ids)  # in the photos' message order
            assert len(answers[601]) == len(answers[600]) == 1, logs([a, b])  # answered once
            assert "done" in button_ids(answers[601][0])
        assert read(url, "SELECT count(*) FROM turns t JOIN merchants m ON m.id = t.merchant_id"
                    " WHERE m.user_key = '601' AND t.update_key LIKE 'album:%'") == [(1,)]
        assert read(url, "SELECT count(*) FROM album_parts") == [(0,)]
        assert read(url, "SELECT count(*) FROM album_gatherings") == [(0,)]  # nothing kept
    finally:
        await api.stop()


async def rows(url: str, sql: str, expected: int, timeout: float = 10.0) -> None:
    """Wait until ``sql`` counts ``expected`` rows (looked at every 50 ms)."""
    deadline = time.monotonic() + timeout
    while read(url, sql) != [(expected,)]:
        assert time.monotonic() < deadline, f"{sql}: {read(url, sql)}, not {expected}"
        await asyncio.sleep(0.05)


async def test_an_album_whose_gathering_worker_was_killed_is_applied_by_the_other(
        tmp_path, database_url):
    """The worker that owns an album's gathering is killed with -9 before the album goes
    quiet: the other worker, holding the rest of the photos, takes the gathering over once its
    claim runs out, and applies every photo once; Telegram's redelivery of the dead worker's
    photo changes nothing."""
    url = database_url
    api = FakeBotAPI()
    await api.start()
    try:
        async with workers(tmp_path, api, url) as (a, b):
            chat = 602
            await one_by_one(api, chat, a, [say("/start"), click("factory")])
            photos = [api.updates.photo(chat, picture(1000, 800, "JPEG", seed=chat + i),
                                        1000, 800, LANGUAGE, group=f"album-{chat}")
                      for i in range(6)]
            before = len(api.to(chat))
            first = asyncio.create_task(a.post(photos[0]))
            await rows(url, "SELECT count(*) FROM album_gatherings WHERE NOT closed", 1)
            rest = [asyncio.create_task(b.post(u)) for u in photos[1:]]
            await rows(url, "SELECT count(*) FROM album_parts", 6)
            a.process.kill()  # well inside the album's quiet wait: nothing was applied
            assert await first == LOST
            assert len(api.to(chat)) == before
            assert await b.post(photos[0]) == 200  # Telegram posts it again, to the live one
            assert set(await asyncio.gather(*rest)) == {200}, logs([a, b])
            await asyncio.sleep(SETTLE)
            answers = api.to(chat)[before:]
            assert len(answers) == 1, logs([a, b])  # answered once
            assert "done" in button_ids(answers[0])
            ids = [int(n.removeprefix("photo_").removesuffix(".jpg"))
                   for n in stored(url, chat)]
            assert len(ids) == 6 and ids == sorted(ids), logs([a, b])  # every photo, in order
        assert read(url, "SELECT count(*) FROM album_parts") == [(0,)]
        assert read(url, "SELECT count(*) FROM album_gatherings") == [(0,)]
    finally:
        await api.stop()


async def test_the_first_part_to_run_gathers_even_when_a_later_one_won_the_group(database_url):
    """A worker's parts run one after another in the merchant's lane; when a later part's write
    made the worker the group's owner, the first part's job gathers (it must not wait for a
    job queued behind itself)."""
    db = Database(database_url)
    try:
        albums = SharedAlbums(db.engine, "telegram", wait=0.2, max_wait=2.0)
        parts = [Incoming(9000 + i, FILE, "77", 77, 10 + i, "en",
                          file=FileRef(f"f{i}", f"photo_{10 + i}.jpg", 100, True),
                          media_group_id="g") for i in range(3)]
        key = albums.key(parts[0])
        second = albums.write(parts[1])
        assert await second is not None  # the later part's write won the group
        first, third = albums.write(parts[0]), albums.write(parts[2])
        began = time.monotonic()
        found = await asyncio.wait_for(albums.gather(key, [parts[0]], [first]), 10)
        assert found is not None and time.monotonic() - began < 3.0
        gathering, items = found
        assert [i.update_id for i in items] == [9000, 9001, 9002]  # the whole album
        await albums.applied(key, gathering)
        for part, write in ((parts[1], second), (parts[2], third)):  # the later jobs: done
            assert await asyncio.wait_for(albums.gather(key, [part], [write]), 5) is None
    finally:
        await db.close()


async def test_a_gathering_whose_worker_died_is_taken_over_with_every_part(database_url):
    """The worker that owned a group died before gathering it: another worker waiting for its
    own photo takes the gathering over once the claim ran out, and applies every part."""
    db = Database(database_url)
    now = [time.time()]
    try:
        dead = SharedAlbums(db.engine, "telegram", wait=0.2, max_wait=2.0, clock=lambda: now[0])
        alive = SharedAlbums(db.engine, "telegram", wait=0.2, max_wait=2.0,
                             clock=lambda: now[0])
        parts = [Incoming(9100 + i, FILE, "78", 78, 20 + i, "en",
                          file=FileRef(f"f{i}", f"photo_{20 + i}.jpg", 100, True),
                          media_group_id="h") for i in range(2)]
        key = dead.key(parts[0])
        assert await dead.write(parts[0]) is not None  # the owner, about to die
        written = alive.write(parts[1])
        assert await written is None
        waiting = asyncio.create_task(alive.gather(key, [parts[1]], [written]))
        await asyncio.sleep(0.5)
        assert not waiting.done()  # the owner's claim holds
        now[0] += 60.0  # past the claim (max_wait and the time to apply)
        found = await asyncio.wait_for(waiting, 5)
        assert found is not None
        gathering, items = found
        assert [i.update_id for i in items] == [9100, 9101]  # the dead worker's part too
        await alive.applied(key, gathering)
        assert read(database_url, "SELECT count(*) FROM album_parts") == [(0,)]
    finally:
        await db.close()
