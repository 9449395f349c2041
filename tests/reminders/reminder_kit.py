"""Helpers for the reminder tests: a service with reminders installed on a clock the test
sets, a worker with fake senders, and local-time conversions."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.engine.model import Choose, Hello, Text
from bot.reminders.commands import install
from bot.reminders.delivery import FakeSender
from bot.reminders.timing import QuietHours, Timing
from bot.reminders.worker import Worker, WorkerConfig
from bot.service import Service
from bot.store.db import Database
from bot.store.files import FileStore
from bot.store.models import Merchant, Reminder

SHANGHAI = ZoneInfo("Asia/Shanghai")
TIMING = Timing(QuietHours(time(21), time(9)), time(10), "Asia/Shanghai")



def utc(local: str, tz: ZoneInfo = SHANGHAI) -> datetime:
    """A local wall time ("2027-01-09 10:30") as naive UTC."""
    return (datetime.fromisoformat(local).replace(tzinfo=tz).astimezone(UTC)
            .replace(tzinfo=None))


def local(moment: datetime, tz: ZoneInfo = SHANGHAI) -> datetime:
    return moment.replace(tzinfo=UTC).astimezone(tz).replace(tzinfo=None)


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, local_text: str) -> datetime:
        self.now = utc(local_text)
        return self.now


class Bench:
    """One database, one service with reminders installed, one worker."""

    def __init__(self, db: Database, guide, files, clock: Clock, **config) -> None:
        self.db = db
        self.clock = clock
        self.service = Service(guide, db, files, clock=clock)
        self.text_only: set[str] = {"w"}
        install(self.service, TIMING, buttons=lambda ch: ch not in self.text_only)
        self.telegram = FakeSender()
        self.plain = FakeSender(buttons=False)
        self.senders = {"t": self.telegram, "w": self.plain}
        self.worker = Worker(db, guide.render, self.senders,
                             WorkerConfig(timing=TIMING, **config))

    async def say(self, user: str, *events, channel: str = "t", lang: str | None = None):
        result = None
        for event in events:
            if isinstance(event, str):
                event = Choose(event)
            result = await self.service.handle(channel, user, event, language=lang)
        return result

    async def passed(self, user: str, cert: str, day: str, *, channel: str = "t",
                     lang: str = "en"):
        return await self.say(user, Hello(), "status", cert, "passed", Text(day),
                              channel=channel, lang=lang)

    async def submitted(self, user: str, cert: str, day: str, *, channel: str = "t",
                        lang: str = "en"):
        return await self.say(user, Hello(), "status", cert, "pending", Text(day),
                              channel=channel, lang=lang)

    async def reminders(self, user: str | None = None, **where) -> list[Reminder]:
        async with self.db.session() as session:
            query = select(Reminder).join(Merchant, Merchant.id == Reminder.merchant_id)
            if user is not None:
                query = query.where(Merchant.user_key == user)
            for name, value in where.items():
                query = query.where(getattr(Reminder, name) == value)
            return list(await session.scalars(query.order_by(Reminder.due_at, Reminder.id)))

    async def run(self, local_text: str) -> list[dict]:
        return await self.worker.run_once(self.clock.set(local_text))


async def open_bench(database_url, tmp_path, guide, **config) -> Bench:
    db = Database(database_url)
    await db.migrate()
    return Bench(db, guide, FileStore(tmp_path / "files"), Clock(utc("2026-04-01 12:00")),
                 **config)
