"""Reminders through the real service, engine, content and SQLite, delivered to fake senders;
time is set by the test (no sleeping)."""

import asyncio
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest
from reminder_kit import (
    Choose,
    FakeSender,
    Hello,
    Text,
    local,
    open_bench,
    utc,
)
from sqlalchemy import select

from bot.app import build_senders, open_service, reminder_worker
from bot.channels.base import DeliveryError
from bot.config import Settings
from bot.content import load_guide
from bot.engine.model import State
from bot.reminders import facts as F
from bot.reminders.timing import spread
from bot.store.models import Merchant, Milestone


@pytest.fixture(scope="module")
def guide():
    return load_guide()


@pytest.fixture
async def bench(tmp_path, guide, database_url):
    bench = await open_bench(database_url, tmp_path, guide)
    yield bench
    await bench.db.close()


def local_times(reminders):
    return [local(r.due_at) for r in reminders]


async def test_a_passed_basic_certification_gets_its_reminders_at_local_times(bench):
    await bench.passed("u1", "basic", "2026-03-10")
    reminders = await bench.reminders("u1")
    assert [(r.kind, r.anchor, r.lead_days) for r in reminders] == [
        ("renewal", date(2027, 3, 10), 60), ("renewal", date(2027, 3, 10), 30),
        ("renewal", date(2027, 3, 10), 7)]
    times = local_times(reminders)
    assert [t.date() for t in times] == [date(2027, 1, 9), date(2027, 2, 8), date(2027, 3, 3)]
    assert all(t.hour == 10 and t.minute not in (0, 30) for t in times)

    assert await bench.run("2027-01-09 09:55") == []  # not yet
    sent = await bench.run("2027-01-09 10:40")
    assert [s["kind"] for s in sent] == ["renewal"] and sent[0]["merchant"] == "u1"
    assert sent[0]["due"] == times[0].isoformat() + "+08:00"
    user, replies = bench.telegram.sent[-1]
    text = replies[0].text
    assert user == "u1" and "Basic certification" in text and "60 days" in text
    assert "认证中心" in text and "My Alibaba ›" in text  # where: the breadcrumb
    assert "What to prepare" in text and "business license" in text
    assert [c.id.rsplit(":", 1)[1] for c in replies[0].choices] == [
        "done", "snooze_day", "snooze_week"]
    assert await bench.run("2027-01-09 10:45") == []  # sent once
    assert [r.status for r in await bench.reminders("u1")] == ["sent", "pending", "pending"]


async def test_a_chinese_merchant_gets_the_reminder_in_chinese(bench):
    bench.clock.set("2026-06-01 12:00")  # the pass date is in the past: a future one is refused
    await bench.passed("zh", "strength_merchant", "2026-05-20", lang="zh")
    sent = await bench.run("2027-03-21 11:00")
    assert [s["subject"] for s in sent] == ["strength_merchant"]
    text = bench.telegram.sent[-1][1][0].text
    assert "实力商家" in text and "还有 60 天" in text and "实力商家申请" in text
    assert "交易额报表" in text


async def test_quiet_hours_defer_to_the_morning(bench):
    await bench.passed("q", "basic", "2026-03-10")
    first = (await bench.reminders("q"))[0]
    # The worker was down all day; at 22:00 local it finds the reminder due: not now.
    assert await bench.run("2027-01-09 22:00") == []
    deferred = (await bench.reminders("q"))[0]
    assert deferred.status == "pending" and deferred.due_at == first.due_at
    morning = local(deferred.next_at)
    assert morning.date() == date(2027, 1, 10) and morning.hour == 9
    assert morning.minute == spread(deferred.merchant_id)
    assert await bench.run("2027-01-10 08:59") == []
    assert len(await bench.run("2027-01-10 09:45")) == 1


