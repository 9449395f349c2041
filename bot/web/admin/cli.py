"""``python -m bot admin add-user NAME --role operator|admin | list-users | remove-user NAME``
(``admin serve`` is in ``bot.__main__``: it wires the channels). A password is read from
standard input, never from an argument: typed without echo at a terminal (twice), or the first
line of a pipe."""

from __future__ import annotations

import asyncio
import getpass
import sys
from datetime import UTC, datetime

from bot.config import Settings
from bot.store import staff
from bot.store.db import Database
from bot.web.admin.passwords import MIN_LENGTH, hash_password


def read_password(stdin=None) -> str | None:
    stdin = stdin or sys.stdin
    if stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            print("the passwords differ", file=sys.stderr)
            return None
        return first
    return stdin.readline().rstrip("\r\n")


async def _with_db(settings: Settings, work):
    db = Database(settings.database_url)
    await db.migrate()
    try:
        return await work(db)
    finally:
        await db.close()


def main(settings: Settings, args) -> int:
    now = datetime.now(UTC).replace(tzinfo=None)
    if args.admin_command == "add-user":
        name = args.name.strip()
        if not name or len(name) > 64 or ":" in name:
            print("NAME: 1-64 characters, no ':'", file=sys.stderr)
            return 2
        password = read_password()
        if password is None:
            return 2
        if len(password) < MIN_LENGTH:
            print(f"the password needs at least {MIN_LENGTH} characters", file=sys.stderr)
            return 2
        hashed = hash_password(password)
        user = asyncio.run(_with_db(settings, lambda db: staff.add_user(
            db, name, args.role, hashed, now)))
        print(f"{user.name}: {user.role}")
        return 0
    if args.admin_command == "list-users":
        for user, created in asyncio.run(_with_db(settings, staff.list_users)):
            print(f"{user.name}\t{user.role}\t{created:%Y-%m-%d %H:%M}")
        return 0
    if args.admin_command == "remove-user":
        removed = asyncio.run(_with_db(settings, lambda db: staff.remove_user(db, args.name)))
        if not removed:
            print(f"no user {args.name!r}", file=sys.stderr)
            return 1
        print(f"{args.name}: removed")
        return 0
    return 2
