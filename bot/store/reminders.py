"""Statements on milestones and reminders: the merchant's commands and facts (on the turn's ORM
session, inside its transaction) and the worker's claims (each in a transaction of its own).

A claim is one conditional UPDATE (portable SQL: SQLite and PostgreSQL alike) that succeeds for
exactly one worker.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.db import Database
from bot.store.models import Merchant, Milestone, Reminder

PENDING, CLAIMED, SENT = "pending", "claimed", "sent"
DONE, CANCELLED, OBSOLETE, FAILED = "done", "cancelled", "obsolete", "failed"
UPCOMING = (PENDING, CLAIMED)
OPEN = (*UPCOMING, SENT, FAILED)  # the merchant may still act on these


# -- inside a turn -----------------------------------------------------------------------------
async def milestones(session: AsyncSession, merchant_id: int) -> dict[str, Milestone]:
    rows = await session.scalars(select(Milestone).where(Milestone.merchant_id == merchant_id))
    return {m.subject: m for m in rows}


async def of_merchant(session: AsyncSession, merchant_id: int) -> dict[str, Reminder]:
    rows = await session.scalars(select(Reminder).where(Reminder.merchant_id == merchant_id))
    return {r.key: r for r in rows}


async def upcoming(session: AsyncSession, merchant_id: int, limit: int) -> list[Reminder]:
    return list(await session.scalars(
        select(Reminder)
        .where(Reminder.merchant_id == merchant_id, Reminder.status.in_(UPCOMING))
        .order_by(Reminder.due_at, Reminder.id)
        .limit(limit)))


async def last_sent(session: AsyncSession, merchant_id: int) -> Reminder | None:
    return await session.scalar(
        select(Reminder)
        .where(Reminder.merchant_id == merchant_id, Reminder.status == SENT)
        .order_by(Reminder.sent_at.desc(), Reminder.id.desc())
        .limit(1))


async def one(session: AsyncSession, merchant_id: int, reminder_id: int) -> Reminder | None:
    return await session.scalar(select(Reminder).where(
        Reminder.id == reminder_id, Reminder.merchant_id == merchant_id))


async def cycle(session: AsyncSession, merchant_id: int, kind: str, subject: str,
                anchor: date) -> list[Reminder]:
    """The open reminders of one cycle (its 60/30/7-day siblings)."""
    return list(await session.scalars(select(Reminder).where(
        Reminder.merchant_id == merchant_id, Reminder.kind == kind,
        Reminder.subject == subject, Reminder.anchor == anchor, Reminder.status.in_(OPEN))))


async def merchant(session: AsyncSession, merchant_id: int) -> Merchant | None:
    return await session.get(Merchant, merchant_id)


# -- the worker ----------------------------------------------------------------------------------
def claimable(now: datetime):
    """Due and not taken, or taken by a worker whose lease ran out."""
    return or_(
        and_(Reminder.status == PENDING, Reminder.next_at <= now),
        and_(Reminder.status == CLAIMED, Reminder.claimed_until <= now),
    )


def claimed_by(token: str):
    return and_(Reminder.status == CLAIMED, Reminder.claim_token == token)


async def due(db: Database, now: datetime, channels: Iterable[str],
              limit: int) -> list[tuple[Reminder, Merchant]]:
    async with db.session() as session:
        rows = await session.execute(
            select(Reminder, Merchant)
            .join(Merchant, Merchant.id == Reminder.merchant_id)
            .where(claimable(now), Merchant.channel.in_(list(channels)))
            .order_by(Reminder.next_at, Reminder.id)
            .limit(limit))
        return [(r, m) for r, m in rows]


async def update_if(db: Database, reminder_id: int, condition, **values: Any) -> bool:
    """One conditional UPDATE in its own transaction; True when it changed the row."""
    async with db.session() as session, session.begin():
        result = await session.execute(
            update(Reminder).where(Reminder.id == reminder_id, condition).values(**values)
            .execution_options(synchronize_session=False))
        return result.rowcount == 1


def attempts_plus_one():
    return Reminder.attempts + 1


async def to_review(db: Database, cutoff: date, limit: int) -> list[int]:
    """Merchants with a milestone to derive reminders from again."""
    async with db.session() as session:
        return list(await session.scalars(
            select(Milestone.merchant_id).where(Milestone.review_on <= cutoff)
            .distinct().limit(limit)))