async def test_snooze_and_cancel_in_english(bench):
    await bench.passed("en", "basic", "2026-03-10")
    await bench.run("2027-01-09 11:00")
    sent = (await bench.reminders("en", status="sent"))[0]
    bench.clock.set("2027-01-09 22:40")  # snoozed late in the evening
    result = await bench.say("en", Choose(f"rem:{sent.id}:snooze_day"))
    assert result.replies[0].text.startswith("OK, I will remind you again on January 11, 2027")
    again = (await bench.reminders("en", id=sent.id))[0]
    assert again.status == "pending" and local(again.due_at).hour == 9  # not at 22:40
    listing = await bench.say("en", Text("/reminders"))
    assert listing.replies[0].text.startswith("Coming reminders:")
    assert "1. January 11, 2027 09:" in listing.replies[0].text
    opened = await bench.say("en", listing.replies[0].choices[1].id)  # the 30-day one
    assert "Cancel this reminder" in [c.label for c in opened.replies[0].choices]
    cancel = next(c.id for c in opened.replies[0].choices if c.id.endswith(":cancel"))
    result = await bench.say("en", Choose(cancel))
    assert result.replies[0].text.startswith("Cancelled:")
    week = await bench.say("en", Text("/reminders snooze 2 week"))  # the 7-day one
    assert "again on March 10, 2027" in week.replies[0].text
    statuses = {r.lead_days: r.status for r in await bench.reminders("en")}
    assert statuses == {60: "pending", 30: "cancelled", 7: "pending"}


async def test_snooze_and_cancel_in_chinese_by_typing(bench):
    await bench.passed("zh2", "basic", "2026-03-10", channel="w", lang="zh")
    await bench.run("2027-01-09 11:00")
    _, replies = bench.plain.sent[-1]
    assert replies[0].choices == () and "/reminders 推迟" in replies[0].text  # no buttons
    bench.clock.set("2027-01-09 12:00")
    result = await bench.say("zh2", Text("/reminders 推迟 周"), channel="w")
    assert result.replies[0].text.startswith("好的，我会在 2027年1月16日")
    listing = await bench.say("zh2", Text("/reminders"), channel="w")
    assert listing.replies[0].choices == () and "/reminders 取消 2" in listing.replies[0].text
    result = await bench.say("zh2", Text("/reminders 取消 2"), channel="w")
    assert result.replies[0].text.startswith("已取消")
    statuses = {r.lead_days: r.status for r in await bench.reminders("zh2")}
    assert statuses == {60: "pending", 30: "cancelled", 7: "pending"}  # listed by due time
    result = await bench.say("zh2", Text("/reminders 取消 9"), channel="w")
    assert "没有第 9 条提醒" in result.replies[0].text


async def test_done_on_a_renewal_schedules_next_year(bench):
    await bench.passed("y", "factory", "2026-03-10")
    await bench.run("2027-01-09 11:00")
    sent = (await bench.reminders("y", status="sent"))[0]
    result = await bench.say("y", Choose(f"rem:{sent.id}:done"))
    assert "Next year's reminders are set" in result.replies[0].text
    reminders = await bench.reminders("y")
    assert {r.anchor: r.status for r in reminders if r.anchor.year == 2027} == {
        date(2027, 3, 10): "done"}
    upcoming = [r for r in reminders if r.status == "pending"]
    assert [(r.anchor, r.lead_days) for r in upcoming] == [
        (date(2028, 3, 10), 60), (date(2028, 3, 10), 30), (date(2028, 3, 10), 7)]
    again = await bench.say("y", Choose(f"rem:{sent.id}:done"))
    assert "no longer active" in again.replies[0].text


async def test_the_renewal_flow_records_a_completed_renewal(bench):
    await bench.passed("r", "basic", "2025-03-10")
    await bench.passed("r", "strength_merchant", "2025-06-01")
    bench.clock.set("2026-02-20 15:00")
    await bench.say("r", Hello(), "renewal", "renewed", "enterprise")
    by_subject = {}
    for r in await bench.reminders("r", status="pending"):
        by_subject.setdefault(r.subject, set()).add(r.anchor)
    assert by_subject == {"basic": {date(2027, 3, 10)}, "strength_merchant": {date(2026, 6, 1)}}


