"""微信客服 as a channel for the bot's own messages: a turn's replies within WeCom's budget (5 per
merchant message, within 48 hours), reminders inside the window through kf and outside it as a
staff alert through the group robot, and the robot's pacing and retries. The kf API and the
robot's webhook are the fake on loopback; the guide, the database and the reminders are real."""

import asyncio
import sys
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from reminder_kit import open_bench
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "channels"))

from fake_kf import KF_SECRET, OPEN_KFID, ROBOT_KEY, FakeKf
from fake_wecom import CORP_ID

from bot.channels.base import DeliveryError
from bot.channels.wecom.kf.api import KfApi
from bot.channels.wecom.kf.app import join_handoff
from bot.channels.wecom.kf.channel import CHANNEL, KfChannel
from bot.channels.wecom.robot import Robot
from bot.content import load_guide
from bot.engine.model import Choose, Hello, Reply, Text
from bot.handoff import install as install_handoff
from bot.store import console, handoffs
from bot.store.kf import KfStore
from bot.store.models import Reminder, StaffAlert

WAIT = 20
REALERT = timedelta(minutes=5)


class FakeTime:
    """The robot's monotonic clock and sleep: sleeping moves the clock, at once."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds
        await asyncio.sleep(0)


@pytest.fixture(scope="module")
def guide():
    return load_guide()


@pytest.fixture
async def kf(database_url, tmp_path, guide):
    bench = await open_bench(database_url, tmp_path, guide)
    fake = FakeKf()
    await fake.start()
    fake_time = FakeTime()
    fake.robot_clock = fake_time
    async with aiohttp.ClientSession() as http:
        store = KfStore(bench.db)
        robot = Robot(http, store, base_url=fake.base_url, key=ROBOT_KEY,
                      now=bench.service.clock, clock=fake_time, sleep=fake_time.sleep)
        robot.start()
        api = KfApi(http, base_url=fake.base_url, corp_id=CORP_ID, secret=KF_SECRET)
        channel = KfChannel(bench.service, api, store, robot=robot)
        bench.worker.senders = {CHANNEL: channel}
        # the handoff as bot.app wires it: alerts to the robot, kf sessions to a person
        desk = install_handoff(bench.service, hours="9-18", realert_after=REALERT,
                               senders={CHANNEL: channel})
        desk.add_listener(lambda alert: robot.alert("handoff", alert.markdown))
        join_handoff(bench.service, channel)
        try:
            yield bench, fake, channel, store, robot, fake_time
        finally:
            await robot.close()
            await fake.stop()
            await bench.db.close()


async def heard(fake, store, bench, user: str, hours_ago: float = 0) -> None:
    """The merchant wrote (the fake opens its window; the bot records it)."""
    fake.text(user, "你好")
    await store.heard(user, OPEN_KFID, bench.clock() - timedelta(hours=hours_ago),
                      bench.clock())


async def wait_robot(fake, count: int) -> list[str]:
    for _ in range(WAIT * 10):
        if len(fake.robot) >= count:
            return [text for _, text in fake.robot]
        await asyncio.sleep(0.1)
    raise AssertionError(f"robot got {fake.robot}")


async def test_a_turn_is_one_merged_message_and_never_more_than_five_per_window(kf):
    bench, fake, channel, store, _, _ = kf
    user = "wmBudget"
    await heard(fake, store, bench, user)
    counts = []
    for event in (Hello(), Choose("basic"), Text("宁波海岸贸易有限公司")):
        result = await bench.service.handle(CHANNEL, user, event)
        before = len(fake.sends(user))
        await channel.deliver(user, result)
        counts.append(len(fake.sends(user)) - before)
    assert counts == [1, 1, 1]  # each turn merged into one message (none is long enough for two)
    # the upload page or reminders may add turns without a merchant message: the budget holds
    for _ in range(4):
        await channel.deliver(user, await bench.service.peek(CHANNEL, user))
        await channel.deliver(user, await bench.service.notice(CHANNEL, user, "x"))
    assert len(fake.sends(user)) == 5
    assert fake.refused == []
    assert (await store.session(user)).sent == 5
    bench.clock.now += timedelta(minutes=1)
    await heard(fake, store, bench, user)  # the merchant writes again: five more
    await channel.deliver(user, await bench.service.notice(CHANNEL, user, "x"))
    assert len(fake.sends(user)) == 6 and fake.refused == []


async def test_nothing_is_sent_48_hours_after_the_merchants_last_message(kf):
    bench, fake, channel, store, _, _ = kf
    user = "wmLate"
    await heard(fake, store, bench, user, hours_ago=49)
    await channel.deliver(user, await bench.service.notice(CHANNEL, user, "x"))
    assert fake.sends(user) == [] and fake.refused == []


async def test_reminders_inside_the_window_go_through_kf_outside_to_staff(kf):
    bench, fake, _, store, _, _ = kf
    await bench.passed("wmNear", "basic", "2026-03-10", channel=CHANNEL, lang="zh")
    await bench.passed("wmGone", "basic", "2026-03-10", channel=CHANNEL, lang="en")
    bench.clock.set("2027-01-09 11:00")
    await heard(fake, store, bench, "wmNear", hours_ago=2)
    await heard(fake, store, bench, "wmGone", hours_ago=72)
    sent = await bench.run("2027-01-09 11:00")
    assert sorted(s["merchant"] for s in sent) == ["wmGone", "wmNear"]
    (message,) = fake.sends("wmNear")
    assert message["msgtype"] == "msgmenu" and "基本认证" in message["msgmenu"]["head_content"]
    reminder = sent[[s["merchant"] for s in sent].index("wmNear")]["reminder"]
    ids = [i["click"]["id"].split("|")[0] for i in message["msgmenu"]["list"]]
    assert ids[0] == f"rem:{reminder}:done"
    assert fake.sends("wmGone") == [] and fake.refused == []
    (alert,) = await wait_robot(fake, 1)
    assert "商户 wmGone 的基本认证 60 天后到期（2027-03-10），请联系" in alert
    async with bench.db.session() as session:
        rows = {r.id: r for r in await session.scalars(select(Reminder))}
    vias = sorted((rows[s["reminder"]].delivered_via, s["merchant"]) for s in sent)
    assert vias == [("robot", "wmGone"), (CHANNEL, "wmNear")]


async def test_the_robot_paces_merges_and_retries(kf):
    bench, fake, _, store, robot, _ = kf
    for n in range(45):  # one alert per message (each near the 4096-byte limit)
        await robot.alert("test", f"alert {n} " + "详" * 1300)
    texts = await wait_robot(fake, 45)
    times = [t for t, _ in fake.robot]
    assert all(len([u for u in times if t - 60 < u <= t]) <= 20 for t in times)
    assert times[-1] - times[0] >= 120  # 45 messages: at least two minutes of pacing
    assert [int(t.split()[1]) for t in texts] == list(range(45))  # in order, none lost

    fake.robot.clear()
    await robot.close()
    for n in range(30):  # small alerts left pending (say, written before a restart) ...
        await store.add_alert("test", f"short {n}", bench.clock())
    robot.start()
    (merged,) = await wait_robot(fake, 1)  # ... go out as one message
    assert merged.split("\n\n---\n\n") == [f"short {n}" for n in range(30)]

    fake.robot.clear()
    fake.robot_errors[:] = [500, 45009]  # two failures, then it goes through
    await robot.alert("test", "after two failures")
    (text,) = await wait_robot(fake, 1)
    assert text == "after two failures"
    fake.robot_errors[:] = [500] * 10  # it never goes through: recorded as failed
    await robot.alert("test", "never")
    for _ in range(WAIT * 10):
        async with bench.db.session() as session:
            row = await session.scalar(select(StaffAlert).where(StaffAlert.text == "never"))
        if row.status != "pending":
            break
        await asyncio.sleep(0.1)
    assert row.status == "failed" and row.last_error == "errcode 500" and row.attempts == 5
    async with bench.db.session() as session:
        retried = await session.scalar(select(StaffAlert).where(
            StaffAlert.text == "after two failures"))
    assert retried.status == "sent" and retried.attempts == 3


async def test_staff_hear_how_long_a_merchant_has_waited_for_a_person(kf):
    bench, fake, channel, _, _, _ = kf
    desk = bench.service.desks["handoff"]
    user = "wmWaiting"
    fake.enter(user)
    fake.text(user, "转人工")
    await channel.pull(OPEN_KFID, "SYNC1")
    await wait_until(lambda: fake.transfers)
    assert fake.transfers[-1]["service_state"] == 2  # no servicer configured: the queue
    assert "工作人员会在这里回复您" in fake.shown(user)[-1]  # said before the transfer
    (asked,) = await wait_robot(fake, 1)
    assert "有商家申请转人工" in asked and "wecom_kf" in asked
    shown = len(fake.shown(user))
    bench.clock.now += timedelta(minutes=2)
    fake.text(user, "有人吗？")
    await channel.pull(OPEN_KFID, "SYNC2")
    bench.clock.now += timedelta(minutes=5)
    fake.text(user, "还在吗？")
    await channel.pull(OPEN_KFID, "SYNC3")
    assert await desk.check_waiting() == 1
    assert await desk.check_waiting() == 0  # once, not at every check
    texts = await wait_robot(fake, 2)
    assert "仍在等待人工回复" in texts[1]
    assert len(fake.shown(user)) == shown and fake.refused == []  # the bot said nothing
    fake.staff_says(user, "您好", "WangWu")
    fake.text(user, "谢谢")
    await channel.pull(OPEN_KFID, "SYNC4")
    bench.clock.now += timedelta(minutes=10)
    assert await desk.check_waiting() == 1  # waiting again since "谢谢"
    fake.staff_says(user, "不客气", "WangWu")
    await channel.pull(OPEN_KFID, "SYNC5")
    bench.clock.now += timedelta(minutes=10)
    assert await desk.check_waiting() == 0  # a person answered: no more waiting alerts
    assert fake.sync_tokens[-1] == "SYNC5"  # each pull with its callback's token


async def wait_until(condition, timeout: float = WAIT) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


async def test_a_servicer_off_duty_sends_the_merchant_to_the_queue(kf):
    _, fake, channel, store, _, _ = kf
    channel.servicer = "LiSi"
    fake.off_duty.add("LiSi")
    user = "wmQueue"
    fake.enter(user)
    await channel.pull(OPEN_KFID, "SYNC1")
    fake.text(user, "/human")
    await channel.pull(OPEN_KFID, "SYNC2")
    await wait_until(lambda: fake.transfers)
    assert [t["service_state"] for t in fake.transfers] == [2]
    async with asyncio.timeout(WAIT):  # recorded right after WeCom's answer
        while (session := await store.session(user)).serving == "bot":
            await asyncio.sleep(0.05)
    assert (session.serving, session.servicer) == ("queue", None)
    (asked,) = await wait_robot(fake, 1)
    assert "有商家申请转人工" in asked
    # while a person serves, the bot writes nothing (WeCom would refuse it); a message that is
    # not a reminder has no staff alert to become: the sender says it was not delivered
    before = len(fake.kf_sent)
    with pytest.raises(DeliveryError, match="a person serves"):
        await channel.send(user, [Reply("hello")])
    assert len(fake.kf_sent) == before and fake.refused == []


async def test_an_operator_release_in_the_console_ends_the_kf_session(kf):
    bench, fake, channel, store, _, _ = kf
    desk = bench.service.desks["handoff"]
    user = "wmBack"
    fake.enter(user)
    await channel.pull(OPEN_KFID, "SYNC1")
    await bench.service.handle(CHANNEL, user, Choose("basic"))  # at the company question
    fake.text(user, "人工")
    await channel.pull(OPEN_KFID, "SYNC2")
    await wait_until(lambda: fake.transfers)
    (merchant,) = [w for w in await handoffs.waiting(bench.db) if w.user_key == user]
    records = await console.merchant(bench.db, merchant.merchant_id)
    assert await desk.release(records.merchant, "zhang") is True
    # WeCom ends the session (state 4): the bot may write once the merchant writes again
    assert [t["service_state"] for t in fake.transfers][-1] == 4
    assert (await store.session(user)).serving == "ended"
    assert await handoffs.waiting(bench.db) == [] and fake.refused == []
    shown = len(fake.shown(user))
    fake.text(user, "宁波海岸贸易有限公司")
    await channel.pull(OPEN_KFID, "SYNC3")
    assert "营业执照" in "\n".join(fake.shown(user)[shown:])  # the next question, at once
    assert (await store.session(user)).serving == "bot"
