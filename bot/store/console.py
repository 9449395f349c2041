"""What the operator console reads: merchants with their progress, one merchant's records,
the transcript (``turns``) and the turns of a period for the funnel."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.db import Database
from bot.store.models import (
    Certification,
    Document,
    Handoff,
    Merchant,
    Milestone,
    Reminder,
    Turn,
)

PAGE_SIZE = 50  # merchants on one page of the overview
EXPORT_BATCH = 500  # merchants read at once by the CSV export
MENU = "menu"


@dataclass
class MerchantRecords:
    merchant: Merchant
    documents: list[Document] = field(default_factory=list)
    certifications: list[Certification] = field(default_factory=list)
    milestones: list[Milestone] = field(default_factory=list)
    reminders: list[Reminder] = field(default_factory=list)
    waiting_since: datetime | None = None  # an open handoff: since when
    handed_over: bool = False


@dataclass(frozen=True)
class Filter:
    """Which merchants the overview lists: ``text`` in the company name or the legal
    representative's name (case-insensitive; a substring, Chinese too), and ``idle_since``:
    at a question of a flow and no activity since then."""

    text: str = ""
    idle_since: datetime | None = None


@dataclass
class Listing:
    rows: list[MerchantRecords]
    total: int  # merchants matching, over all pages
    waiting: int  # of those, waiting for a person


def _answer(key: str):
    return Merchant.state[("answers", key)].as_string()


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _conditions(where: Filter) -> list[ColumnElement[bool]]:
    """The filter in SQL, over every merchant (SQLite's JSON_EXTRACT, PostgreSQL's ``#>>``).
    ILIKE is PostgreSQL's; SQLite compares lower() of both sides (ASCII letters fold; Chinese
    has no case)."""
    found: list[ColumnElement[bool]] = []
    text = where.text.strip()
    if text:
        pattern = _like(text)
        found.append(or_(_answer("company_name").ilike(pattern, escape="\\"),
                         _answer("legal_rep_name").ilike(pattern, escape="\\")))
    if where.idle_since is not None:
        flow = Merchant.state["flow"].as_string()
        found += [Merchant.updated_at <= where.idle_since, flow.is_not(None), flow != MENU,
                  Merchant.state["step"].as_string().is_not(None)]
    return found


async def merchants(db: Database, where: Filter = Filter(), *, offset: int = 0,
                    limit: int = PAGE_SIZE) -> Listing:
    """One page of the merchants ``where`` matches, latest activity first, with documents,
    certifications and handoffs; how many match in all and how many of those wait."""
    conditions = _conditions(where)
    async with db.session() as session:
        total = await session.scalar(select(func.count()).select_from(Merchant)
                                     .where(*conditions)) or 0
        matching = select(Merchant.id).where(*conditions)
        waiting = await session.scalar(
            select(func.count(func.distinct(Handoff.merchant_id)))
            .where(Handoff.closed_at.is_(None), Handoff.merchant_id.in_(matching))) or 0
        rows = list(await session.scalars(
            select(Merchant).where(*conditions)
            .order_by(Merchant.updated_at.desc(), Merchant.id.desc())
            .offset(offset).limit(limit)))
        found = {m.id: MerchantRecords(m) for m in rows}
        ids = list(found)
        if ids:
            await _attach(session, found, ids)
    return Listing(list(found.values()), total, waiting)


async def _attach(session: AsyncSession, found: dict[int, MerchantRecords],
                  ids: list[int]) -> None:
    for doc in await session.scalars(
            select(Document).where(Document.merchant_id.in_(ids)).order_by(Document.id)):
        found[doc.merchant_id].documents.append(doc)
    for cert in await session.scalars(
            select(Certification).where(Certification.merchant_id.in_(ids))):
        found[cert.merchant_id].certifications.append(cert)
    for handoff in await session.scalars(select(Handoff).where(
            Handoff.merchant_id.in_(ids), Handoff.closed_at.is_(None))):
        records = found[handoff.merchant_id]
        records.handed_over = True
        records.waiting_since = handoff.waiting_since


async def every_merchant(db: Database, batch: int = EXPORT_BATCH):
    """All merchants, latest activity first, a batch at a time (the export)."""
    offset = 0
    while True:
        page = await merchants(db, offset=offset, limit=batch)
        for records in page.rows:
            yield records
        if len(page.rows) < batch:
            return
        offset += batch


async def merchant(db: Database, merchant_id: int) -> MerchantRecords | None:
    async with db.session() as session:
        row = await session.get(Merchant, merchant_id)
        if row is None:
            return None
        records = MerchantRecords(row)
        records.documents = list(await session.scalars(
            select(Document).where(Document.merchant_id == merchant_id).order_by(Document.id)))
        records.certifications = list(await session.scalars(
            select(Certification).where(Certification.merchant_id == merchant_id)))
        records.milestones = list(await session.scalars(
            select(Milestone).where(Milestone.merchant_id == merchant_id)))
        records.reminders = list(await session.scalars(
            select(Reminder).where(Reminder.merchant_id == merchant_id)
            .order_by(Reminder.due_at)))
        handoff = await session.scalar(select(Handoff).where(
            Handoff.merchant_id == merchant_id, Handoff.closed_at.is_(None)))
        if handoff is not None:
            records.handed_over, records.waiting_since = True, handoff.waiting_since
    return records


async def document(db: Database, document_id: int) -> Document | None:
    async with db.session() as session:
        return await session.get(Document, document_id)


async def transcript(db: Database, merchant_id: int, limit: int = 1000) -> list[Turn]:
    """The latest ``limit`` turns, oldest first."""
    async with db.session() as session:
        rows = list(await session.scalars(
            select(Turn).where(Turn.merchant_id == merchant_id)
            .order_by(Turn.id.desc()).limit(limit)))
    return rows[::-1]


async def last_incoming(db: Database, merchant_ids: list[int]) -> dict[int, Turn]:
    """Each merchant's latest turn with a message from them (for the inbox)."""
    if not merchant_ids:
        return {}
    async with db.session() as session:
        latest = (select(func.max(Turn.id)).where(
            Turn.merchant_id.in_(merchant_ids), Turn.incoming.is_not(None))
            .group_by(Turn.merchant_id))
        rows = await session.scalars(select(Turn).where(Turn.id.in_(latest)))
        return {t.merchant_id: t for t in rows}


