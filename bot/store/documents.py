"""Statements on stored documents outside the hot path: a merchant's rows, erasure, retention.

The functions take the caller's ORM session (a plugin's, inside the turn's transaction, or a
sweep's own) and neither commit nor touch files: the caller removes files after its commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import column, delete, func, inspect, select, table, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Document, Merchant


async def of_merchant(session: AsyncSession, merchant_id: int) -> list[Document]:
    return list((await session.scalars(
        select(Document).where(Document.merchant_id == merchant_id)
        .order_by(Document.id))).all())


async def referencing(session: AsyncSession) -> list[tuple[str, str]]:
    """(table, column) of every foreign key to ``merchants.id`` in the database."""

    def read(sync_session) -> list[tuple[str, str]]:
        inspector = inspect(sync_session.connection())
        found = []
        for name in inspector.get_table_names():
            for fk in inspector.get_foreign_keys(name):
                if fk.get("referred_table") == Merchant.__tablename__ and len(
                        fk.get("constrained_columns", ())) == 1:
                    found.append((name, fk["constrained_columns"][0]))
        return found

    return await session.run_sync(read)


async def erase(session: AsyncSession, merchant_id: int) -> tuple[list[str], list[Document]]:
    """Delete every row that points at the merchant, in any table (read from the database, so
    tables added later are covered). Returns the storage names of its files, and its
    content-addressed documents no other merchant shares (their files may go too)."""
    rows = await of_merchant(session, merchant_id)
    named = [row.storage for row in rows if row.storage]
    unshared = []
    for row in rows:
        if row.storage:
            continue
        shared = await session.scalar(select(func.count()).select_from(Document).where(
            Document.sha256 == row.sha256, Document.merchant_id != merchant_id))
        if not shared:
            unshared.append(row)
    for name, col in await referencing(session):
        target = table(name, column(col))
        await session.execute(delete(target).where(target.c[col] == merchant_id))
    return named, unshared


async def of_inactive(session: AsyncSession, cutoff: datetime) -> list[Document]:
    """Documents of merchants without an event since ``cutoff``."""
    inactive = select(Merchant.id).where(Merchant.updated_at < cutoff)
    return list((await session.scalars(
        select(Document).where(Document.merchant_id.in_(inactive)))).all())


async def remove(session: AsyncSession, rows: list[Document]) -> None:
    """Delete these rows outside a turn; their merchants' versions move on, so a service
    holding their state in its cache reads it again before its next write."""
    if rows:
        await session.execute(delete(Document).where(Document.id.in_([r.id for r in rows])))
        owners = {r.merchant_id for r in rows}
        await session.execute(update(Merchant).where(Merchant.id.in_(owners))
                              .values(version=Merchant.version + 1)
                              .execution_options(synchronize_session=False))


async def in_use(session: AsyncSession) -> tuple[set[str], set[str]]:
    """Storage names and content hashes some row still refers to."""
    names = set(await session.scalars(
        select(Document.storage).where(Document.storage.is_not(None))))
    hashes = set(await session.scalars(select(Document.sha256)))
    return names, hashes
