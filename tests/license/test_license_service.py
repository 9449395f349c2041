"""The read through the real service, database and reader process, in both languages: the
upload is answered at once, the read arrives later through the channel's sender, 正确 makes the
answers (and the license-expiry reminder); a scan without readable text gets one line."""

from __future__ import annotations

import logging
from datetime import time

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.content import load_guide
from bot.engine.model import Choose, Hello, Text, Upload
from bot.engine.scan import EDIT, OK, UNREADABLE
from bot.license import install
from bot.reminders.commands import install as install_reminders
from bot.reminders.delivery import FakeSender
from bot.reminders.timing import QuietHours, Timing
from bot.service import Service
from bot.store.db import Database
from bot.store.files import FileStore
from bot.store.models import Merchant, Reminder
from tests.documents import samples
from tests.license import kit

pytestmark = pytest.mark.skipif(kit.cjk_font_path() is None, reason="no CJK font installed")
TIMING = Timing(QuietHours.parse("21:00-09:00"), time(10), "Asia/Shanghai")


@pytest.fixture(scope="module")
def guide():
    return load_guide()


@pytest.fixture
async def bench(tmp_path, guide, database_url):
    db = Database(database_url)
    await db.migrate()
    service = Service(guide, db, FileStore(tmp_path / "files"))
    install_reminders(service, TIMING, buttons=lambda channel: True)
    sender = FakeSender()
    desk = install(service, Settings(bot_license_ocr=True, bot_license_ocr_timeout=120),
                   {"t": sender})
    yield service, desk, sender
    await desk.close()
    await db.close()


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
async def test_a_license_is_read_while_the_merchant_goes_on(bench, guide, locale, caplog):
    service, desk, sender = bench
    caplog.set_level(logging.DEBUG)
    say = lambda event: service.handle("t", "m1", event, language=locale)
    await say(Hello())
    await say(Choose("basic"))
    await say(Text("宁波海港贸易有限公司"))  # one character off the license's name
    upload = await say(Upload(kit.png(kit.draw()), "license.png"))
    # Answered at once: the next question, nothing about the read yet.
    assert upload.expects.step == "basic.license_end" and sender.sent == []
    await desk.idle()
    [(user, replies)] = sender.sent
    text = replies[0].text
    assert user == "m1" and len(replies) == 1
    for value in ("宁波海岸贸易有限公司", kit.valid_code(), "张伟", "2035-03-11",
                  "宁波海港贸易有限公司"):
        assert value in text
    assert [c.id for c in replies[0].choices] == [OK, EDIT]
    assert ("正确" if locale == "zh_CN" else "Correct") == replies[0].choices[0].label
    done = await say(Choose(OK))
    assert done.expects.step == "basic.legal_id"
    async with service.db.session() as session:
        merchant = await session.scalar(select(Merchant))
        anchors = set(await session.scalars(select(Reminder.anchor)))
    answers = merchant.state["answers"]
    assert answers["company_name"] == "宁波海岸贸易有限公司"
    assert answers["license_end_date"] == "2035-03-11" and answers["legal_rep_name"] == "张伟"
    assert any(a.isoformat() == "2035-03-11" for a in anchors)  # the license-expiry reminder
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "张伟" not in logged and kit.valid_code() not in logged


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
async def test_a_scan_without_readable_text_gets_one_line(bench, guide, locale, tmp_path):
    service, desk, sender = bench
    say = lambda event: service.handle("t", "m2", event, language=locale)
    await say(Hello())
    await say(Choose("basic"))
    await say(Text("宁波海岸贸易有限公司"))
    await say(Upload(samples.scan(), "license.png"))
    await desk.idle()
    [(_, replies)] = sender.sent
    assert [r.text for r in replies] == [guide.render.text(locale, UNREADABLE)]
    result = await say(Text("2035-03-11"))  # the questions as before
    assert result.expects.step == "basic.uscc"
