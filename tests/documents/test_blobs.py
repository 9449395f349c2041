"""Files for every host: two hosts that share only the PostgreSQL database, each with its own
data directory. What a merchant sent through one is packaged, erased and swept by the other."""

from __future__ import annotations

import asyncio
import zipfile
from datetime import timedelta

import pytest
from dbkit import on_postgresql, read
from sqlalchemy import update

from bot.app import open_service
from bot.config import Settings
from bot.documents.outbox import Outbox
from bot.documents.retention import sweep
from bot.engine.model import Choose, Hello, Text, Upload
from bot.store.blobs import DatabaseFileStore
from bot.store.models import Blob
from tests.documents import samples

COMPANY = "宁波海岸贸易有限公司"


def host(tmp_path, name: str, url: str, **extra) -> Settings:
    return Settings(_env_file=None, bot_data_dir=tmp_path / name, bot_database_url=url, **extra)


def test_the_database_store_needs_postgresql(tmp_path):
    sqlite = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    assert host(tmp_path, "a", sqlite).file_store == "local"
    assert host(tmp_path, "a", "postgresql+asyncpg://u:p@127.0.0.1/db").file_store == "database"
    assert host(tmp_path, "a", "postgresql+asyncpg://u:p@127.0.0.1/db",
                bot_file_store="local").file_store == "local"
    with pytest.raises(ValueError, match="PostgreSQL"):
        host(tmp_path, "a", sqlite, bot_file_store="database")


pg = pytest.mark.skipif(not on_postgresql(), reason="the database file store is PostgreSQL's "
                        "(BOT_TEST_DATABASE_URL=postgresql+asyncpg://...)")


async def say(service, event):
    if isinstance(event, str):
        event = Text(event)
    return await service.handle("telegram", "7001", event, locale="en")


def files_in(result) -> list[str]:
    for reply in result.replies:
        if reply.document is not None and reply.document.name.endswith(".zip"):
            with zipfile.ZipFile(reply.document.path) as zf:
                return [(name, zf.read(name)) for name in sorted(zf.namelist())]
    return []


@pg
async def test_package_and_delete_on_the_host_that_did_not_receive_the_file(tmp_path,
                                                                            database_url):
    scan = samples.scan(seed=7)
    async with (open_service(host(tmp_path, "a", database_url)) as a,
                open_service(host(tmp_path, "b", database_url)) as b):
        assert isinstance(a.files, DatabaseFileStore)
        await say(a, Hello())
        await say(a, Choose("basic"))
        await say(a, COMPANY)
        await say(a, Upload(scan, "license.png"))
        assert not (tmp_path / "b" / "files").exists()  # nothing on host b's disk
        packaged = files_in(await say(b, "/package"))
        assert packaged == [("01_营业执照.png", scan)]
        asked = await say(b, "/delete")
        yes = next(c.id for r in asked.replies for c in r.choices)
        await say(b, Choose(yes))
        assert read(database_url, "SELECT count(*) FROM blobs") == [(0,)]
        # host a kept no copy that outlives the erasure
        again = await say(a, "/package")
        assert files_in(again) == []
        assert "not sent any files" in "\n".join(r.text for r in again.replies)


@pg
async def test_retention_on_another_host_sweeps_orphans_and_inactive_files(tmp_path,
                                                                           database_url):
    async with (open_service(host(tmp_path, "a", database_url)) as a,
                open_service(host(tmp_path, "b", database_url)) as b):
        await say(a, Hello())
        await say(a, Choose("basic"))
        await say(a, COMPANY)
        await say(a, Upload(samples.scan(seed=1), "license.png"))
        orphan = await asyncio.to_thread(a.files.store, "png", b"left behind by a crash")
        young = await asyncio.to_thread(a.files.store, "png", b"its turn is committing")
        async with a.db.session() as session, session.begin():
            await session.execute(update(Blob).where(Blob.name == orphan).values(
                created_at=Blob.created_at - timedelta(hours=2)))
        now = a.clock() + timedelta(days=40)
        swept = await sweep(b.db, b.files, Outbox(tmp_path / "b" / "outbox"), days=30, now=now)
    assert (swept.merchants, swept.files, swept.orphans) == (1, 1, 1)
    assert read(database_url, "SELECT name FROM blobs") == [(young,)]