async def add_turn(db: Database, merchant_id: int, channel: str, *, replies: list[dict],
                   now: datetime, author: str | None = None, incoming: dict | None = None,
                   flow: str | None = None, step: str | None = None,
                   update_key: str | None = None, sent_at: datetime | None = None) -> int:
    """A transcript row written outside a service turn (an operator's reply, a notice)."""
    async with db.session() as session, session.begin():
        row = Turn(merchant_id=merchant_id, channel=channel, update_key=update_key, flow=flow,
                   step=step, incoming=incoming, replies=replies, author=author,
                   created_at=now, sent_at=sent_at)
        session.add(row)
        await session.flush()
        return row.id


@dataclass(frozen=True)
class Passage:
    merchant_id: int
    channel: str
    flow: str
    step: str


async def passages(db: Database, since: datetime, until: datetime,
                   channel: str | None = None) -> list[Passage]:
    """Where each turn of the period left its merchant, in order (the funnel's raw data)."""
    query = (select(Turn.merchant_id, Turn.channel, Turn.flow, Turn.step)
             .where(Turn.created_at >= since, Turn.created_at < until,
                    Turn.flow.is_not(None), Turn.step.is_not(None))
             .order_by(Turn.id))
    if channel:
        query = query.where(Turn.channel == channel)
    async with db.session() as session:
        rows = await session.execute(query)
        return [Passage(*row) for row in rows]


async def channels(db: Database) -> list[str]:
    async with db.session() as session:
        return sorted(await session.scalars(select(Merchant.channel).distinct()))


async def forget_transcripts(session: AsyncSession, cutoff: datetime) -> int:
    """Retention: the transcripts of merchants inactive since ``cutoff`` (their turns from
    before it). Returns how many turns were deleted."""
    inactive = select(Merchant.id).where(Merchant.updated_at < cutoff)
    result = await session.execute(delete(Turn).where(
        Turn.merchant_id.in_(inactive), Turn.created_at < cutoff))
    return result.rowcount or 0