async def test_the_yearly_cycle_continues_without_a_word(bench):
    await bench.passed("s", "trade", "2026-03-10")
    for day in ("2027-01-09", "2027-02-08", "2027-03-03"):
        assert len(await bench.run(f"{day} 11:00")) == 1
    assert await bench.run("2027-03-15 11:00") == []  # the refresh plans 2028
    pending = await bench.reminders("s", status="pending")
    assert [r.anchor for r in pending] == [date(2028, 3, 10)] * 3


async def test_license_end_date_from_the_renewal_flow(bench):
    await bench.say("l", Hello(), "renewal", "enterprise", "enter", Text("2026-12-31"))
    reminders = await bench.reminders("l")
    assert [(r.kind, local(r.due_at).date()) for r in reminders] == [
        ("license_end", date(2026, 11, 1)), ("license_end", date(2026, 12, 1)),
        ("license_end", date(2026, 12, 24))]
    # the merchant corrects it to long-term: the reminders are withdrawn
    await bench.say("l", "renewal", "enterprise", "enter", "change", Text("长期"))
    assert {r.status for r in await bench.reminders("l")} == {"obsolete"}


async def test_a_review_follow_up_after_the_typical_time_and_status_update(bench):
    bench.clock.set("2026-02-13 16:00")
    await bench.submitted("f", "factory", "2026-02-13")
    (follow_up,) = await bench.reminders("f")
    assert follow_up.kind == "review" and local(follow_up.due_at).date() == date(2026, 3, 3)
    sent = await bench.run("2026-03-03 10:50")
    text = bench.telegram.sent[-1][1][0].text
    assert sent and "3–7 working days" in text and "查看详情" in text
    result = await bench.say("f", Choose(f"rem:{follow_up.id}:status"))
    assert result.expects.step == "status.value"  # straight to the status question
    await bench.say("f", "passed", Text("2026-03-02"))
    statuses = [(r.kind, r.status) for r in await bench.reminders("f")]
    assert ("review", "done") in statuses and ("renewal", "pending") in statuses


async def test_a_new_status_report_retires_the_follow_up(bench):
    bench.clock.set("2026-04-01 12:00")
    await bench.submitted("g", "basic", "2026-04-01")
    await bench.say("g", Hello(), "status", "basic", "rejected", "other")
    assert [r.status for r in await bench.reminders("g")] == ["obsolete"]
    async with bench.db.session() as session:
        stone = await session.scalar(select(Milestone).where(Milestone.subject == "basic"))
    assert stone.status == "rejected" and stone.rejected_on == date(2026, 4, 1)
    assert stone.submitted_on == date(2026, 4, 1)


async def test_inspection_reminders(bench):
    bench.clock.set("2026-04-01 12:00")
    await bench.say("i", Hello(), lang="en")
    async with bench.db.session() as session, session.begin():
        merchant = await session.scalar(select(Merchant).where(Merchant.user_key == "i"))
        state = State("en", answers={"inspection_date": "2026-05-20"})
        got = F.report(State("en"), state, [])
        assert await F.record_turn(session, merchant, state, got, bench.clock.now,
                                   date(2026, 4, 1))
        await F.sync(session, merchant, bench.clock.now, bench.worker.timing,
                     bench.service.guide.render.figures)
    book, eve = await bench.reminders("i")
    assert (book.kind, local(book.due_at).date()) == ("inspection_book", date(2026, 5, 6))
    assert (eve.kind, local(eve.due_at).date()) == ("inspection_eve", date(2026, 5, 19))
    await bench.run("2026-05-06 12:00")
    text = bench.telegram.sent[-1][1][0].text
    assert "1–2 weeks in advance" in text and "工厂认证" in text


