"""Retention: ``python -m bot retention`` (e.g. daily from cron).

- the files of merchants inactive for ``BOT_RETENTION_DAYS`` (no event since) are deleted with
  their document rows; the conversation itself stays, so a returning merchant is simply asked
  for the files again;
- stored files no row refers to (a replaced scan, a crash between writing a file and committing
  its row) are deleted once an hour old;
- handed-over files (packages, smaller copies) are deleted after a day;
- the transcripts of merchants inactive for ``BOT_RETENTION_DAYS`` are deleted too.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from bot.config import Settings
from bot.documents.outbox import Outbox
from bot.documents.privacy import remove_files
from bot.store import documents as stored
from bot.store.blobs import open_file_store
from bot.store.console import forget_transcripts
from bot.store.db import Database
from bot.store.files import FileStore

ORPHAN_SECONDS = 3600


@dataclass
class Swept:
    merchants: int = 0
    files: int = 0
    orphans: int = 0
    handed_over: int = 0
    transcript_turns: int = 0


async def sweep(db: Database, files: FileStore, outbox: Outbox, *, days: int | None,
                now: datetime) -> Swept:
    """``now``: naive UTC, as the service stores times. ``days=None``: no age limit."""
    swept = Swept()
    doomed: list = []
    async with db.session() as session, session.begin():
        if days is not None:
            rows = await stored.of_inactive(session, now - timedelta(days=days))
            swept.merchants = len({row.merchant_id for row in rows})
            for row in rows:
                doomed.append(row.storage or files.path(row.sha256, row.kind))
            await stored.remove(session, rows)
            swept.transcript_turns = await forget_transcripts(session, now - timedelta(days=days))
        referenced, kept = await stored.in_use(session)
    # Content-addressed files are shared by equal content: keep those another row still uses.
    doomed = [d for d in doomed if isinstance(d, str) or d.stem not in kept]
    swept.files = len(doomed)
    await asyncio.to_thread(remove_files, files, doomed)
    orphans = await asyncio.to_thread(files.orphans, referenced, ORPHAN_SECONDS)
    await asyncio.to_thread(remove_files, files, orphans)
    swept.orphans = len(orphans)
    swept.handed_over = await asyncio.to_thread(outbox.expire)
    return swept


async def _run(settings: Settings, days: int | None) -> Swept:
    db = Database(settings.database_url)
    await db.migrate()
    files = open_file_store(settings.file_store, settings.database_url, settings.files_dir)
    try:
        now = datetime.now(UTC).replace(tzinfo=None)
        return await sweep(db, files, Outbox(settings.outbox_dir), days=days, now=now)
    finally:
        await asyncio.to_thread(files.close)
        await db.close()


def main(settings: Settings, days: int | None = None) -> int:
    """``python -m bot retention [--days N]``: one sweep, one JSON line of counts."""
    days = settings.bot_retention_days if days is None else days
    if days is not None and days < 1:
        print("--days must be at least 1")
        return 2
    swept = asyncio.run(_run(settings, days))
    print(json.dumps({"days": days, **asdict(swept)}))
    return 0
