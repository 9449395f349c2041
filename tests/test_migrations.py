"""The schema the migrations build is the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from bot.store.db import Database
from bot.store.models import Base


async def test_migrations_build_exactly_the_models(tmp_path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    await db.migrate()
    await db.migrate()  # a second start changes nothing

    def diff(connection):
        context = MigrationContext.configure(connection)
        return compare_metadata(context, Base.metadata)

    async with db.engine.connect() as conn:
        differences = await conn.run_sync(diff)
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        journal = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
    await db.close()
    assert differences == []
    assert {"merchants", "documents", "certifications", "turns"} <= tables
    assert journal == "wal"
