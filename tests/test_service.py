"""The service with the real engine, content and SQLite: exactly-once, ordering, durability."""

import asyncio
import logging

import pytest
from sqlalchemy import func, select

from bot.content import load_guide
from bot.engine.model import Choose, Hello, Text
from bot.service import Service
from bot.store.db import Database
from bot.store.files import FileStore
from bot.store.models import Document, Merchant, ProcessedUpdate


@pytest.fixture(scope="module")
def guide():
    return load_guide()


@pytest.fixture
async def service(tmp_path, guide):
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    await db.migrate()
    yield Service(guide, db, FileStore(tmp_path / "files"))
    await db.close()


async def count(service, model):
    async with service.db.session() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_a_redelivered_update_changes_nothing(service):
    await service.handle("t", "u1", Hello(), update_id="1")
    first = await service.handle("t", "u1", Choose("basic"), update_id="2")
    again = await service.handle("t", "u1", Choose("basic"), update_id="2")
    assert first.expects.step == "basic.company_name"
    assert again.duplicate and again.replies == []
    assert await count(service, ProcessedUpdate) == 2
    status = await service.handle("t", "u1", Text("/status"), update_id="3")
    assert status.expects.step == "basic.company_name"


async def test_events_of_one_merchant_apply_in_arrival_order(service):
    await service.handle("t", "u2", Hello())
    await service.handle("t", "u2", Choose("basic"))
    names = ["甲公司有限公司", "乙公司有限公司"]
    # Fired together: the second must see the state the first left (the license question).
    results = await asyncio.gather(
        service.handle("t", "u2", Text(names[0])), service.handle("t", "u2", Text(names[1]))
    )
    assert results[0].expects.step == "basic.license"
    assert results[1].expects.step == "basic.license"  # text at a files step: refused, kept
    async with service.db.session() as session:
        merchant = await session.scalar(select(Merchant).where(Merchant.user_key == "u2"))
    assert merchant.state["answers"]["company_name"] == names[0]


async def test_merchants_are_served_independently(service):
    results = await asyncio.gather(*(service.handle("t", f"m{i}", Hello()) for i in range(8)))
    assert all(r.expects.step == "menu.main" for r in results)
    assert await count(service, Merchant) == 8


async def test_state_survives_a_new_service(tmp_path, guide, service):
    await service.handle("t", "u3", Hello())
    await service.handle("t", "u3", Choose("basic"))
    await service.handle("t", "u3", Text("Ningbo Coast Trading Co., Ltd."))
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    await db.migrate()  # a second start runs the migrations again: nothing to do
    fresh = Service(guide, db, FileStore(tmp_path / "files"))
    again = await fresh.handle("t", "u3", Hello())
    await db.close()
    assert again.expects.step == "basic.license"
    assert "Ningbo Coast Trading" not in again.replies[-1].text  # the question, not the answer


async def test_language_hint_picks_the_first_locale_only(service):
    first = await service.handle("t", "u4", Hello(), language="en-US")
    assert first.locale == "en"
    later = await service.handle("t", "u4", Hello(), language="zh-hans")
    assert later.locale == "en"  # the merchant's locale sticks once chosen


async def test_id_numbers_never_reach_the_logs(service, caplog):
    caplog.set_level(logging.DEBUG)
    await service.handle("t", "u5", Hello())
    await service.handle("t", "u5", Choose("basic"))
    for text in ["宁波海岸贸易有限公司"]:
        await service.handle("t", "u5", Text(text))
    # jump to the ID question through /back-free answers
    state_step = None
    async with service.db.session() as session:
        merchant = await session.scalar(select(Merchant).where(Merchant.user_key == "u5"))
        state_step = merchant.state["step"]
    assert state_step == "license"
    await service.handle("t", "u5", Text("11010519491231002X"))  # refused at a files step
    assert "11010519491231002X" not in caplog.text
    assert await count(service, Document) == 0
