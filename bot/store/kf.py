"""SQL for the 微信客服 channel and the group robot: sync cursors, the per-merchant session
(48-hour window and its 5-message budget, who serves), staff alerts, reminder delivery marks.

Every write is one short transaction of portable SQL (SQLite and PostgreSQL alike); the budget
is taken with one conditional UPDATE, so two workers can never spend it twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.store.db import Database
from bot.store.models import KfCursor, KfSession, Merchant, Reminder, StaffAlert

WINDOW = timedelta(hours=48)  # WeCom: messages only within 48 hours of the merchant's last
BUDGET = 5  # ... and at most 5 of them per merchant message


@dataclass(frozen=True)
class Session:
    external_userid: str
    open_kfid: str
    window_at: datetime | None
    sent: int
    serving: str
    servicer: str | None
    handed_at: datetime | None
    scene: str | None

    def left(self, now: datetime) -> int:
        """Messages that may still go out now."""
        if self.window_at is None or now - self.window_at >= WINDOW:
            return 0
        return max(0, BUDGET - self.sent)


def _session(row: KfSession) -> Session:
    return Session(row.external_userid, row.open_kfid, row.window_at, row.sent, row.serving,
                   row.servicer, row.handed_at, row.scene)


# ``serving`` after a person ended the session: the bot's again, but WeCom lets it write only
# once the merchant writes (a new session); the guide answers that message.
ENDED = "ended"


class KfStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- cursors ---------------------------------------------------------------------------
    async def cursor(self, open_kfid: str) -> str:
        async with self.db.session() as session:
            row = await session.get(KfCursor, open_kfid)
            return row.cursor if row is not None else ""

    async def set_cursor(self, open_kfid: str, cursor: str, now: datetime) -> None:
        async with self.db.session() as session, session.begin():
            row = await session.get(KfCursor, open_kfid)
            if row is None:
                session.add(KfCursor(open_kfid=open_kfid, cursor=cursor, updated_at=now))
            else:
                row.cursor, row.updated_at = cursor, now

    # -- sessions --------------------------------------------------------------------------
    async def session(self, user: str) -> Session | None:
        async with self.db.session() as session:
            row = await session.get(KfSession, user)
            return _session(row) if row is not None else None

    async def _change(self, user: str, open_kfid: str | None, now: datetime,
                      **values: Any) -> None:
        """Update the merchant's row, creating it on first sight."""
        for _ in range(2):
            async with self.db.session() as session:
                try:
                    async with session.begin():
                        row = await session.get(KfSession, user)
                        if row is None:
                            row = KfSession(external_userid=user, open_kfid=open_kfid or "",
                                            sent=0, serving="bot", refusals=0, updated_at=now)
                            session.add(row)
                        if open_kfid:
                            row.open_kfid = open_kfid
                        for name, value in values.items():
                            setattr(row, name, value)
                        row.updated_at = now
                    return
                except IntegrityError:  # created meanwhile by another worker: update it
                    continue

    async def heard(self, user: str, open_kfid: str, at: datetime, now: datetime) -> None:
        """The merchant wrote at ``at``: a new 48-hour window with its full budget."""
        current = await self.session(user)
        if current is not None and current.window_at is not None and current.window_at >= at:
            return  # a message read again (after a crash) or late opens nothing new
        await self._change(user, open_kfid, now, window_at=at, sent=0)

    async def spend(self, user: str, count: int, now: datetime) -> int:
        """Take up to ``count`` messages of the budget; returns how many were granted."""
        for want in range(count, 0, -1):
            async with self.db.session() as session, session.begin():
                result = await session.execute(
                    update(KfSession)
                    .where(KfSession.external_userid == user,
                           KfSession.window_at > now - WINDOW,
                           KfSession.sent + want <= BUDGET)
                    .values(sent=KfSession.sent + want, updated_at=now)
                    .execution_options(synchronize_session=False))
                if result.rowcount == 1:
                    return want
        return 0

    async def serve_by(self, user: str, serving: str, now: datetime, *,
                       servicer: str | None = None, open_kfid: str | None = None,
                       handed: bool = False) -> None:
        """Who answers the merchant now. ``handed``: they asked for a person just now (the
        wait is counted from here until a person writes)."""
        values: dict[str, Any] = {"serving": serving, "servicer": servicer}
        if handed:
            values.update(handed_at=now, nudged_at=now)
        elif serving in ("bot", ENDED):
            values["handed_at"] = None
        await self._change(user, open_kfid, now, **values)

    async def answered(self, user: str, servicer: str | None, open_kfid: str,
                       now: datetime) -> None:
        """A person wrote to the merchant: they serve the session; the wait is over."""
        await self._change(user, open_kfid, now, serving="person", servicer=servicer,
                           handed_at=None)

    async def nudge(self, user: str, now: datetime, every: timedelta) -> int | None:
        """Minutes the merchant has waited for a person, when staff should hear of it again
        (at most once per ``every``); None otherwise."""
        async with self.db.session() as session, session.begin():
            row = await session.get(KfSession, user)
            if row is None or row.handed_at is None:
                return None
            result = await session.execute(
                update(KfSession)
                .where(KfSession.external_userid == user, KfSession.nudged_at <= now - every)
                .values(nudged_at=now).execution_options(synchronize_session=False))
            if result.rowcount != 1:
                return None
            return int((now - row.handed_at).total_seconds() // 60)

    async def came_from(self, user: str, open_kfid: str, scene: str, now: datetime) -> None:
        await self._change(user, open_kfid, now, scene=scene[:128])

    async def refused(self, user: str, step: str | None, now: datetime) -> int:
        """Count a refused document at ``step`` (None: accepted, the count starts again);
        returns the refusals in a row at that step."""
        async with self.db.session() as session:
            row = await session.get(KfSession, user)
            same = row is not None and row.refusal_step == step
            count = (row.refusals + 1 if same else 1) if row is not None and step else 0
        await self._change(user, None, now, refusals=count, refusal_step=step)
        return count

    async def merchant_name(self, channel: str, user: str) -> tuple[str | None, str | None]:
        """(company name the merchant gave, current step) for staff messages; None when not
        known. The state's answers are read as stored (the company name is never sealed)."""
        async with self.db.session() as session:
            merchant = await session.scalar(select(Merchant).where(
                Merchant.channel == channel, Merchant.user_key == user))
        if merchant is None:
            return None, None
        state = merchant.state or {}
        company = (state.get("answers") or {}).get("company_name")
        step = f"{state['flow']}.{state['step']}" if state.get("flow") else None
        return (company if isinstance(company, str) else None), step

    async def user_of(self, merchant_id: int) -> str | None:
        """The kf merchant's ``external_userid`` (their user_key)."""
        async with self.db.session() as session:
            return await session.scalar(select(Merchant.user_key).where(
                Merchant.id == merchant_id))

    # -- reminders -------------------------------------------------------------------------
    async def reminder(self, reminder_id: int) -> Reminder | None:
        async with self.db.session() as session:
            return await session.get(Reminder, reminder_id)

    async def delivered_via(self, reminder_id: int, via: str) -> None:
        async with self.db.session() as session, session.begin():
            await session.execute(update(Reminder).where(Reminder.id == reminder_id)
                                  .values(delivered_via=via))

    # -- staff alerts ----------------------------------------------------------------------
    async def add_alert(self, kind: str, text: str, now: datetime) -> int:
        async with self.db.session() as session, session.begin():
            row = StaffAlert(kind=kind, text=text[:2048], status="pending", attempts=0,
                             created_at=now)
            session.add(row)
            await session.flush()
            return row.id

    async def pending_alerts(self, limit: int = 50) -> list[StaffAlert]:
        async with self.db.session() as session:
            rows = await session.scalars(select(StaffAlert).where(StaffAlert.status == "pending")
                                         .order_by(StaffAlert.id).limit(limit))
            return list(rows)

    async def alerts_done(self, ids: list[int], status: str, now: datetime,
                          error: str | None = None, attempts: int | None = None) -> None:
        values: dict[str, Any] = {"status": status, "last_error": error}
        if status == "sent":
            values["sent_at"] = now
        if attempts is not None:
            values["attempts"] = attempts
        async with self.db.session() as session, session.begin():
            await session.execute(update(StaffAlert).where(StaffAlert.id.in_(ids))
                                  .values(**values).execution_options(
                                      synchronize_session=False))
