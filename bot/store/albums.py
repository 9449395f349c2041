"""Albums gathered across workers (``album_gatherings``, ``album_parts``).

Each worker writes every photo of a media group it receives as a part. The first worker to
write one owns the group's gathering (its ``gen``) until its claim runs out; when the group goes
quiet the owner takes the parts and applies them as one album, then deletes them. A part that
comes after the owner took the others starts a gathering of its own (as on one worker, a photo
arriving after its album closed is an album of its own); a gathering whose owner died (its claim
ran out) is taken over, with every part still there.

The gathering's row is locked (``SELECT ... FOR UPDATE``) by each of these steps, so writing a
part and closing the gathering never cross. Times are epoch seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.store.models import AlbumGathering, AlbumPart

gatherings = AlbumGathering.__table__
parts = AlbumPart.__table__


@dataclass(frozen=True)
class Gathering:
    gen: int
    everything: bool  # took over a dead owner's gathering: its taken parts are retaken


def _writer(engine: AsyncEngine) -> AsyncEngine:
    if engine.dialect.name == "sqlite":
        return engine.execution_options(sqlite_begin="IMMEDIATE")
    return engine


def _insert(conn: AsyncConnection, table):
    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)


def _group(table, key: tuple[str, str, str]):
    channel, user_key, group_id = key
    return and_(table.c.channel == channel, table.c.user_key == user_key,
                table.c.group_id == group_id)


async def _locked(conn: AsyncConnection, key: tuple[str, str, str]):
    channel, user_key, group_id = key
    await conn.execute(_insert(conn, gatherings).values(
        channel=channel, user_key=user_key, group_id=group_id, gen=0, closed=True, until=0.0)
        .on_conflict_do_nothing())
    query = select(gatherings.c.gen, gatherings.c.closed, gatherings.c.until).where(
        _group(gatherings, key))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return (await conn.execute(query)).one()


async def _claim(conn: AsyncConnection, key, row, now: float, hold: float, *,
                 closed_will_do: bool) -> Gathering | None:
    """A new gathering when the owner's claim ran out, or (``closed_will_do``: for a new
    part) when the last gathering already took its parts."""
    if row.until >= now and not (closed_will_do and row.closed):
        return None  # someone gathers it, or applies what it gathered
    gen = row.gen + 1
    await conn.execute(update(gatherings).where(_group(gatherings, key))
                       .values(gen=gen, closed=False, until=now + hold))
    return Gathering(gen, everything=row.until < now)


async def add_part(engine: AsyncEngine, key: tuple[str, str, str], update_id: int,
                   payload: dict, now: float, hold: float) -> Gathering | None:
    """Write one part (again: nothing changes); the gathering when this caller now owns it."""
    async with _writer(engine).begin() as conn:
        row = await _locked(conn, key)
        channel, user_key, group_id = key
        await conn.execute(_insert(conn, parts).values(
            channel=channel, user_key=user_key, group_id=group_id, update_id=update_id,
            payload=payload, received_at=now, taken=None).on_conflict_do_nothing())
        return await _claim(conn, key, row, now, hold, closed_will_do=True)


async def take_over(engine: AsyncEngine, key: tuple[str, str, str], now: float, hold: float
                    ) -> Gathering | None:
    """Own the gathering if its owner's claim ran out (it died): the one caller that did gets
    it, with every part still there."""
    async with _writer(engine).begin() as conn:
        return await _claim(conn, key, await _locked(conn, key), now, hold,
                            closed_will_do=False)


def _open(key, gathering: Gathering):
    if gathering.everything:
        return _group(parts, key)
    return and_(_group(parts, key), parts.c.taken.is_(None))


async def quiet_since(engine: AsyncEngine, key, gathering: Gathering
                      ) -> tuple[int, float, float]:
    """(parts waiting, the first's and the last's arrival)."""
    async with engine.connect() as conn:
        count, first, last = (await conn.execute(
            select(func.count(), func.min(parts.c.received_at), func.max(parts.c.received_at))
            .where(_open(key, gathering)))).one()
        return count, first or 0.0, last or 0.0


async def close(engine: AsyncEngine, key, gathering: Gathering, now: float, hold: float
                ) -> list[dict] | None:
    """Take the gathering's parts to be applied (their payloads, in update order); None when
    another worker took the gathering over meanwhile."""
    async with _writer(engine).begin() as conn:
        row = await _locked(conn, key)
        if row.gen != gathering.gen or row.closed:
            return None
        await conn.execute(update(parts).where(_open(key, gathering)).values(
            taken=gathering.gen))
        await conn.execute(update(gatherings).where(_group(gatherings, key))
                           .values(closed=True, until=now + hold))
        return list((await conn.execute(
            select(parts.c.payload).where(_group(parts, key), parts.c.taken == gathering.gen)
            .order_by(parts.c.update_id))).scalars())


async def applied(engine: AsyncEngine, key, gen: int) -> None:
    """The gathering's parts are applied: they go, and so does the group's row once no part
    is left (a part arriving later writes it anew)."""
    async with _writer(engine).begin() as conn:
        row = await _locked(conn, key)
        await conn.execute(delete(parts).where(_group(parts, key), parts.c.taken == gen))
        left = (await conn.execute(select(func.count()).select_from(parts)
                                   .where(_group(parts, key)))).scalar_one()
        if not left and row.gen == gen:
            await conn.execute(delete(gatherings).where(_group(gatherings, key)))


async def waiting(engine: AsyncEngine, key, update_ids: list[int]) -> int:
    """How many of these parts are not applied yet."""
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(parts).where(
            _group(parts, key), parts.c.update_id.in_(update_ids)))).scalar_one()
