"""The ``turns`` table: the processed-update mark, the reply outbox and the transcript.

A turn's row is inserted in the transaction of its effects; UNIQUE (channel, update_key) keeps
an update applied at most once, on one worker or many. ``sent_at`` is set once the channel has
delivered the replies; a redelivered update whose replies were never marked sent gets them
again.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.store.db import sqlite_driver, sqlite_errors, sqlite_json, sqlite_time
from bot.store.models import Turn

turns = Turn.__table__
_ADD = insert(turns)  # one statement object: compiled and keyed once
_ADD_SQL = ("INSERT INTO turns (merchant_id, channel, update_key, flow, step, incoming, "
            "replies, author, created_at, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)")


class AlreadyApplied(Exception):
    """Inserting the turn broke UNIQUE (channel, update_key): the update was applied before,
    here or by another worker."""


@dataclass(frozen=True)
class Stored:
    id: int
    merchant_id: int
    replies: list[dict[str, Any]]
    sent_at: datetime | None
    created_at: datetime


def add(conn: Connection, *, merchant_id: int, channel: str, update_key: str | None,
              flow: str | None, step: str | None, incoming: dict | None, replies: list[dict],
              now: datetime, author: str | None = None) -> int:
    """Insert the turn's row; ``AlreadyApplied`` when ``update_key`` has one (the caller's
    savepoint then rolls back everything the turn wrote)."""
    try:
        raw = sqlite_driver(conn)
        if raw is not None:
            try:
                return raw.execute(_ADD_SQL, (
                    merchant_id, channel, update_key, flow, step, sqlite_json(incoming),
                    sqlite_json(replies), author, sqlite_time(now))).lastrowid
            except sqlite3.Error as exc:
                raise sqlite_errors(_ADD_SQL, exc) from None
        result = conn.execute(_ADD, {
            "merchant_id": merchant_id, "channel": channel, "update_key": update_key,
            "flow": flow, "step": step, "incoming": incoming, "replies": replies,
            "author": author, "created_at": now, "sent_at": None})
    except IntegrityError:
        if update_key is None:
            raise
        # Most likely the update's mark; the caller looks it up once the savepoint is gone
        # (on PostgreSQL a failed statement leaves it unusable).
        raise AlreadyApplied(update_key) from None
    return result.inserted_primary_key[0]


async def _find(conn: AsyncConnection, channel: str, update_key: str) -> Stored | None:
    row = (await conn.execute(
        select(turns.c.id, turns.c.merchant_id, turns.c.replies, turns.c.sent_at,
               turns.c.created_at)
        .where(turns.c.channel == channel, turns.c.update_key == update_key))).first()
    return Stored(row.id, row.merchant_id, row.replies or [], row.sent_at,
                  row.created_at) if row else None


async def find(engine: AsyncEngine, channel: str, update_key: str) -> Stored | None:
    async with engine.connect() as conn:
        return await _find(conn, channel, update_key)


async def sent(engine: AsyncEngine, turn_id: int) -> bool:
    async with engine.connect() as conn:
        return (await conn.execute(select(turns.c.sent_at).where(
            turns.c.id == turn_id))).scalar() is not None


def claim(conn: Connection, turn_id: int, now: datetime) -> bool:
    """Mark one turn's replies sent unless someone did: True for the one caller that did."""
    return conn.execute(update(turns).where(turns.c.id == turn_id, turns.c.sent_at.is_(None))
                        .values(sent_at=now)).rowcount == 1


def mark_sent(conn: Connection, ids: list[int], now: datetime) -> None:
    conn.execute(update(turns).where(turns.c.id.in_(ids), turns.c.sent_at.is_(None))
                       .values(sent_at=now))
