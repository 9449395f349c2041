"""A merchant's conversation as the service caches it, and the statements of a turn.

Reads take a connection of their own; writes run inside the writer's batch (``bot.store.writer``)
on its connection, in the turn's savepoint. They are plain functions of a synchronous
``Connection``: the writer runs a whole batch of them in one hop to its thread (SQLite) or, with
an async driver, through ``AsyncConnection.run_sync``. SQLAlchemy Core throughout: the
statements are compiled once and cached; no ORM unit of work on the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bot.engine.model import DocumentRef
from bot.store.models import Certification, Document, Merchant

merchants = Merchant.__table__
documents = Document.__table__
certifications = Certification.__table__


class VersionConflict(RuntimeError):
    """The merchant's row moved on since it was read: another process (or a stale cache) wrote
    it first. The turn is retried on fresh state."""


@dataclass
class Snapshot:
    """What the database holds for one merchant, at ``version``."""

    id: int
    version: int
    locale: str
    timezone: str
    state: dict[str, Any]  # as stored (sealed)
    documents: list[DocumentRef] = field(default_factory=list)
    certifications: dict[str, dict[str, Any]] = field(default_factory=dict)


_BY_KEY = (select(merchants.c.id, merchants.c.version, merchants.c.locale,
                  merchants.c.timezone, merchants.c.state)
           .where(merchants.c.channel == bindparam("m_channel"),
                  merchants.c.user_key == bindparam("m_user_key")))
_NEWER = _BY_KEY.where(merchants.c.version != bindparam("m_version"))


_DOCUMENTS = (select(documents.c.sha256, documents.c.category, documents.c.name,
                     documents.c.kind, documents.c.size, documents.c.phash)
              .where(documents.c.merchant_id == bindparam("m_id")).order_by(documents.c.id))
_CERTIFICATIONS = (select(certifications.c.kind, certifications.c.status,
                          certifications.c.reason)
                   .where(certifications.c.merchant_id == bindparam("m_id")))


def load(conn: Connection, channel: str, user_key: str) -> Snapshot | None:
    """The merchant's conversation (a ``bot.store.reader.Reader`` read); None: not stored."""
    row = conn.execute(_BY_KEY, {"m_channel": channel, "m_user_key": user_key}).first()
    return None if row is None else _snapshot(conn, row)


def load_newer(conn: Connection, channel: str, user_key: str, version: int
               ) -> Snapshot | None:
    """As ``load``, only when the stored version is not ``version``: None when a cached copy
    at ``version`` is still the merchant's state (or the row is gone). With several workers,
    one round trip tells a warm cache from one another worker left behind."""
    row = conn.execute(_NEWER, {"m_channel": channel, "m_user_key": user_key,
                                "m_version": version}).first()
    return None if row is None else _snapshot(conn, row)


def _snapshot(conn: Connection, row) -> Snapshot:
    docs = conn.execute(_DOCUMENTS, {"m_id": row.id})
    certs = conn.execute(_CERTIFICATIONS, {"m_id": row.id})
    return Snapshot(
        row.id, row.version, row.locale, row.timezone, row.state or {},
        [DocumentRef(*d) for d in docs],
        {c.kind: {"status": c.status, "reason": c.reason} for c in certs},
    )


# Built once: executing the same statement object skips building and keying a new one, which
# is most of what a statement costs in SQLAlchemy.
_CREATE = insert(merchants)
_ADVANCE = (
    update(merchants)
    .where(merchants.c.id == bindparam("m_id"), merchants.c.version == bindparam("m_version"))
    .values(state=bindparam("m_state"), locale=bindparam("m_locale"),
            version=bindparam("m_next"), updated_at=bindparam("m_now"))
)


def plugin_session(conn: AsyncConnection) -> AsyncSession:
    """An ORM session for a plugin's work (not the hot path), joined to the turn's savepoint on
    the writer's connection: its commit releases a savepoint of its own, never the batch."""
    return AsyncSession(bind=conn, join_transaction_mode="create_savepoint",
                        expire_on_commit=False)


async def row(session: AsyncSession, merchant_id: int) -> Merchant:
    return await session.get(Merchant, merchant_id)


def create(conn: Connection, channel: str, user_key: str, locale: str, timezone: str,
           state: dict, now: datetime) -> int:
    """Insert a new merchant at version 1. Another process inserting the same merchant first
    raises ``IntegrityError`` (UNIQUE channel, user_key): the turn is retried on its row."""
    result = conn.execute(_CREATE, {
        "channel": channel, "user_key": user_key, "locale": locale, "timezone": timezone,
        "state": state, "version": 1, "created_at": now, "updated_at": now})
    return result.inserted_primary_key[0]


def advance(conn: Connection, merchant_id: int, version: int, *, state: dict, locale: str,
            now: datetime) -> None:
    """Write the turn's state if the row is still at ``version``; else ``VersionConflict``."""
    result = conn.execute(_ADVANCE, {
        "m_id": merchant_id, "m_version": version, "m_state": state, "m_locale": locale,
        "m_next": version + 1, "m_now": now})
    if result.rowcount != 1:
        raise VersionConflict(merchant_id)


def claim(conn: Connection, merchant_id: int, version: int) -> None:
    """Take the next version before a command's own writes (the state follows with
    ``settle``): the version guard comes before every effect."""
    result = conn.execute(
        update(merchants)
        .where(merchants.c.id == merchant_id, merchants.c.version == version)
        .values(version=version + 1))
    if result.rowcount != 1:
        raise VersionConflict(merchant_id)


def settle(conn: Connection, merchant_id: int, *, state: dict, locale: str,
                 now: datetime) -> None:
    conn.execute(update(merchants).where(merchants.c.id == merchant_id)
                       .values(state=state, locale=locale, updated_at=now))


def timezone_of(conn: Connection, merchant_id: int) -> str:
    return (conn.execute(select(merchants.c.timezone)
                               .where(merchants.c.id == merchant_id))).scalar_one()


def add_document(conn: Connection, merchant_id: int, ref: DocumentRef, step: str,
                       storage: str, now: datetime) -> None:
    conn.execute(insert(documents).values(
        merchant_id=merchant_id, category=ref.category, step=step, name=ref.name,
        kind=ref.kind, size=ref.size, sha256=ref.sha256, phash=ref.phash, storage=storage,
        created_at=now))


def drop_documents(conn: Connection, merchant_id: int, category: str) -> None:
    conn.execute(delete(documents).where(documents.c.merchant_id == merchant_id,
                                               documents.c.category == category))


def record_certification(conn: Connection, merchant_id: int, kind: str, status: str,
                               reason: str | None, now: datetime) -> None:
    changed = conn.execute(
        update(certifications)
        .where(certifications.c.merchant_id == merchant_id, certifications.c.kind == kind)
        .values(status=status, reason=reason, updated_at=now))
    if changed.rowcount == 0:
        conn.execute(insert(certifications).values(
            merchant_id=merchant_id, kind=kind, status=status, reason=reason, updated_at=now))
