"""Console security: sign-in throttling, the session cookie, CSRF tokens, roles.

Failed sign-ins are slowed per user name and per address: after a few free tries each further
failure locks that key for twice as long as the last (up to 15 minutes); a locked key is refused
without checking the password, so guessing cannot go faster than the lock allows. The counters
live in the process (a restart forgives); several workers each keep their own.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

COOKIE = "bot_admin"
LOGIN_CSRF_COOKIE = "bot_admin_login"
MAX_LOCK = 900.0
MAX_KEYS = 10_000


@dataclass
class _Failures:
    count: int = 0
    locked_until: float = 0.0
    last: float = 0.0


class LoginThrottle:
    def __init__(self, *, free_user: int = 3, free_address: int = 10,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.free = {"user": free_user, "address": free_address}
        self.clock = clock
        self._failures: dict[tuple[str, str], _Failures] = {}

    def wait(self, user: str, address: str) -> float:
        """Seconds before either key may try again (0: now)."""
        now = self.clock()
        waits = [f.locked_until - now for f in self._get(user, address) if f is not None]
        return max([0.0, *waits])

    def failed(self, user: str, address: str) -> None:
        now = self.clock()
        if len(self._failures) > MAX_KEYS:
            self._forget_old(now)
        for kind, value in (("user", user.casefold()), ("address", address)):
            entry = self._failures.setdefault((kind, value), _Failures())
            entry.count += 1
            entry.last = now
            over = entry.count - self.free[kind]
            if over > 0:
                entry.locked_until = now + min(MAX_LOCK, 2.0 ** (over - 1))

    def succeeded(self, user: str) -> None:
        self._failures.pop(("user", user.casefold()), None)

    def _get(self, user: str, address: str) -> list[_Failures | None]:
        return [self._failures.get(("user", user.casefold())),
                self._failures.get(("address", address))]

    def _forget_old(self, now: float) -> None:
        for key, entry in list(self._failures.items()):
            if entry.last < now - MAX_LOCK:
                del self._failures[key]


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same(given: str | None, expected: str | None) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))
