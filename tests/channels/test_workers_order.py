"""Two ``python -m bot run`` Telegram webhook workers on one PostgreSQL database serving the
same merchants: a conversation whose every answer goes to the other worker, as fast as the
merchant gets each question, ends where one worker would have taken it; a worker killed with -9
in a burst loses nothing: what it did not answer is posted again to the other worker (as
Telegram redelivers an unanswered webhook call) and answered there, and nothing is applied
twice."""

from __future__ import annotations

import asyncio
import re

import pytest
from dbkit import on_postgresql, read
from fake_telegram import FakeBotAPI
from test_telegram_process import ID, PHONE, USCC
from workers import (
    LOST,
    SETTLE,
    Worker,
    click,
    document,
    logs,
    one_by_one,
    photo,
    say,
    settle,
    texts,
    workers,
)

pytestmark = pytest.mark.skipif(
    not on_postgresql(), reason="several workers share a PostgreSQL database "
    "(BOT_TEST_DATABASE_URL=postgresql+asyncpg://...)")

# Basic certification from the menu to its summary: texts, buttons, a document and a photo.
BASIC = [say("/start"), click("basic"), say("杭州星辰贸易有限公司"), document(1, "营业执照.jpg"),
         say("长期"), say(USCC), say("张伟"), say(ID), say("sales@example.com"), say(PHONE),
         photo(7), click("done")]


@pytest.fixture
async def api():
    server = FakeBotAPI()
    await server.start()
    yield server
    await server.stop()


def shown(messages: list[dict]) -> list[str]:
    """The texts, with a photo's name (its message id) taken out."""
    return [re.sub(r"photo_\d+", "photo_N", t) for t in texts(messages)]


def keyboards(messages: list[dict]) -> list[int]:
    """Which of the merchant's messages still show buttons."""
    return [i for i, m in enumerate(messages) if (m.get("reply_markup") or {}).get(
        "inline_keyboard")]


def journal(url: str, chat: int) -> list[tuple]:
    """The merchant's applied updates, in the order they were applied: (update, step). The
    license reader's own event (``license-read:...``) is left out: it comes back whenever the
    reader process finishes, on either merchant's side of the comparison."""
    return read(url, "SELECT t.update_key, t.step FROM turns t JOIN merchants m"
                " ON m.id = t.merchant_id WHERE m.user_key = :chat AND t.update_key IS NOT NULL"
                " AND t.update_key NOT LIKE 'license-read:%' ORDER BY t.id", chat=str(chat))


async def test_answers_alternating_between_workers_as_fast_as_they_come(api, tmp_path,
                                                                        database_url):
    url = database_url
    async with workers(tmp_path, api, url) as (a, b):
        counts = await one_by_one(api, 800, a, BASIC)
        reference = await settle(api, 800, counts[-1])
        posts = []
        for index, step in enumerate(BASIC):
            chat_messages = api.to(801)
            update = step(api, 801, chat_messages[-1] if chat_messages else None)
            worker = (a, b)[index % 2]  # every answer to the other worker
            posts.append(asyncio.create_task(worker.post(update)))
            # The next answer as soon as the question is on the merchant's screen: the
            # worker that asked may still be marking it sent.
            await api.until(lambda n=counts[index]: len(api.to(801)) >= n)
        assert set(await asyncio.gather(*posts)) == {200}, logs([a, b])
        alternating = await settle(api, 801, counts[-1])
        assert shown(alternating) == shown(reference), logs([a, b])
        assert keyboards(alternating) == keyboards(reference)  # old questions' buttons gone
    applied, expected = journal(url, 801), journal(url, 800)
    assert [step for _, step in applied] == [step for _, step in expected], (
        " ".join(map(str, applied)) + " | " + " ".join(map(str, expected)))
    update_ids = [int(key) for key, _ in applied]
    assert update_ids == sorted(update_ids) and len(applied) == len(BASIC)  # once, in order
    reads = dict(read(url, "SELECT m.user_key, count(t.id) FROM merchants m LEFT JOIN turns t"
                          " ON t.merchant_id = m.id AND t.update_key LIKE 'license-read:%'"
                          " GROUP BY m.user_key"))  # the reader's own turns, when it was done
    assert read(url, "SELECT user_key, version FROM merchants ORDER BY user_key") == [
        ("800", len(BASIC) + reads["800"]), ("801", len(BASIC) + reads["801"])]
    assert read(url, "SELECT count(*) FROM documents d JOIN merchants m ON m.id = d.merchant_id"
                " GROUP BY m.user_key ORDER BY m.user_key") == [(2,), (2,)]


