"""The service with the real engine, content and SQLite: exactly-once, ordering, durability."""

import asyncio
import logging

import pytest
from sqlalchemy import func, select

from bot.content import load_guide
from bot.engine.model import Choose, Hello, Text, Upload
from bot.service import Service
from bot.store.db import Database
from bot.store.files import FileStore
from bot.store.models import Document, Merchant, Turn
from chat import scan

ID = "11010519491231002X"


@pytest.fixture(scope="module")
def guide():
    return load_guide()


@pytest.fixture
async def service(tmp_path, guide, database_url):
    db = Database(database_url)
    await db.migrate()
    service = Service(guide, db, FileStore(tmp_path / "files"))
    yield service
    await service.close()  # its marks of sent replies, still lingering
    await db.close()


async def count(service, model):
    async with service.db.session() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_a_redelivered_update_changes_nothing(service):
    await service.handle("t", "u1", Hello(), update_id="1")
    first = await service.handle("t", "u1", Choose("basic"), update_id="2")
    await service.mark_sent(first.turn_id)  # delivered: a redelivery has nothing to send
    again = await service.handle("t", "u1", Choose("basic"), update_id="2")
    assert first.expects.step == "basic.company_name"
    assert again.duplicate and again.replies == []
    assert await count(service, Turn) == 2
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


async def test_state_survives_a_new_service(tmp_path, guide, service, database_url):
    await service.handle("t", "u3", Hello())
    await service.handle("t", "u3", Choose("basic"))
    await service.handle("t", "u3", Text("Ningbo Coast Trading Co., Ltd."))
    db = Database(database_url)
    await db.migrate()  # a second start runs the migrations again: nothing to do
    fresh = Service(guide, db, FileStore(tmp_path / "files"))
    again = await fresh.handle("t", "u3", Hello())
    await db.close()
    assert again.expects.step == "basic.license"
    assert "Ningbo Coast Trading" not in again.replies[-1].text  # the question, not the answer


async def test_answers_taken_in_turn_by_two_services_each_see_the_other(
        tmp_path, guide, service, database_url, caplog):
    """Two workers' services on one database, a merchant's answers alternating between them:
    each answer applies to the state the other left. On a database workers share, a warm
    cache is checked first, so no write is refused and no turn runs twice."""
    db = Database(database_url)
    other = Service(guide, db, FileStore(tmp_path / "files"))
    try:
        caplog.set_level(logging.INFO, logger="bot.service")
        steps = []
        answers = [Hello(), Choose("basic"), Text("甲公司有限公司"), Text("/back"),
                   Choose("change"), Text("乙公司有限公司")]
        for i, event in enumerate(answers):
            worker = (service, other)[i % 2]
            steps.append((await worker.handle("t", "u5", event, update_id=str(i))).expects.step)
        assert steps == ["menu.main", "basic.company_name", "basic.license",
                         "basic.company_name", "basic.company_name", "basic.license"]
        async with service.db.session() as session:
            merchant = await session.scalar(select(Merchant).where(Merchant.user_key == "u5"))
        assert merchant.state["answers"]["company_name"] == "乙公司有限公司"
        assert merchant.version == len(answers)
        retried = [r for r in caplog.records if "retried" in r.getMessage()]
        assert (retried == []) == (not db.is_sqlite), retried
    finally:
        await other.close()
        await db.close()


async def test_language_hint_picks_the_first_locale_only(service):
    first = await service.handle("t", "u4", Hello(), language="en-US")
    assert first.locale == "en"
    later = await service.handle("t", "u4", Hello(), language="zh-hans")
    assert later.locale == "en"  # the merchant's locale sticks once chosen


async def test_id_numbers_never_reach_the_logs(service, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)  # SQLAlchemy logs statements at this level
    license_scan = scan(tmp_path / "license.png")
    events = [Hello(), Choose("basic"), Text("宁波海岸贸易有限公司"),
              Upload(license_scan.read_bytes(), "license.png"), Text("长期"),
              Text("91350100M000100Y43"),
              Text("张伟"), Text("110105194912310021"), Text(ID), Text("/status")]
    for event in events:
        result = await service.handle("t", "u5", event)
    assert result.expects.step == "basic.email"
    assert "1101**********002X" in result.replies[0].text
    assert any(r.levelno == logging.DEBUG for r in caplog.records)  # the logs were on
    assert ID not in caplog.text and "110105194912310021" not in caplog.text
    assert await count(service, Document) == 1
