"""The schema the migrations build is the schema the models describe, on either backend, and
workers starting together on an empty database all come up."""

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from dbkit import read
from sqlalchemy import inspect

from bot.store.db import Database
from bot.store.models import Base

ROOT = Path(__file__).resolve().parents[1]
WORKERS = 6
MIGRATE = "import asyncio, sys; from bot.store.db import Database; " \
          "db = Database(sys.argv[1]); asyncio.run(db.migrate()); print('up')"


async def test_migrations_build_exactly_the_models(empty_database_url):
    db = Database(empty_database_url)
    await db.migrate()
    await db.migrate()  # a second start changes nothing

    def diff(connection):
        context = MigrationContext.configure(connection)
        return compare_metadata(context, Base.metadata)

    async with db.engine.connect() as conn:
        differences = await conn.run_sync(diff)
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        if db.is_sqlite:
            journal = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
            assert journal == "wal"
    current, head = await db.current_revision()
    await db.close()
    assert differences == []
    assert {"merchants", "documents", "certifications", "turns"} <= tables
    assert current == head


def test_workers_started_together_on_an_empty_database_all_come_up(empty_database_url):
    procs = [subprocess.Popen([sys.executable, "-c", MIGRATE, empty_database_url], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(WORKERS)]
    outcomes = [p.communicate(timeout=300) for p in procs]
    failures = [err for p, (_, err) in zip(procs, outcomes, strict=True) if p.returncode != 0]
    assert failures == []
    assert [out.strip() for out, _ in outcomes] == ["up"] * WORKERS
    assert len(read(empty_database_url, "SELECT version_num FROM alembic_version")) == 1
