"""Sends due reminders: claim, send through the channel's sender, mark.

A claim is one conditional UPDATE (portable SQL: SQLite and PostgreSQL alike) that succeeds for
exactly one worker; it holds a lease. The send happens after the claim committed; the mark
after the send. A worker that dies between claim and mark leaves the lease to expire, and the
next worker sends the reminder then: once, unless the send itself had already gone out (a
channel without idempotent sends cannot tell). A failed send is retried with growing waits and
given up after ``max_attempts``; a permanent failure (the merchant blocked the bot) at once.
Nothing is sent in the merchant's quiet hours: a reminder found due at night waits for the
morning.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError

from bot import metrics
from bot.delivery import DeliveryError, Sender
from bot.engine.model import Reply
from bot.engine.render import Renderer
from bot.reminders import facts as F
from bot.reminders.texts import Texts
from bot.reminders.timing import Timing, backoff, to_local
from bot.store import reminders as R
from bot.store.db import Database
from bot.store.reminders import claimable

log = logging.getLogger(__name__)

BATCH = 50
MAX_ROUNDS = 100  # a pass handles at most BATCH * MAX_ROUNDS reminders
# Test hook: a worker that exits right after committing a claim, as a crash would.
EXIT_AFTER_CLAIM = "BOT_REMINDERS_TEST_EXIT_AFTER_CLAIM"


@dataclass(frozen=True)
class WorkerConfig:
    timing: Timing
    lease: timedelta = timedelta(minutes=5)
    max_attempts: int = 5
    send_timeout: float = 30.0
    poll: float = 60.0
    # Whether a channel shows choices as buttons, for senders that do not say (``buttons``).
    buttons: Callable[[str], bool] = lambda channel: True


@dataclass
class Due:
    id: int
    merchant_id: int
    channel: str
    user_key: str
    timezone: str
    locale: str
    kind: str
    subject: str
    anchor: Any
    lead_days: int
    due_at: datetime
    attempts: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class Worker:
    def __init__(self, db: Database, render: Renderer, senders: Mapping[str, Sender],
                 config: WorkerConfig,
                 report: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.db = db
        self.render = render
        self.senders = senders
        self.config = config
        self.report = report

    @property
    def timing(self) -> Timing:
        return self.config.timing

    # -- one pass ----------------------------------------------------------------------------
    async def run_once(self, now: datetime) -> list[dict[str, Any]]:
        """Send everything due at ``now`` (naive UTC); returns one record per reminder sent."""
        await self.refresh(now)
        sent: list[dict[str, Any]] = []
        for _ in range(MAX_ROUNDS):
            batch = await self._due(now)
            if not batch:
                break
            for item in batch:
                record = await self._handle(item, now)
                if record is not None:
                    sent.append(record)
        return sent

    async def _due(self, now: datetime) -> list[Due]:
        if not self.senders:
            return []
        rows = await R.due(self.db, now, self.senders, BATCH)
        return [
            Due(r.id, m.id, m.channel, m.user_key, m.timezone, m.locale, r.kind, r.subject,
                r.anchor, r.lead_days, r.due_at, r.attempts)
            for r, m in rows
        ]
    async def _handle(self, item: Due, now: datetime) -> dict[str, Any] | None:
        if self.timing.is_quiet(now, item.timezone):
            morning = self.timing.settle(now, item.timezone, item.merchant_id)
            await self._update(item.id, claimable(now), status=F.PENDING, next_at=morning,
                               claim_token=None, claimed_until=None, updated_at=now)
            log.info("reminder %d: quiet hours, deferred", item.id)
            return None
        token = uuid.uuid4().hex
        claimed = await self._update(
            item.id, claimable(now), status=F.CLAIMED, claim_token=token,
            claimed_until=now + self.config.lease, attempts=R.attempts_plus_one(),
            updated_at=now)
        if not claimed:
            return None  # another worker has it
        if os.environ.get(EXIT_AFTER_CLAIM):
            os._exit(17)
        attempts = item.attempts + 1
        try:
            reply = self._reply(item, now)
            sender = self.senders[item.channel]
            await asyncio.wait_for(sender.send(item.user_key, [reply]),
                                   self.config.send_timeout)
        except DeliveryError as exc:
            metrics.labelled(metrics.SENDS, item.channel, "failed").inc()
            await self._failed(item, token, now, attempts, str(exc), exc.permanent)
            return None
        except Exception as exc:  # a sender bug or a timeout: retried, a bounded number of times
            metrics.labelled(metrics.SENDS, item.channel, "failed").inc()
            log.exception("reminder %d: send raised", item.id)
            await self._failed(item, token, now, attempts, type(exc).__name__, False)
            return None
        metrics.labelled(metrics.SENDS, item.channel, "sent").inc()
        marked = await self._update(
            item.id, R.claimed_by(token),
            status=F.SENT, sent_at=now, claim_token=None, claimed_until=None,
            last_error=None, updated_at=now)
        if not marked:
            log.warning("reminder %d: sent, but changed meanwhile (snoozed or cancelled)",
                        item.id)
        record = self._record(item, reply)
        if self.report is not None:
            self.report(record)
        log.info("reminder %d (%s) sent via %s", item.id, item.kind, item.channel)
        return record

    async def _failed(self, item: Due, token: str, now: datetime, attempts: int, error: str,
                      permanent: bool) -> None:
        mine = R.claimed_by(token)
        if permanent or attempts >= self.config.max_attempts:
            await self._update(item.id, mine, status=F.FAILED, claim_token=None,
                               claimed_until=None, last_error=error[:255], updated_at=now)
            log.warning("reminder %d: given up after %d attempt(s): %s", item.id, attempts,
                        error)
            return
        retry = self.timing.settle(now + backoff(attempts), item.timezone, item.merchant_id)
        await self._update(item.id, mine, status=F.PENDING, next_at=retry, claim_token=None,
                           claimed_until=None, last_error=error[:255], updated_at=now)
        log.info("reminder %d: attempt %d failed (%s), retry at %s", item.id, attempts, error,
                 retry.isoformat())

    async def _update(self, reminder_id: int, condition, **values: Any) -> bool:
        """One conditional UPDATE in its own transaction; True when it changed the row."""
        return await R.update_if(self.db, reminder_id, condition, **values)

    # -- what is sent and reported -----------------------------------------------------------
    def buttons(self, channel: str) -> bool:
        says = getattr(self.senders.get(channel), "buttons", None)
        return self.config.buttons(channel) if says is None else bool(says)

    def _reply(self, item: Due, now: datetime) -> Reply:
        today = to_local(now, self.timing.zone(item.timezone)).date()
        return Texts(self.render, item.locale).reply(
            item.id, item.kind, item.subject, item.anchor, today,
            buttons=self.buttons(item.channel))

    def _record(self, item: Due, reply: Reply) -> dict[str, Any]:
        due = to_local(item.due_at, self.timing.zone(item.timezone))
        record: dict[str, Any] = {
            "merchant": item.user_key,
            "kind": item.kind,
            "subject": item.subject,
            "due": due.replace(tzinfo=self.timing.zone(item.timezone)).isoformat(),
            "channel": item.channel,
            "reminder": item.id,
        }
        if item.channel == "console":  # for the console, this line is the delivery
            record["text"] = reply.text
            record["choices"] = [{"id": c.id, "label": c.label} for c in reply.choices]
        return record

    # -- next year's cycle -------------------------------------------------------------------
    async def refresh(self, now: datetime) -> None:
        """Schedule the next cycle for merchants whose anniversary has passed (a day's slack
        for timezones), without waiting for them to write."""
        cutoff = (now - timedelta(days=1)).date()
        ids = await R.to_review(self.db, cutoff, BATCH * MAX_ROUNDS)
        for merchant_id in ids:
            try:
                async with self.db.session() as session, session.begin():
                    merchant = await R.merchant(session, merchant_id)
                    if merchant is not None:
                        await F.sync(session, merchant, now, self.timing, self.render.figures)
            except (IntegrityError, DBAPIError) as exc:  # the merchant's own turn won
                log.info("merchant %d: refresh skipped (%s)", merchant_id,
                         type(exc).__name__)

    # -- the loop inside `python -m bot run` -------------------------------------------------
    async def loop(self, clock: Callable[[], datetime]) -> None:
        while True:
            try:
                await self.run_once(clock())
            except asyncio.CancelledError:
                raise
            except Exception:  # the loop outlives one bad pass
                log.exception("reminder pass failed")
            await asyncio.sleep(self.config.poll)
