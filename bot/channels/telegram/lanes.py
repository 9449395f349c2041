"""Per-merchant lanes: one merchant's jobs run one after another, in the order they were
submitted; different merchants run in parallel. Albums gather in their lane before they run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.channels.telegram.incoming import Incoming

ALBUM_MAX = 10  # Telegram's media group limit


class Lanes:
    def __init__(self) -> None:
        self._tails: dict[str, asyncio.Task[None]] = {}

    def submit(self, key: str, job: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        previous = self._tails.get(key)
        task = asyncio.create_task(self._after(previous, job))
        self._tails[key] = task
        task.add_done_callback(lambda t: self._forget(key, t))
        return task

    async def _after(self, previous: asyncio.Task[None] | None,
                     job: Callable[[], Awaitable[None]]) -> None:
        if previous is not None:
            await asyncio.wait([previous])  # its outcome is its own business
        await job()

    def _forget(self, key: str, task: asyncio.Task[None]) -> None:
        if self._tails.get(key) is task:
            del self._tails[key]

    @property
    def busy(self) -> list[asyncio.Task[None]]:
        return list(self._tails.values())


@dataclass
class Album:
    """Photos (or documents) of one media group, gathered until the group goes quiet."""

    key: tuple[str, str]
    wait: float
    max_wait: float
    items: list[Incoming] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    last: float = field(default_factory=time.monotonic)
    closed: bool = False
    task: asyncio.Task[None] | None = None

    def add(self, item: Incoming) -> None:
        self.items.append(item)
        self.last = time.monotonic()

    async def gathered(self) -> list[Incoming]:
        while len(self.items) < ALBUM_MAX:
            now = time.monotonic()
            remaining = min(self.last + self.wait, self.started + self.max_wait) - now
            if remaining <= 0:
                break
            await asyncio.sleep(remaining)
        self.closed = True
        return sorted(self.items, key=lambda i: i.message_id)  # message order
