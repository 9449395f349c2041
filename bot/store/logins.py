"""Failed console sign-ins in the database (``login_failures``): one row per user name and
per address, counted with an upsert so that workers failing at the same moment each add one."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, case, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.store.db import Database
from bot.store.models import LoginFailure

MAX_KEY = 128


async def locked_until(db: Database, keys: list[tuple[str, str]]) -> list[datetime]:
    """The locks recorded for ``keys`` ((kind, key) pairs), past ones included."""
    wanted = or_(*(and_(LoginFailure.kind == kind, LoginFailure.key == key[:MAX_KEY])
                   for kind, key in keys))
    async with db.session() as session:
        rows = await session.scalars(select(LoginFailure.locked_until).where(
            wanted, LoginFailure.locked_until.is_not(None)))
        return [r for r in rows if r is not None]


async def count_failure(db: Database, kind: str, key: str, now: datetime, *,
                        forgive_after: timedelta, lock) -> int:
    """One more failure for (kind, key); a count older than ``forgive_after`` starts again.
    ``lock(count)`` gives the lock that count earns (None: none), recorded in the same
    transaction. Returns the count."""
    key = key[:MAX_KEY]
    insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
    table = LoginFailure.__table__
    stale = table.c.last_at < now - forgive_after
    statement = insert(LoginFailure).values(kind=kind, key=key, count=1, locked_until=None,
                                            last_at=now)
    statement = statement.on_conflict_do_update(
        index_elements=["kind", "key"],
        set_={"count": case((stale, 1), else_=table.c.count + 1), "last_at": now,
              "locked_until": case((stale, None), else_=table.c.locked_until)},
    ).returning(table.c.count)
    async with db.session() as session, session.begin():
        count = (await session.execute(statement)).scalar_one()
        until = lock(count)
        if until is not None:
            await session.execute(update(LoginFailure).where(
                LoginFailure.kind == kind, LoginFailure.key == key).values(locked_until=until))
        return count


async def forget(db: Database, kind: str, key: str) -> None:
    async with db.session() as session, session.begin():
        await session.execute(delete(LoginFailure).where(
            LoginFailure.kind == kind, LoginFailure.key == key[:MAX_KEY]))


async def forget_before(db: Database, cutoff: datetime) -> None:
    """Rows of failures nobody repeated since ``cutoff``: forgiven."""
    async with db.session() as session, session.begin():
        await session.execute(delete(LoginFailure).where(LoginFailure.last_at < cutoff))
