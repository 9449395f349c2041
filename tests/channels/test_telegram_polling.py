"""Long polling over the plain Bot API client: the offset moves only past handled updates, an
update still held is not read again, 409 and 401 are reported plainly."""

from __future__ import annotations

import asyncio

import pytest
from fake_telegram import TOKEN, FakeBotAPI, Updates

from bot.channels.telegram.botapi import POLL_ERRORS, BotAPI
from bot.channels.telegram.polling import Poller, PollingStopped
from bot.channels.telegram.retry import Backoff


async def no_sleep(seconds: float) -> None:
    return None


@pytest.fixture
async def api():
    server = FakeBotAPI()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client(api):
    bot_api = BotAPI(TOKEN, api.url, backoff=Backoff(sleep=no_sleep))
    yield bot_api
    await bot_api.close()


def make(client: BotAPI, accept) -> Poller:
    return Poller(client.get_updates, accept, POLL_ERRORS, timeout=1,
                  backoff=Backoff(sleep=no_sleep))


async def test_the_offset_moves_only_past_a_finished_run_of_updates(client):
    futures: dict[int, asyncio.Future] = {}
    accepted: list[int] = []

    def accept(update: dict) -> asyncio.Future:
        accepted.append(update["update_id"])
        futures[update["update_id"]] = asyncio.get_running_loop().create_future()
        return futures[update["update_id"]]

    poller = make(client, accept)
    updates = Updates()
    batch = [updates.text(1, str(i)) for i in range(3)]
    ids = [u["update_id"] for u in batch]
    assert poller.take(batch) is True
    assert poller.offset is None
    futures[ids[1]].set_result(None)
    poller.advance()
    assert poller.offset is None  # the first is still being handled
    assert poller.take(batch) is False  # delivered again: not queued twice
    futures[ids[0]].set_result(None)
    poller.advance()
    assert poller.offset == ids[1] + 1
    futures[ids[2]].set_result(None)
    poller.advance()
    assert poller.offset == ids[2] + 1 and not poller.pending
    assert accepted == ids


async def test_updates_arrive_as_json_and_are_confirmed_once_handled(api, client):
    handled: list[dict] = []
    gate = asyncio.Event()

    async def handle(update: dict) -> None:
        await gate.wait()
        handled.append(update)

    poller = make(client, lambda update: asyncio.ensure_future(handle(update)))
    first, second = api.updates.text(1, "a"), api.updates.text(2, "b")
    await api.push(first, second)
    task = asyncio.create_task(poller.run())
    try:
        await api.until(lambda: len(api.offsets) >= 3)  # polled again while both are held
        assert not api.confirmed(first["update_id"]) and len(poller.pending) == 2
        gate.set()
        await api.until(lambda: api.confirmed(second["update_id"]))
        assert [u["update_id"] for u in handled] == [first["update_id"], second["update_id"]]
        assert handled[0]["message"]["text"] == "a"  # the JSON object as Telegram sent it
    finally:
        task.cancel()


async def test_a_conflict_is_reported_in_plain_words(api, client, caplog):
    api.failures["getUpdates"] += [409, 409, 409]
    with pytest.raises(PollingStopped) as stopped:
        await asyncio.wait_for(make(client, lambda update: None).run(), 5)
    assert "another copy of this bot" in str(stopped.value)
    assert "409 Conflict" in caplog.text


async def test_network_errors_while_polling_back_off_and_go_on(api, client):
    api.failures["getUpdates"] += ["reset", 502, 401]
    with pytest.raises(PollingStopped) as stopped:
        await asyncio.wait_for(make(client, lambda update: None).run(), 5)
    assert "TELEGRAM_BOT_TOKEN" in str(stopped.value)
    assert sum(1 for name, _ in api.calls if name == "getUpdates") == 3