async def test_failed_sends_are_retried_with_backoff_then_given_up(bench):
    bench.senders["t"] = FakeSender(fail=[DeliveryError("timeout")] * 2)
    bench.worker.senders = bench.senders
    await bench.passed("b", "basic", "2026-03-10")
    assert await bench.run("2027-01-09 11:00") == []
    (first, *_) = await bench.reminders("b")
    assert first.status == "pending" and first.attempts == 1 and first.last_error == "timeout"
    assert local(first.next_at) > datetime(2027, 1, 9, 11, 0)
    assert await bench.run("2027-01-09 11:00:30") == []  # not before the backoff
    assert await bench.run("2027-01-09 11:02") == []  # second failure
    assert (await bench.reminders("b", id=first.id))[0].attempts == 2
    assert len(await bench.run("2027-01-09 11:30")) == 1
    assert (await bench.reminders("b", id=first.id))[0].status == "sent"


async def test_permanent_failure_and_bounded_attempts(tmp_path, guide, database_url):
    bench = await open_bench(database_url, tmp_path, guide, max_attempts=3)
    try:
        bench.senders["t"] = FakeSender(fail=[DeliveryError("blocked", permanent=True)]
                                        + [RuntimeError("bug")] * 3)
        bench.worker.senders = bench.senders
        await bench.passed("p", "basic", "2026-03-10")
        await bench.run("2027-01-09 11:00")
        first = (await bench.reminders("p"))[0]
        assert first.status == "failed" and first.last_error == "blocked"
        for minute in range(0, 600, 7):
            await bench.run((datetime(2027, 2, 8, 11) + timedelta(minutes=minute)).isoformat())
        second = (await bench.reminders("p"))[1]
        assert second.status == "failed" and second.attempts == 3
        assert second.last_error == "RuntimeError"
    finally:
        await bench.db.close()


async def test_reminders_of_a_channel_without_sender_wait(bench):
    await bench.passed("x", "basic", "2026-03-10", channel="gone")
    assert await bench.run("2027-01-09 11:00") == []
    assert (await bench.reminders("x"))[0].status == "pending"


async def test_an_expired_claim_is_sent_once_later(bench):
    await bench.passed("c", "basic", "2026-03-10")
    now = utc("2027-01-09 11:00")
    reminder = (await bench.reminders("c"))[0]
    from bot.reminders.worker import claimable

    assert await bench.worker._update(reminder.id, claimable(now), status="claimed",
                                      claim_token="dead", claimed_until=now + timedelta(
                                          minutes=5), attempts=1)
    assert await bench.run("2027-01-09 11:04") == []  # the lease still holds
    assert len(await bench.run("2027-01-09 11:06")) == 1
    assert await bench.run("2027-01-09 11:30") == []
    assert len(bench.telegram.sent) == 1


async def test_help_lists_the_command(bench):
    result = await bench.say("h", Hello(), Text("/help"), lang="en")
    assert "/reminders" in result.replies[0].text
    empty = await bench.say("h", Text("/reminders"))
    assert empty.replies[0].text.startswith("No reminders are planned")
    stray = await bench.say("h", Choose("rem:99999:done"))
    assert "no longer active" in stray.replies[0].text


async def test_the_worker_loop_sends_on_its_own(bench):
    await bench.passed("loop", "basic", "2026-03-10")
    bench.worker.config = replace(bench.worker.config, poll=0.01)
    moment = utc("2027-01-09 11:00")
    task = asyncio.create_task(bench.worker.loop(lambda: moment))
    try:
        for _ in range(500):  # bounded: at most about 5 seconds
            if bench.telegram.sent:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.wait([task], timeout=10)
    assert [user for user, _ in bench.telegram.sent] == ["loop"]


async def test_open_service_installs_reminders(tmp_path, database_url):
    settings = Settings(bot_data_dir=tmp_path / "data", bot_database_url=database_url)
    async with open_service(settings) as service:
        assert "reminders" in service.commands and "rem" in service.choice_prefixes
        senders = build_senders(settings)
        assert set(senders) >= {"console"}
        worker = reminder_worker(service, settings, senders)
        assert await worker.run_once(utc("2027-01-09 11:00")) == []
        result = await service.handle("wecom", "w1", Text("/reminders"), language="en")
        assert result.replies[0].choices == ()  # WeCom shows no buttons
