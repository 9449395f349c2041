"""Albums split between workers: the photos of one media group, posted some to one worker and
some to another, are gathered through the database (``bot.store.albums``) into one album,
stored whole and answered once, by the worker that saw the group first.

Every worker writes each part as it arrives (before anything else waits). The owner waits until
the group has been quiet for ``wait`` seconds (at most ``max_wait`` from its first part), takes
the parts and applies them; the others wait until their parts are applied, so that each webhook
call is answered only once its photo is in the album. If the owner dies, a waiting worker takes
the gathering over when its claim runs out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.telegram.incoming import FileRef, Incoming
from bot.channels.telegram.lanes import ALBUM_MAX
from bot.store import albums as A

POLL = 0.05  # seconds between looks at the database while gathering or waiting
APPLY_HOLD = 30.0  # seconds an owner has to apply the parts it took before others may


def to_json(inc: Incoming) -> dict:
    return asdict(inc)


def from_json(data: dict) -> Incoming:
    file = data.get("file")
    return Incoming(**{**data, "file": FileRef(**file) if file else None})


class SharedAlbums:
    def __init__(self, engine: AsyncEngine, channel: str, wait: float, max_wait: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.channel = channel
        self.wait = wait
        self.max_wait = max_wait
        self.clock = clock
        # This worker's writes in flight, and a gathering one of them won that no part's lane
        # job has taken up yet: the first of the merchant's jobs to run gathers (a later one
        # in the same lane must not wait for it).
        self._writes: dict[tuple[str, str, str], set[asyncio.Task]] = {}
        self._owned: dict[tuple[str, str, str], A.Gathering] = {}

    def key(self, inc: Incoming) -> tuple[str, str, str]:
        assert inc.media_group_id is not None
        return self.channel, inc.user_key, inc.media_group_id

    def write(self, inc: Incoming) -> asyncio.Task[A.Gathering | None]:
        """Write the part now (at intake); the task's result: the gathering, if this call
        made the worker its owner."""
        key = self.key(inc)
        task = asyncio.create_task(A.add_part(
            self.engine, key, inc.update_id, to_json(inc), self.clock(),
            self.max_wait + APPLY_HOLD))
        self._writes.setdefault(key, set()).add(task)
        task.add_done_callback(lambda t: self._written(key, t))
        return task

    def _written(self, key, task: asyncio.Task) -> None:
        writes = self._writes.get(key)
        if writes is not None:
            writes.discard(task)
            if not writes:
                del self._writes[key]
        if not task.cancelled() and task.exception() is None and task.result() is not None:
            self._owned[key] = task.result()

    async def gather(self, key: tuple[str, str, str], mine: list[Incoming],
                     written: list[asyncio.Task[A.Gathering | None]]
                     ) -> tuple[A.Gathering, list[Incoming]] | None:
        """For parts this worker received: the gathering and every part of the album when
        this job is to apply it; None once another job (here or on another worker) applied
        them."""
        await asyncio.gather(*written)  # a failed write fails this part
        others = list(self._writes.get(key, ()))
        if others:
            await asyncio.wait(others)
        gathering = self._owned.pop(key, None)
        while True:
            if gathering is None:
                gathering = await self._until_applied(key, [i.update_id for i in mine])
                if gathering is None:
                    return None
            items = await self._quiet(key, gathering)
            if items is not None:
                return gathering, items
            gathering = None  # taken over meanwhile: wait for that owner

    async def _quiet(self, key, gathering: A.Gathering) -> list[Incoming] | None:
        while True:
            count, first, last = await A.quiet_since(self.engine, key, gathering)
            now = self.clock()
            if count >= ALBUM_MAX or now >= min(last + self.wait, first + self.max_wait):
                break
            await asyncio.sleep(min(POLL * 4, max(POLL, min(last + self.wait,
                                                            first + self.max_wait) - now)))
        taken = await A.close(self.engine, key, gathering, self.clock(), APPLY_HOLD)
        if taken is None:
            return None
        return sorted((from_json(p) for p in taken), key=lambda i: i.message_id)

    async def _until_applied(self, key, update_ids: list[int]) -> A.Gathering | None:
        """Wait for the owner to apply these parts; take the gathering over if it dies."""
        while await A.waiting(self.engine, key, update_ids):
            await asyncio.sleep(POLL)
            taken = await A.take_over(self.engine, key, self.clock(),
                                      self.max_wait + APPLY_HOLD)
            if taken is not None:
                return taken
        return None

    async def applied(self, key, gathering: A.Gathering) -> None:
        await A.applied(self.engine, key, gathering.gen)
