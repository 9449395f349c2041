"""Long polling: the offset moves only past handled updates; 409 is reported plainly."""

from __future__ import annotations

import asyncio

import pytest
from aiogram.types import Update
from fake_telegram import TOKEN, RecordingSession, Updates

from bot.channels.telegram.aiogram_transport import POLL_ERRORS, fetcher, make_bot
from bot.channels.telegram.polling import Poller, PollingStopped
from bot.channels.telegram.retry import Backoff


async def no_sleep(seconds: float) -> None:
    return None


def make(accept) -> tuple[Poller, RecordingSession]:
    session = RecordingSession()
    bot = make_bot(TOKEN, "http://127.0.0.1:9", session=session,
                   backoff=Backoff(sleep=no_sleep))
    poller = Poller(fetcher(bot), accept, POLL_ERRORS, timeout=1,
                    backoff=Backoff(sleep=no_sleep))
    return poller, session


async def test_the_offset_moves_only_past_a_finished_run_of_updates():
    futures: dict[int, asyncio.Future] = {}

    def accept(update: Update) -> asyncio.Future:
        futures[update.update_id] = asyncio.get_running_loop().create_future()
        return futures[update.update_id]

    poller, _ = make(accept)
    updates = Updates()
    batch = [Update.model_validate(updates.text(1, str(i))) for i in range(3)]
    ids = [u.update_id for u in batch]
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


async def test_a_conflict_is_reported_in_plain_words(caplog):
    poller, session = make(lambda update: None)
    session.fail("getUpdates", 409, "Conflict: terminated by other getUpdates request",
                 times=3)
    with pytest.raises(PollingStopped) as stopped:
        await asyncio.wait_for(poller.run(), 5)
    assert "another copy of this bot" in str(stopped.value)
    assert "409 Conflict" in caplog.text


async def test_network_errors_while_polling_back_off_and_go_on():
    seen = []

    def accept(update):
        seen.append(update.update_id)
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    poller, session = make(accept)
    session.fail_network("getUpdates", times=2)
    session.fail("getUpdates", 401, "Unauthorized")
    with pytest.raises(PollingStopped) as stopped:
        await asyncio.wait_for(poller.run(), 5)
    assert "TELEGRAM_BOT_TOKEN" in str(stopped.value)
    assert len(session.calls("getUpdates")) == 3
