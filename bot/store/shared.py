"""State several workers on one database share for a channel: an access token, the pacing of
messages per member, and an inbox that keeps each member's callback messages in order.

Each read-decide-write runs in one transaction under a lock on its key: on PostgreSQL a
transaction-scoped advisory lock (``pg_advisory_xact_lock``, released by the commit or by the
connection's death); on SQLite the write lock taken at BEGIN IMMEDIATE. Times are epoch
seconds from the workers' clocks (hosts keep them in step with NTP; the windows here are a
minute and more).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from cryptography.fernet import InvalidToken
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.store.models import InboxItem, SendSlot, SharedToken

tokens = SharedToken.__table__
slots = SendSlot.__table__
inbox = InboxItem.__table__

LOCK_SPACE = 0x5348  # the first key of this module's two-key advisory locks ("SH")
SWEEP_SHARE = 0.002  # the share of sends that also delete every member's sends past the hour


def _writer(engine: AsyncEngine) -> AsyncEngine:
    if engine.dialect.name == "sqlite":
        return engine.execution_options(sqlite_begin="IMMEDIATE")
    return engine


async def _lock(conn: AsyncConnection, key: str) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:space, hashtext(:key))"),
                           {"space": LOCK_SPACE, "key": key})


# -- an access token ---------------------------------------------------------------------------
Fetch = Callable[[], Awaitable[tuple[str, float]]]  # -> (token, seconds it is valid)


class Cipher(Protocol):
    """Fernet's interface (``MultiFernet`` of ``BOT_ENCRYPTION_KEY``'s keys)."""

    def encrypt(self, data: bytes) -> bytes: ...

    def decrypt(self, token: bytes) -> bytes: ...


async def shared_token(engine: AsyncEngine, name: str, now: float, fetch: Fetch,
                       stale: str | None = None, cipher: Cipher | None = None,
                       ) -> tuple[str, float]:
    """The token stored under ``name`` while it is valid and not ``stale`` (one the caller saw
    refused); else ``fetch`` one, under the lock, so that one worker fetches and the others
    read it. Returns (token, expires_at).

    With a ``cipher`` the token is stored encrypted: whoever reads the database cannot call
    the API with it. One that does not decrypt (stored before the key was set, or under a key
    since removed) is fetched again, as an expired one is: it is only a cache."""
    async with _writer(engine).begin() as conn:
        await _lock(conn, f"token:{name}")
        row = (await conn.execute(select(tokens.c.token, tokens.c.expires_at)
                                  .where(tokens.c.name == name))).first()
        if row is not None and row.expires_at > now:
            token = _open(cipher, row.token)
            if token is not None and token != stale:
                return token, row.expires_at
        token, valid = await fetch()
        expires = now + valid
        kept = token if cipher is None else cipher.encrypt(token.encode()).decode()
        if row is None:
            await conn.execute(insert(tokens).values(name=name, token=kept, expires_at=expires))
        else:
            await conn.execute(update(tokens).where(tokens.c.name == name)
                               .values(token=kept, expires_at=expires))
        return token, expires


def _open(cipher: Cipher | None, stored: str) -> str | None:
    if cipher is None:
        return stored
    try:
        return cipher.decrypt(stored.encode()).decode()
    except InvalidToken:
        return None


# -- pacing ------------------------------------------------------------------------------------
def wait_for(sent: list[float], now: float, limits: Iterable[tuple[int, float]]) -> float:
    """Seconds until one more message fits every (count, per seconds) window; ``sent``
    newest first."""
    wait = 0.0
    for count, per in limits:
        recent = [t for t in sent if t > now - per]
        if len(recent) >= count:
            wait = max(wait, recent[count - 1] + per - now)
    return wait


async def take_slot(engine: AsyncEngine, member: str, now: float,
                    limits: tuple[tuple[int, float], ...]) -> float:
    """Record a send to ``member`` now and return 0 when every window has room; else the
    seconds to wait, recording nothing."""
    horizon = max(per for _, per in limits)
    most = max(count for count, _ in limits)
    async with _writer(engine).begin() as conn:
        await _lock(conn, f"pace:{member}")
        old = slots.c.at <= now - horizon
        # Now and then every member's old sends go too (one no longer written to keeps his).
        await conn.execute(delete(slots).where(old) if random.random() < SWEEP_SHARE else
                           delete(slots).where(slots.c.member == member, old))
        sent = list((await conn.execute(
            select(slots.c.at).where(slots.c.member == member)
            .order_by(slots.c.at.desc()).limit(most))).scalars())
        wait = wait_for(sent, now, limits)
        if wait <= 0:
            await conn.execute(insert(slots).values(member=member, at=now))
        return wait


# -- the inbox ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Item:
    id: int
    payload: dict


async def put(engine: AsyncEngine, channel: str, user_key: str, update_key: str,
              payload: dict, claimed_until: float) -> int | None:
    """Keep a message, claimed by its receiver until ``claimed_until``; its id, or None when
    the inbox holds it already (a callback repeated while the first is pending)."""
    try:
        async with _writer(engine).begin() as conn:
            result = await conn.execute(insert(inbox).values(
                channel=channel, user_key=user_key, update_key=update_key, payload=payload,
                claimed_until=claimed_until))
            return result.inserted_primary_key[0]
    except IntegrityError:
        return None


async def before(engine: AsyncEngine, channel: str, user_key: str, item_id: int
                 ) -> list[tuple[int, float]]:
    """The member's items still pending ahead of ``item_id``: (id, claimed_until)."""
    async with engine.connect() as conn:
        return [tuple(r) for r in (await conn.execute(
            select(inbox.c.id, inbox.c.claimed_until)
            .where(inbox.c.channel == channel, inbox.c.user_key == user_key,
                   inbox.c.id < item_id).order_by(inbox.c.id))).all()]


async def take_over(engine: AsyncEngine, item_id: int, now: float, claimed_until: float
                    ) -> Item | None:
    """Claim an item whose claim ran out (its worker died): the one caller that did gets it."""
    async with _writer(engine).begin() as conn:
        result = await conn.execute(
            update(inbox).where(inbox.c.id == item_id, inbox.c.claimed_until < now)
            .values(claimed_until=claimed_until))
        if result.rowcount != 1:
            return None
        payload = (await conn.execute(select(inbox.c.payload)
                                      .where(inbox.c.id == item_id))).scalar_one()
        return Item(item_id, payload)


async def abandoned(engine: AsyncEngine, channel: str, now: float, limit: int = 100
                    ) -> list[tuple[int, str]]:
    """Items whose claim ran out, oldest first: (id, user_key)."""
    async with engine.connect() as conn:
        return [tuple(r) for r in (await conn.execute(
            select(inbox.c.id, inbox.c.user_key)
            .where(inbox.c.channel == channel, inbox.c.claimed_until < now)
            .order_by(inbox.c.id).limit(limit))).all()]


async def done(engine: AsyncEngine, item_id: int) -> None:
    async with _writer(engine).begin() as conn:
        await conn.execute(delete(inbox).where(inbox.c.id == item_id))


async def pending(engine: AsyncEngine, channel: str) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(inbox)
                                   .where(inbox.c.channel == channel))).scalar_one()
