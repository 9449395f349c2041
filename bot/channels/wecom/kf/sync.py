"""Reading 微信客服 messages: ``kf/sync_msg`` from the stored cursor, page by page.

A callback only says "there is something": one pull per customer-service account runs at a
time (a callback during a pull makes it read again, with the newest token). A page of messages
is applied before its ``next_cursor`` is stored, so a crash re-reads at most that page, and the
service's update ids (``kf:<msgid>``) make the re-read change nothing. A page with a message
that failed is read again, up to ``PAGE_TRIES`` times, before the cursor moves past it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

import aiohttp

from bot.channels.wecom.api import WeComApiError
from bot.channels.wecom.kf.api import KfApi
from bot.channels.wecom.kf.inbound import KfMessage, parse
from bot.store.kf import KfStore

log = logging.getLogger(__name__)

PAGE_TRIES = 3
ERRORS = (WeComApiError, aiohttp.ClientError, TimeoutError, OSError)


class Puller:
    def __init__(self, api: KfApi, store: KfStore,
                 handle: Callable[[KfMessage], Awaitable[None]],
                 now: Callable[[], datetime]) -> None:
        self.api = api
        self.store = store
        self.handle = handle
        self.now = now
        self._pulls: dict[str, asyncio.Task[None]] = {}
        self._again: dict[str, str] = {}  # open_kfid -> the newest callback token
        self._failures: dict[tuple[str, str], int] = {}  # (open_kfid, cursor) -> failed reads

    def notify(self, token: str, open_kfid: str) -> None:
        """A ``kf_msg_or_event`` callback: pull now, or once more after the running pull."""
        if open_kfid in self._pulls:
            self._again[open_kfid] = token
            return
        self._pulls[open_kfid] = asyncio.create_task(self._pull_loop(open_kfid, token))

    async def _pull_loop(self, open_kfid: str, token: str) -> None:
        try:
            while True:
                try:
                    await self.pull(open_kfid, token)
                except ERRORS as exc:
                    log.warning("wecom_kf: sync_msg failed: %s", f"errcode {exc.errcode}"
                                if isinstance(exc, WeComApiError) else type(exc).__name__)
                except Exception:
                    log.exception("wecom_kf: a pull failed")
                if open_kfid not in self._again:
                    return
                token = self._again.pop(open_kfid)
        finally:
            self._pulls.pop(open_kfid, None)

    async def pull(self, open_kfid: str, token: str) -> None:
        """Read everything new for ``open_kfid``, page by page, following ``has_more``."""
        while True:
            cursor = await self.store.cursor(open_kfid)
            data = await self.api.sync_msg(open_kfid, cursor, token)
            messages = [m for m in map(parse, data.get("msg_list") or []) if m is not None]
            if not await self._apply_page(messages) and self._retry(open_kfid, cursor):
                return  # the next callback reads the page again (applied messages stay so)
            following = str(data.get("next_cursor") or "")
            if following and following != cursor:
                await self.store.set_cursor(open_kfid, following, self.now())
            if not data.get("has_more") or not following or following == cursor:
                return

    async def _apply_page(self, messages: list[KfMessage]) -> bool:
        """Each merchant's messages in order; different merchants side by side. False when
        one failed (say, the database was unavailable)."""
        by_user: dict[str, list[KfMessage]] = {}
        for message in messages:
            by_user.setdefault(message.user, []).append(message)

        async def one_user(items: list[KfMessage]) -> bool:
            ok = True
            for item in items:
                try:
                    await self.handle(item)
                except Exception:
                    log.exception("wecom_kf: a %s message failed", item.kind)
                    ok = False
            return ok

        return all(await asyncio.gather(*(one_user(items) for items in by_user.values())))

    def _retry(self, open_kfid: str, cursor: str) -> bool:
        """Whether to read a failed page again (up to PAGE_TRIES times) rather than move on:
        a message that fails every time must not stop the account for good."""
        key = (open_kfid, cursor)
        self._failures[key] = self._failures.get(key, 0) + 1
        if self._failures[key] < PAGE_TRIES:
            return True
        log.error("wecom_kf: a page failed %d times; moving on", PAGE_TRIES)
        del self._failures[key]
        return False

    async def close(self, timeout: float = 10) -> None:
        tasks = list(self._pulls.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
