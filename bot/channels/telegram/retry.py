"""Bounded retries for Bot API calls: network errors and 5xx back off exponentially, a 429 waits
the ``retry_after`` Telegram asks for; after ``attempts`` tries the error goes to the caller."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

# classify(exc) -> seconds Telegram asked to wait (429), 0.0 for "back off", None: do not retry
Classify = Callable[[BaseException], float | None]


@dataclass(frozen=True)
class Backoff:
    attempts: int = 5
    base: float = 0.5
    cap: float = 10.0
    max_retry_after: float = 60.0  # a 429 asking for longer than this is not waited out
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def delay(self, attempt: int) -> float:
        return min(self.cap, self.base * 2 ** (attempt - 1))


async def retrying(call: Callable[[], Awaitable[T]], backoff: Backoff, classify: Classify,
                   what: str) -> T:
    for attempt in range(1, backoff.attempts + 1):
        try:
            return await call()
        except Exception as exc:
            hint = classify(exc)
            if hint is None or attempt == backoff.attempts:
                raise
            if hint > 0:
                if hint > backoff.max_retry_after:
                    raise
                delay = hint
            else:
                delay = backoff.delay(attempt)
            log.warning("%s failed (%s), retry %d/%d in %.1f s", what, type(exc).__name__,
                        attempt, backoff.attempts - 1, delay)
            await backoff.sleep(delay)
    raise AssertionError("unreachable")
