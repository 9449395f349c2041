"""Handoffs to a person: open while an operator serves the merchant, closed on release."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.db import Database
from bot.store.models import Handoff, Merchant


async def current(session: AsyncSession, merchant_id: int | None) -> Handoff | None:
    if merchant_id is None:
        return None
    return await session.scalar(select(Handoff).where(
        Handoff.merchant_id == merchant_id, Handoff.closed_at.is_(None)))


async def find(db: Database, channel: str, user_key: str) -> Merchant | None:
    async with db.session() as session:
        return await session.scalar(select(Merchant).where(
            Merchant.channel == channel, Merchant.user_key == user_key))


async def current_of(db: Database, merchant_id: int) -> Handoff | None:
    async with db.session() as session:
        return await current(session, merchant_id)


async def open_now(db: Database, merchant_id: int, now: datetime) -> bool:
    """``open_or_touch`` outside a turn (a person took the merchant over in their channel)."""
    async with db.session() as session, session.begin():
        return await open_or_touch(session, merchant_id, now)


async def open_or_touch(session: AsyncSession, merchant_id: int, now: datetime) -> bool:
    """Open a handoff for the merchant (True) or note a new message on the open one (False).
    Runs in the turn's transaction."""
    row = await current(session, merchant_id)
    if row is None:
        session.add(Handoff(merchant_id=merchant_id, opened_at=now, waiting_since=now,
                            alerted_at=now))  # the first alert goes out with the turn
        return True
    if row.waiting_since is None:  # answered before: waiting again from this message
        row.waiting_since = now
    return False


@dataclass(frozen=True)
class Waiting:
    merchant_id: int
    channel: str
    user_key: str
    locale: str
    state: dict
    opened_at: datetime
    waiting_since: datetime | None
    answered_at: datetime | None


async def waiting(db: Database) -> list[Waiting]:
    """Open handoffs: unanswered first, longest wait first; then the answered ones."""
    async with db.session() as session:
        rows = await session.execute(
            select(Handoff, Merchant).join(Merchant, Merchant.id == Handoff.merchant_id)
            .where(Handoff.closed_at.is_(None)))
        found = [Waiting(m.id, m.channel, m.user_key, m.locale, m.state or {}, h.opened_at,
                         h.waiting_since, h.answered_at) for h, m in rows]
    return sorted(found, key=lambda w: (w.waiting_since is None,
                                        w.waiting_since or w.opened_at))


async def answered(db: Database, merchant_id: int, now: datetime) -> None:
    async with db.session() as session, session.begin():
        row = await current(session, merchant_id)
        if row is not None:
            row.answered_at, row.waiting_since = now, None


async def close(db: Database, merchant_id: int, by: str, now: datetime) -> bool:
    async with db.session() as session, session.begin():
        row = await current(session, merchant_id)
        if row is None:
            return False
        row.closed_at, row.closed_by = now, by
        return True


async def due_alerts(db: Database, now: datetime, before: datetime) -> list[int]:
    """Open handoffs whose merchant has waited since ``before`` with no staff alert since
    then: marks them alerted and returns their merchant ids."""
    async with db.session() as session, session.begin():
        rows = list(await session.scalars(select(Handoff).where(
            Handoff.closed_at.is_(None), Handoff.waiting_since < before,
            or_(Handoff.alerted_at.is_(None), Handoff.alerted_at < before))))
        for row in rows:
            row.alerted_at = now
    return [row.merchant_id for row in rows]


async def mark_alerted(db: Database, merchant_id: int, now: datetime) -> None:
    async with db.session() as session, session.begin():
        row = await current(session, merchant_id)
        if row is not None:
            row.alerted_at = now


_OPEN = select(Handoff.__table__.c.merchant_id).where(Handoff.__table__.c.closed_at.is_(None))


def open_ids(conn: Connection) -> set[int]:
    """Merchants handed over to a person right now (a ``bot.store.reader.Reader`` read: a
    plain read, not a session that would take SQLite's write lock)."""
    return set(conn.execute(_OPEN).scalars())