BURST = [say("/start"), click("basic"), say("杭州星辰贸易有限公司"), say("/help")]
MERCHANTS = 40


async def merchant(api: FakeBotAPI, chat: int, to: list[Worker], lost: list[int]) -> None:
    """One merchant's updates, each once the last was answered, spread over the live workers
    as a load balancer does; a call the worker died on is posted again to a live one."""
    for index, step in enumerate(BURST):
        last = api.to(chat)[-1] if api.to(chat) else None
        update = step(api, chat, last)
        while True:
            live = [w for w in to if w.alive()]
            assert live, "no worker left"
            status = await live[(chat + index) % len(live)].post(update)
            if status != LOST:
                assert status == 200
                break
            lost.append(update["update_id"])


def collapse(messages: list[str]) -> tuple[list[str], int]:
    """The messages with an immediate repeat of a reply taken out (one or more messages sent
    again just as they were: the killed worker sent them but could not mark them sent, so the
    redelivery sends them again, the one repeat at-least-once allows); how many replies were
    repeated."""
    out: list[str] = []
    repeated = 0
    for message in messages:
        out.append(message)
        for size in range(1, len(out) // 2 + 1):
            if out[-size:] == out[-2 * size:-size]:
                del out[-size:]
                repeated += 1
                break
    return out, repeated


async def test_a_worker_killed_in_a_burst_leaves_nothing_unanswered(api, tmp_path,
                                                                    database_url):
    url = database_url
    async with workers(tmp_path, api, url) as (a, b):
        counts = await one_by_one(api, 899, b, BURST)
        reference = texts(await settle(api, 899, counts[-1]))
        chats = range(900, 900 + MERCHANTS)
        lost: list[int] = []
        burst = [asyncio.create_task(merchant(api, chat, [a, b], lost)) for chat in chats]
        total = MERCHANTS * counts[-1]
        # Killed with about a third of the burst answered: many calls are in flight then.
        await api.until(lambda: sum(len(api.to(c)) for c in chats) >= total // 3)
        a.process.kill()
        await asyncio.gather(*burst)
        await api.until(lambda: all(len(api.to(c)) >= counts[-1] for c in chats),
                        timeout=60)
        await asyncio.sleep(SETTLE)
        answers = {chat: texts(api.to(chat)) for chat in chats}
        wrong = {c: t for c, t in answers.items() if collapse(t)[0] != reference}
        assert not wrong, logs([a, b])
        repeats = sum(collapse(t)[1] for t in answers.values())
        print(f"{len(lost)} calls in flight lost with the worker, {repeats} replies repeated")
        assert lost  # the kill did fall inside the burst
        assert repeats <= len(lost)  # only a call in flight at the kill may repeat its reply
    rows = read(url, "SELECT m.user_key, m.version, count(t.id) FROM merchants m JOIN turns t"
                " ON t.merchant_id = m.id AND t.update_key IS NOT NULL WHERE m.user_key <> '899'"
                " GROUP BY m.user_key, m.version ORDER BY m.user_key")
    assert rows == [(str(c), len(BURST), len(BURST)) for c in chats]  # each applied once
    steps = read(url, "SELECT DISTINCT step FROM merchants m JOIN turns t ON t.merchant_id = m.id"
                 " WHERE t.update_key IS NOT NULL AND m.user_key <> '899'"
                 " AND t.id = (SELECT max(id) FROM turns WHERE merchant_id = m.id)")
    assert steps == [journal(url, 899)[-1][1:]]  # each where one worker left the first
