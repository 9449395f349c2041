"""Long polling that never loses an update, for every library alike (over ``BotAPI``: updates
arrive as JSON objects, and only the ones not yet held are read further).

aiogram's ``Dispatcher.start_polling`` and PTB's ``Updater`` confirm an update to Telegram (by
asking for the next offset) as soon as it is fetched; a crash while it is being handled would
lose it. Here the offset moves only past updates whose handling finished, so after a crash
Telegram delivers the unfinished ones again, and the service's processed-update mark makes the
finished ones no-ops. Updates still in flight when Telegram sends them again are recognised and
not queued twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.channels.telegram.retry import Backoff

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query"]
PAGE = 100  # getUpdates answers at most this many updates
CONFLICT = (
    "Telegram refused to deliver updates (409 Conflict): another copy of this bot is receiving "
    "updates with the same TELEGRAM_BOT_TOKEN, or a webhook is set for it. Stop the other copy "
    "(or remove its webhook) and start this one again."
)
UNAUTHORIZED = (
    "Telegram did not accept TELEGRAM_BOT_TOKEN (401 Unauthorized). Copy the token again from "
    "@BotFather."
)


class PollingStopped(RuntimeError):
    """Polling cannot go on; the message says why in plain words."""


@dataclass(frozen=True)
class PollErrors:
    """How a library's exceptions read: ``retry`` gives seconds to wait (a 429's retry_after)
    or 0.0 to back off, None for errors that are not about the network."""

    conflict: Callable[[BaseException], bool]
    unauthorized: Callable[[BaseException], bool]
    retry: Callable[[BaseException], float | None]


# fetch(offset, timeout) -> updates as the Bot API's JSON objects
Fetch = Callable[[int | None, int], Awaitable[list[dict[str, Any]]]]


class Poller:
    def __init__(self, fetch: Fetch, accept: Callable[[dict], asyncio.Future[None]],
                 errors: PollErrors, *, timeout: int = 30, max_conflicts: int = 3,
                 backoff: Backoff | None = None, idle_wait: float = 1.0) -> None:
        self.fetch = fetch
        self.accept = accept
        self.errors = errors
        self.timeout = timeout
        self.max_conflicts = max_conflicts
        self.backoff = backoff or Backoff(base=1.0, cap=30.0)
        self.idle_wait = idle_wait
        self.offset: int | None = None
        self.pending: dict[int, asyncio.Future[None]] = {}

    async def run(self) -> None:
        failures = conflicts = 0
        while True:
            self.advance()
            try:
                updates = await self.fetch(self.offset, self.timeout)
            except Exception as exc:
                if self.errors.unauthorized(exc):
                    raise PollingStopped(UNAUTHORIZED) from exc
                if self.errors.conflict(exc):
                    conflicts += 1
                    log.error("%s (attempt %d of %d)", CONFLICT, conflicts, self.max_conflicts)
                    if conflicts >= self.max_conflicts:
                        raise PollingStopped(CONFLICT) from exc
                    await self.backoff.sleep(self.backoff.delay(conflicts))
                    continue
                hint = self.errors.retry(exc)
                if hint is None:
                    raise
                failures += 1
                delay = hint or self.backoff.delay(min(failures, 10))
                log.warning("getUpdates failed (%s); retrying in %.1f s", type(exc).__name__,
                            delay)
                await self.backoff.sleep(delay)
                continue
            failures = conflicts = 0
            fresh = self.take(updates)
            if len(self.pending) >= PAGE or (updates and not fresh and self.pending):
                await self._wait_for_room()

    async def _wait_for_room(self) -> None:
        """The next page would bring only updates still being handled: Telegram answers from
        the offset, a page at a time. Wait for the older half of the page (or a while) to
        be done before asking again: asking as soon as the first one is done would parse a
        whole page again for one new update (a burst of 400 took 100 pages, 10,000 updates
        parsed)."""
        oldest = sorted(self.pending)[: max(1, min(PAGE, len(self.pending)) // 2)]
        await asyncio.wait([self.pending[i] for i in oldest], timeout=self.idle_wait)

    def take(self, updates: list[dict[str, Any]]) -> bool:
        """Queue the updates not yet held; one still being handled costs a dict lookup."""
        fresh = False
        for update in updates:
            update_id = update.get("update_id") if isinstance(update, dict) else None
            if type(update_id) is not int:
                log.warning("getUpdates returned something that is no update; skipped")
                continue
            if update_id in self.pending or (self.offset is not None
                                             and update_id < self.offset):
                continue
            self.pending[update_id] = asyncio.ensure_future(self.accept(update))
            fresh = True
        self.advance()
        return fresh

    def advance(self) -> None:
        """Move the offset past the longest run of finished updates."""
        for update_id in sorted(self.pending):
            if not self.pending[update_id].done():
                break
            del self.pending[update_id]
            self.offset = update_id + 1
