"""WeCom with several workers on one database: the pacing per member and the access token live
in the database (``bot.store.shared``), so the limits hold for the app, not for each process,
and one gettoken serves every worker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.wecom.api import MEMBER_LIMITS, Clock, Sleep
from bot.store import shared as S


class SharedPacer:
    """``Pacer``'s interface over the database: a send takes a slot only when every window of
    the member (across workers) has room; otherwise it waits and asks again."""

    def __init__(self, engine: AsyncEngine, app: str,
                 limits: tuple[tuple[int, float], ...] = MEMBER_LIMITS,
                 clock: Clock = time.time, sleep: Sleep = asyncio.sleep) -> None:
        self.engine = engine
        self.app = app
        self.limits = tuple(limits)
        self.clock = clock
        self.sleep = sleep

    async def acquire(self, member: str) -> None:
        while (wait := await S.take_slot(self.engine, f"{self.app}:{member}", self.clock(),
                                         self.limits)) > 0:
            await self.sleep(wait)


def token_store(engine: AsyncEngine, name: str, clock: Clock = time.time,
                cipher: S.Cipher | None = None):
    """``WeComApi``'s ``token_store``: the token shared under ``name``, encrypted in the
    database by ``cipher`` when one is given (``Settings.cipher``)."""

    async def get(fetch: Callable[[], Awaitable[tuple[str, float]]],
                  stale: str | None) -> tuple[str, float]:
        return await S.shared_token(engine, name, clock(), fetch, stale, cipher)

    return get
