"""A turn's writes as data (and the mark of its replies sent): the version-guarded write of ``merchants`` (or a new merchant's
row), the turn's row in ``turns`` and its effects' rows.

A ``TurnWrite`` is a plain writer job (call it with a ``Connection``: Core statements, one
turn; every backend). On SQLite the writer hands a run of them to ``TurnWrite.many``, which
writes the whole run with one ``executemany`` per table on the driver's cursor, inside the
writer's savepoint: two statements for fifty turns instead of a hundred, and none of
SQLAlchemy's per-statement cost. When anything in the run does not go as expected (a version
moved on, an update applied already, a new merchant inserted by another process) the writer
rolls the run back and does its turns one by one on the Core path, where each failure is
raised to its own caller.

Row ids in a run are given here: the writer holds SQLite's write lock from BEGIN IMMEDIATE, so
``max(id) + 1`` onward is what SQLite would pick for these tables (no AUTOINCREMENT), and the
ids come back to the callers without a statement per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import bindparam, insert, update
from sqlalchemy.engine import Connection, Dialect

from bot.engine.model import DropDocuments, RecordCertification, StoreDocument
from bot.store import merchants as M
from bot.store import turns as T
from bot.store.prepared import Prepared

_MERCHANT_KEYS = ("id", "channel", "user_key", "locale", "timezone", "state", "version",
                  "created_at", "updated_at")
_TURN_KEYS = ("id", "merchant_id", "channel", "update_key", "flow", "step", "incoming",
              "replies", "author", "created_at", "sent_at")


class RunFailed(Exception):
    """A run of turns did not apply as a whole; the writer does them one by one."""


@dataclass(slots=True, eq=False)
class TurnWrite:
    channel: str
    user_key: str
    merchant_id: int | None  # None: a new merchant, inserted with the turn
    version: int  # the version the turn was computed on (the guard)
    locale: str
    timezone: str  # a new merchant's
    state: dict[str, Any]  # sealed, as stored
    update_key: str | None
    flow: str | None
    step: str | None
    incoming: dict[str, Any] | None
    replies: list[dict[str, Any]]
    now: datetime
    effects: Sequence[Any] = ()
    stored: Sequence[str] = ()  # storage names of the StoreDocument effects, in order

    def __call__(self, conn: Connection) -> tuple[int, int]:
        """The turn alone on the Core path: (merchant id, turn id)."""
        if self.merchant_id is None:
            merchant_id = M.create(conn, self.channel, self.user_key, self.locale,
                                   self.timezone, self.state, self.now)
        else:
            M.advance(conn, self.merchant_id, self.version, state=self.state,
                      locale=self.locale, now=self.now)
            merchant_id = self.merchant_id
        turn_id = T.add(conn, merchant_id=merchant_id, channel=self.channel,
                        update_key=self.update_key, flow=self.flow, step=self.step,
                        incoming=self.incoming, replies=self.replies, now=self.now)
        effects(conn, merchant_id, self.effects, self.stored, self.now)
        return merchant_id, turn_id

    @staticmethod
    def many(conn: Connection, writes: Sequence[TurnWrite]) -> list[tuple[int, int]]:
        """A run of turns (SQLite, in the writer's savepoint): their (merchant id, turn id)s,
        in order; ``RunFailed`` (or the driver's error) when the run must be redone turn by
        turn."""
        sql = _statements(conn.dialect)
        cursor = conn.connection.driver_connection.cursor()
        try:
            known = [w for w in writes if w.merchant_id is not None]
            if known:
                cursor.executemany(sql.advance.sql, sql.advance.rows(
                    {"m_id": w.merchant_id, "m_version": w.version, "m_state": w.state,
                     "m_locale": w.locale, "m_next": w.version + 1, "m_now": w.now}
                    for w in known))
                if cursor.rowcount != len(known):
                    raise RunFailed("a merchant's version moved on")
            fresh = [w for w in writes if w.merchant_id is None]
            new_ids: list[int] = []
            if fresh:
                first = _next_id(cursor, "merchants")
                new_ids = list(range(first, first + len(fresh)))
                cursor.executemany(sql.create.sql, sql.create.rows(
                    {"id": merchant_id, "channel": w.channel, "user_key": w.user_key,
                     "locale": w.locale, "timezone": w.timezone, "state": w.state,
                     "version": 1, "created_at": w.now, "updated_at": w.now}
                    for w, merchant_id in zip(fresh, new_ids, strict=True)))
            given = iter(new_ids)
            merchant_ids = [w.merchant_id if w.merchant_id is not None else next(given)
                            for w in writes]
            first = _next_id(cursor, "turns")
            ids = list(range(first, first + len(writes)))
            cursor.executemany(sql.turn.sql, sql.turn.rows(
                {"id": turn_id, "merchant_id": merchant_id, "channel": w.channel,
                 "update_key": w.update_key, "flow": w.flow, "step": w.step,
                 "incoming": w.incoming, "replies": w.replies, "author": None,
                 "created_at": w.now, "sent_at": None}
                for w, merchant_id, turn_id in zip(writes, merchant_ids, ids, strict=True)))
        finally:
            cursor.close()
        for w, merchant_id in zip(writes, merchant_ids, strict=True):
            if w.effects:  # uploads and certifications: rare, on the Core path
                effects(conn, merchant_id, w.effects, w.stored, w.now)
        return list(zip(merchant_ids, ids, strict=True))


@dataclass(slots=True, eq=False)
class MarkSent:
    """Turns whose replies the channel delivered (``turns.mark_sent``), as data: a run of
    them is one ``executemany`` instead of a savepoint and a statement each."""

    ids: Sequence[int]
    now: datetime
    anywhere = True  # its turns committed in an earlier batch: order in this one is free

    def __call__(self, conn: Connection) -> None:
        T.mark_sent(conn, list(self.ids), self.now)

    @staticmethod
    def many(conn: Connection, marks: Sequence[MarkSent]) -> list[None]:
        sql = _statements(conn.dialect).sent
        cursor = conn.connection.driver_connection.cursor()
        try:
            cursor.executemany(sql.sql, sql.rows(
                {"t_id": turn_id, "t_now": mark.now} for mark in marks for turn_id in mark.ids))
        finally:
            cursor.close()
        return [None] * len(marks)


def effects(conn: Connection, merchant_id: int, turn_effects: Iterable[Any],
            stored: Iterable[str], now: datetime) -> None:
    names = iter(stored)
    for effect in turn_effects:
        if isinstance(effect, StoreDocument):
            M.add_document(conn, merchant_id, effect.ref, effect.step, next(names), now)
        elif isinstance(effect, DropDocuments):
            M.drop_documents(conn, merchant_id, effect.category)
        elif isinstance(effect, RecordCertification):
            M.record_certification(conn, merchant_id, effect.kind, effect.status,
                                   effect.reason, now)


def _next_id(cursor: Any, table: str) -> int:
    return cursor.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchone()[0]


@dataclass(frozen=True)
class _Statements:
    advance: Prepared
    create: Prepared
    turn: Prepared
    sent: Prepared


_SENT = (update(T.turns)
         .where(T.turns.c.id == bindparam("t_id"), T.turns.c.sent_at.is_(None))
         .values(sent_at=bindparam("t_now")))
_COMPILED: WeakKeyDictionary[Dialect, _Statements] = WeakKeyDictionary()


def _statements(dialect: Dialect) -> _Statements:
    found = _COMPILED.get(dialect)
    if found is None:
        found = _COMPILED[dialect] = _Statements(
            Prepared(M._ADVANCE, dialect),
            Prepared(insert(M.merchants), dialect, _MERCHANT_KEYS),
            Prepared(insert(T.turns), dialect, _TURN_KEYS),
            Prepared(_SENT, dialect))
    return found
