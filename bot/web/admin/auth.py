"""Console security: sign-in throttling, the session cookie, CSRF tokens, roles.

Failed sign-ins are slowed per user name and per address: after a few free tries each further
failure locks that key for twice as long as the last (up to 15 minutes); a locked key is refused
without checking the password, so guessing cannot go faster than the lock allows. The counts
live in the database (``bot.store.logins``), so every console worker slows the same guesser;
15 minutes without a failure forgive a key.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.store import logins
from bot.store.db import Database

COOKIE = "bot_admin"
LOGIN_CSRF_COOKIE = "bot_admin_login"
MAX_LOCK = 900.0
FORGIVE = timedelta(seconds=MAX_LOCK)


class LoginThrottle:
    def __init__(self, db: Database, clock: Callable[[], datetime], *, free_user: int = 3,
                 free_address: int = 10) -> None:
        self.db = db
        self.free = {"user": free_user, "address": free_address}
        self.clock = clock  # naive UTC, the service's clock

    @staticmethod
    def _keys(user: str, address: str) -> list[tuple[str, str]]:
        return [("user", user.casefold()), ("address", address)]

    async def wait(self, user: str, address: str) -> float:
        """Seconds before either key may try again (0: now)."""
        now = self.clock()
        locks = await logins.locked_until(self.db, self._keys(user, address))
        return max([0.0, *((until - now).total_seconds() for until in locks)])

    async def failed(self, user: str, address: str) -> None:
        now = self.clock()
        await logins.forget_before(self.db, now - FORGIVE)
        for kind, key in self._keys(user, address):
            def lock(count: int, kind: str = kind) -> datetime | None:
                over = count - self.free[kind]
                if over <= 0:
                    return None
                return now + timedelta(seconds=min(MAX_LOCK, 2.0 ** (over - 1)))

            await logins.count_failure(self.db, kind, key, now, forgive_after=FORGIVE,
                                       lock=lock)

    async def succeeded(self, user: str) -> None:
        await logins.forget(self.db, "user", user.casefold())


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same(given: str | None, expected: str | None) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))
