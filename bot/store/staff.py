"""The service team's side of the database: users, signed-in sessions, the audit log."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from bot.store.db import Database
from bot.store.models import AuditEntry, StaffSession, StaffUser

ROLES = ("operator", "admin")


@dataclass(frozen=True)
class Staff:
    id: int
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _staff(row: StaffUser) -> Staff:
    return Staff(row.id, row.name, row.role)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


async def add_user(db: Database, name: str, role: str, password_hash: str,
                   now: datetime) -> Staff:
    """Adds the user, or replaces the role and password of one with that name (a reset);
    a reset signs the user out everywhere."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    async with db.session() as session, session.begin():
        row = await session.scalar(select(StaffUser).where(StaffUser.name == name))
        if row is None:
            row = StaffUser(name=name, role=role, password_hash=password_hash, created_at=now)
            session.add(row)
        else:
            row.role, row.password_hash = role, password_hash
            await session.execute(delete(StaffSession).where(StaffSession.user_id == row.id))
        await session.flush()
        return _staff(row)


async def list_users(db: Database) -> list[tuple[Staff, datetime]]:
    async with db.session() as session:
        rows = await session.scalars(select(StaffUser).order_by(StaffUser.name))
        return [(_staff(r), r.created_at) for r in rows]


async def remove_user(db: Database, name: str) -> bool:
    async with db.session() as session, session.begin():
        row = await session.scalar(select(StaffUser).where(StaffUser.name == name))
        if row is None:
            return False
        await session.execute(delete(StaffSession).where(StaffSession.user_id == row.id))
        await session.delete(row)
        return True


async def credentials(db: Database, name: str) -> tuple[Staff, str] | None:
    async with db.session() as session:
        row = await session.scalar(select(StaffUser).where(StaffUser.name == name))
        return (_staff(row), row.password_hash) if row is not None else None


async def open_session(db: Database, user: Staff, token: str, csrf: str, now: datetime,
                       expires: datetime) -> None:
    async with db.session() as session, session.begin():
        await session.execute(delete(StaffSession).where(StaffSession.expires_at < now))
        session.add(StaffSession(token_hash=token_hash(token), user_id=user.id, csrf=csrf,
                                 created_at=now, expires_at=expires))


async def session_user(db: Database, token: str, now: datetime) -> tuple[Staff, str] | None:
    """The signed-in user and the session's CSRF token; None when unknown or expired."""
    async with db.session() as session:
        found = (await session.execute(
            select(StaffUser, StaffSession.csrf)
            .join(StaffSession, StaffSession.user_id == StaffUser.id)
            .where(StaffSession.token_hash == token_hash(token),
                   StaffSession.expires_at > now))).first()
    return (_staff(found[0]), found[1]) if found else None


async def close_session(db: Database, token: str) -> None:
    async with db.session() as session, session.begin():
        await session.execute(
            delete(StaffSession).where(StaffSession.token_hash == token_hash(token)))


async def audit(db: Database, actor: str, action: str, now: datetime, *,
                merchant_id: int | None = None, address: str | None = None,
                detail: str | None = None) -> None:
    async with db.session() as session, session.begin():
        session.add(AuditEntry(at=now, actor=actor[:64], action=action, merchant_id=merchant_id,
                               address=(address or "")[:64] or None,
                               detail=(detail or "")[:255] or None))


async def audit_entries(db: Database, limit: int = 500) -> list[AuditEntry]:
    async with db.session() as session:
        rows = await session.scalars(
            select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit))
        return list(rows)
