"""The group robot (群机器人): staff alerts into the service team's internal group chat.

An alert is first written to ``staff_alerts`` (it survives a restart), then sent by one task:
pending alerts are merged into one markdown message (up to 4096 bytes), at most 20 messages a
minute per robot (WeCom blocks a robot for a while beyond that), and a failed send is retried
with growing waits, a bounded number of times, then recorded as failed with its error.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime

import aiohttp

from bot.store.kf import KfStore

log = logging.getLogger(__name__)

PER_MINUTE = 20
MARKDOWN_LIMIT = 4096  # bytes of a robot markdown message
BACKOFF = (2.0, 8.0, 30.0, 120.0)  # waits between the attempts of one message
GATHER = 1.0  # seconds to let a burst of alerts gather into one message
SEPARATOR = "\n\n---\n\n"

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class RobotError(Exception):
    pass


class Robot:
    def __init__(self, session: aiohttp.ClientSession, store: KfStore, *, base_url: str,
                 key: str, now: Callable[[], datetime], per_minute: int = PER_MINUTE,
                 backoff: tuple[float, ...] = BACKOFF, gather: float = GATHER,
                 clock: Clock = time.monotonic,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.session = session
        self.store = store
        self.url = base_url.rstrip("/") + "/cgi-bin/webhook/send"
        self._key = key
        self.now = now
        self.per_minute = per_minute
        self.backoff = backoff
        self.gather = gather
        self.clock = clock
        self.sleep = sleep
        self._sent: deque[float] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def alert(self, kind: str, text: str) -> None:
        """Queue ``text`` (markdown) for the staff group; returns once it is stored."""
        await self.store.add_alert(kind, text, self.now())
        self._wake.set()

    def start(self) -> None:
        self._stopping = False
        self._wake.set()  # alerts left from before a restart go out first
        self._task = asyncio.create_task(self._run(), name="robot")

    async def close(self, timeout: float = 5) -> None:
        """Stop the task; alerts still pending get one bounded try (a cron run's alerts)."""
        if self._task is not None:
            # Let a send under way finish (cancelled mid-post, its alert would go out twice).
            self._stopping = True
            self._wake.set()
            _, running = await asyncio.wait([self._task], timeout=timeout)
            for task in running:
                task.cancel()

        async def drain() -> None:
            while await self._send_pending():
                pass

        try:
            await asyncio.wait_for(drain(), timeout)
        except (TimeoutError, OSError, aiohttp.ClientError) as exc:  # left for the next start
            log.warning("robot: alerts left pending at exit (%s)", type(exc).__name__)

    # -- the sending task ------------------------------------------------------------------
    async def _run(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            if not self._stopping:
                await self.sleep(self.gather)
            self._wake.clear()
            try:
                while await self._send_pending():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:  # the task outlives one bad pass (e.g. the database was busy)
                log.exception("robot: a pass failed")
                await self.sleep(self.backoff[0])
                self._wake.set()

    async def _send_pending(self) -> bool:
        """Send one merged message of the oldest pending alerts; False when none is left."""
        alerts = await self.store.pending_alerts()
        if not alerts:
            return False
        batch, size = [], 0
        for alert in alerts:
            cost = len(alert.text.encode("utf-8")) + len(SEPARATOR.encode())
            if batch and size + cost > MARKDOWN_LIMIT:
                break
            batch.append(alert)
            size += cost
        content = SEPARATOR.join(a.text for a in batch)
        content = content.encode("utf-8")[:MARKDOWN_LIMIT].decode("utf-8", "ignore")
        ids = [a.id for a in batch]
        attempts, error = 0, None
        for wait in (*self.backoff, None):
            await self._pace()
            attempts += 1
            try:
                await self._post(content)
            except (RobotError, aiohttp.ClientError, TimeoutError, OSError) as exc:
                error = str(exc) if isinstance(exc, RobotError) else type(exc).__name__
                log.warning("robot: send failed (%s), attempt %d", error, attempts)
                if wait is None:
                    break
                await self.sleep(wait)
                continue
            await self.store.alerts_done(ids, "sent", self.now(), attempts=attempts)
            log.info("robot: %d alert(s) sent in one message", len(ids))
            return True
        await self.store.alerts_done(ids, "failed", self.now(), error=error, attempts=attempts)
        log.error("robot: %d alert(s) given up: %s", len(ids), error)
        return True

    async def _pace(self) -> None:
        """At most ``per_minute`` messages in any 60 seconds."""
        while True:
            now = self.clock()
            while self._sent and self._sent[0] <= now - 60:
                self._sent.popleft()
            if len(self._sent) < self.per_minute:
                self._sent.append(now)
                return
            await self.sleep(self._sent[0] + 60 - now)

    async def _post(self, content: str) -> None:
        body = json.dumps({"msgtype": "markdown", "markdown": {"content": content}},
                          ensure_ascii=False).encode("utf-8")
        # the key is a credential: it travels in the query and never reaches a log line
        async with self.session.post(self.url, params={"key": self._key}, data=body,
                                     headers={"Content-Type": "application/json"}) as resp:
            try:
                data = await resp.json(content_type=None)
            except ValueError:
                data = None
        if not isinstance(data, dict):
            raise RobotError(f"HTTP {resp.status}, not a JSON object")
        if int(data.get("errcode", -1) or 0) != 0:
            raise RobotError(f"errcode {data.get('errcode')}")
