"""A console on loopback over a real service (the tiny guide, SQLite), its channel replaced by
a recording sender: what an operator sends arrives there as the merchant's channel would get it.
The service writes each turn to the transcript itself."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from bot.content import load_guide
from bot.engine.machine import Guide
from bot.engine.model import Choose, Event, Hello, Reply, Text, Upload
from bot.handoff import Alert, Handoffs, install, reply_json
from bot.service import Result, Service
from bot.store import console as store
from bot.store import staff
from bot.store.db import Database
from bot.store.files import FileStore
from bot.store.models import Merchant
from bot.web.admin.app import Console
from bot.web.admin.site import make_app
from bot.web.admin.passwords import hash_password

TINY = Path(__file__).parent.parent / "channels" / "tiny"
PASSWORD = "correct horse battery"
ID_NUMBER = "11010519491231002X"
START = datetime(2026, 11, 2, 8, 0)


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


class Recorder:
    """A channel's ``Sender``: keeps what it was asked to deliver."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[Reply]]] = []

    async def send(self, user_key: str, replies: list[Reply]) -> None:
        self.sent.append((user_key, replies))

    def texts(self, user_key: str) -> list[str]:
        return [r.text for user, replies in self.sent if user == user_key for r in replies]


@dataclass
class Site:
    service: Service
    desk: Handoffs
    console: Console
    client: TestClient
    clock: Clock
    sender: Recorder
    alerts: list[Alert] = field(default_factory=list)

    async def talk(self, user: str, event: Event | str, channel: str = "telegram") -> Result:
        """The merchant sends ``event``; the turn is recorded in the transcript."""
        if isinstance(event, str):
            event = Text(event)
        result = await self.service.handle(channel, user, event)
        await self.service.mark_sent(result.turn_id)  # the recording channel delivered it
        return result

    async def merchant(self, user: str, channel: str = "telegram") -> Merchant:
        from sqlalchemy import select

        async with self.service.db.session() as session:
            return await session.scalar(select(Merchant).where(
                Merchant.channel == channel, Merchant.user_key == user))

    async def start_form(self, user: str, company: str) -> None:
        """Into the tiny form: the company named, at the question of its kind."""
        await self.talk(user, Hello())
        await self.talk(user, Choose("form"))
        await self.talk(user, company)

    async def login(self, name: str, password: str = PASSWORD, *,
                    expect: int = 303) -> str:
        page = await self.client.get("/admin/login")
        token = csrf(await page.text())
        response = await self.client.post("/admin/login", data={
            "username": name, "password": password, "csrf_token": token},
            allow_redirects=False)
        assert response.status == expect, await response.text()
        return token

    async def page_csrf(self, path: str = "/admin/") -> str:
        response = await self.client.get(path)
        assert response.status == 200, await response.text()
        return csrf(await response.text())


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no csrf_token field"
    return found.group(1)


async def open_site(tmp_path: Path, database_url: str, *, secure: bool = False,
                    guide: Guide | None = None, timezone: str | None = None) -> Site:
    """The console over the tiny guide, or over ``guide`` (the real one: its review status)."""
    db = Database(database_url)
    await db.migrate()
    clock = Clock()
    guide = guide or load_guide(TINY / "dialogs", TINY / "locales")
    service = Service(guide, db, FileStore(tmp_path / "files"), default_locale="en",
                      clock=clock)
    sender = Recorder()
    desk = install(service, hours="Mon-Fri 09:00-18:00", realert_after=timedelta(minutes=15),
                   senders={"telegram": sender}, console_url="http://console.test",
                   team_locale="en")
    console = Console(service, desk, secure_cookie=secure, timezone=timezone)
    client = TestClient(TestServer(make_app(console)))
    await client.start_server()
    site = Site(service, desk, console, client, clock, sender)
    desk.add_listener(site.alerts.append)
    now = clock()
    await staff.add_user(db, "olga", "operator", hash_password(PASSWORD), now)
    await staff.add_user(db, "adam", "admin", hash_password(PASSWORD), now)
    return site


async def close_site(site: Site) -> None:
    await site.client.close()
    await site.desk.close()
    await site.service.db.close()
