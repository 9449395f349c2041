"""Handoff to a person, from every channel: a service plugin.

A merchant who types 转人工, 人工, "human" or /human is told that a person will answer (with the
team's hours), the staff are alerted through the listeners (``add_listener``; the WeCom group
robot is one), and until an operator releases them, everything the merchant sends goes to the
transcript and the console's inbox instead of the guide (the service's own commands such as
/delete still work). The operator's reply goes out through the merchant's own channel's
``Sender``; release returns them to the guide at the question they were at. A merchant left
waiting longer than ``realert_after`` alerts the staff again.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.engine.messages import Msg
from bot.engine.model import Event, Reply, Text, Upload
from bot.places import place
from bot.service import Handler, Service, Turn
from bot.store import console as store
from bot.store import handoffs
from bot.store.models import Merchant
from bot.teamtime import TeamTime

log = logging.getLogger(__name__)

TRIGGERS = frozenset({"转人工", "人工", "人工客服", "human", "/human", "person"})
OPEN_TTL = 2.0  # seconds the set of handed-over merchants is trusted before it is read again
AUTHOR_PREFIX = "operator:"


def asks_for_person(text: str) -> bool:
    """Whether a merchant's text asks for a person (the same words on every channel)."""
    return text.strip().rstrip(".。!！").casefold() in TRIGGERS


class Sender(Protocol):
    async def send(self, user_key: str, replies: list[Reply]) -> None: ...


@dataclass(frozen=True)
class Alert:
    """What staff are told: a merchant waits for a person (``repeated``: still waiting)."""

    merchant_id: int
    channel: str
    company: str
    waiting_since: datetime
    repeated: bool
    link: str | None  # the merchant's page in the console, when its address is known
    markdown: str  # ready for a group robot, in the team's language
    flow: str = ""  # where the merchant is, by name in the team's language ("": main menu)
    step: str = ""


Listener = Callable[[Alert], Awaitable[None] | None]
# A channel's own side of a release (WeCom 微信客服 ends the session it handed to staff).
Releaser = Callable[[str], Awaitable[None]]


class NoChannel(Exception):
    """The merchant's channel is not running in this process: nothing can reach them."""


def reply_json(reply: Reply) -> dict[str, Any]:
    return {"text": reply.text, "choices": [{"id": c.id, "label": c.label} for c in reply.choices],
            "document": {"name": reply.document.name} if reply.document else None}


class Handoffs:
    def __init__(self, service: Service, *, hours: str, realert_after: timedelta,
                 senders: Mapping[str, Sender] | None = None, console_url: str | None = None,
                 team_locale: str = "zh_CN") -> None:
        self.service = service
        self.hours = hours
        self.realert_after = realert_after
        self.senders: Mapping[str, Sender] = senders if senders is not None else {}
        self.console_url = console_url.rstrip("/") if console_url else None
        self.team_locale = team_locale
        self._listeners: list[Listener] = []
        self._releasers: dict[str, Releaser] = {}
        self._tasks: set[asyncio.Task] = set()
        self._open: set[int] | None = None
        self._open_read = 0.0
        self._reading: asyncio.Future | None = None

    def add_listener(self, listener: Listener) -> None:
        """``listener(alert)``, plain or async, is called for every alert; its failure is
        logged and stops nothing."""
        self._listeners.append(listener)

    def add_releaser(self, channel: str, releaser: Releaser) -> None:
        """``releaser(user_key)`` runs first when an operator releases a merchant of
        ``channel`` in the console (not when the channel itself gave the merchant back)."""
        self._releasers[channel] = releaser

    # -- in the merchant's turn ------------------------------------------------------------
    async def route(self, merchant_id: int | None, event: Event) -> Handler | None:
        if isinstance(event, Text) and asks_for_person(event.text):
            return self.ask
        if merchant_id is not None and merchant_id in await self._open_ids():
            return self.hold
        return None

    async def _open_ids(self) -> set[int]:
        """Who is handed over, read again at most every OPEN_TTL seconds (a release by
        another worker is seen within that) so that a turn does not pay a query. One read at
        a time: the turns that find the set stale together wait for the same read."""
        now = time.monotonic()
        if self._open is None or now - self._open_read > OPEN_TTL:
            if self._reading is None:
                self._reading = asyncio.ensure_future(self._read_open(now))
            await asyncio.shield(self._reading)
        return self._open

    async def _read_open(self, now: float) -> None:
        try:
            self._open = await self.service.reader.run(handoffs.open_ids)
            self._open_read = now
        finally:
            self._reading = None

    async def ask(self, turn: Turn) -> list[Reply]:
        turn.repeat = False
        opened = await handoffs.open_or_touch(turn.session, turn.merchant.id, turn.now)
        if self._open is not None:
            self._open.add(turn.merchant.id)
        if opened:
            where = {"flow": turn.state.flow, "step": turn.state.step,
                     "answers": turn.state.answers}
            self._later(self._alert(turn.merchant.id, turn.merchant.channel, where, turn.now,
                                    repeated=False))
        t = self.service.guide.render.text
        return [Reply(t(turn.state.locale, Msg(
            "A person from our team will answer you here. Team hours: {hours}. Until then "
            "your messages go to them.", hours=self.hours)))]

    async def hold(self, turn: Turn) -> list[Reply]:
        """A message while handed over: it waits in the inbox; the guide stays silent."""
        turn.repeat = False
        await handoffs.open_or_touch(turn.session, turn.merchant.id, turn.now)
        if isinstance(turn.event, Upload):  # not filed: say so rather than drop it silently
            return [Reply(self.service.guide.render.text(turn.state.locale, Msg(
                "A person from our team is answering you now, so this file was not filed. "
                "Send it again once they hand you back to the guide.")))]
        return []

    # -- the operator's side ---------------------------------------------------------------
    async def reply(self, merchant: Merchant, operator: str, text: str) -> None:
        """Send ``text`` to the merchant through their channel; record it in the transcript."""
        sender = self.senders.get(merchant.channel)
        if sender is None:
            raise NoChannel(merchant.channel)
        reply = Reply(text)
        await sender.send(merchant.user_key, [reply])
        now = self.service.clock()
        state = merchant.state or {}
        await store.add_turn(self.service.db, merchant.id, merchant.channel,
                             replies=[reply_json(reply)], author=AUTHOR_PREFIX + operator,
                             flow=state.get("flow"), step=state.get("step"), now=now,
                             sent_at=now)
        await handoffs.answered(self.service.db, merchant.id, now)

    async def taken(self, channel: str, user_key: str) -> bool:
        """A person took the merchant over inside their channel (staff in WeCom): the handoff
        is opened (staff alerted) unless it is open already. True when it was opened."""
        now = self.service.clock()
        merchant = await handoffs.find(self.service.db, channel, user_key)
        if merchant is None or not await handoffs.open_now(self.service.db, merchant.id, now):
            return False
        if self._open is not None:
            self._open.add(merchant.id)
        await self._alert(merchant.id, channel, merchant.state or {}, now, repeated=False)
        return True

    async def answered_in_channel(self, channel: str, user_key: str, person: str,
                                  text: str) -> None:
        """A person answered the merchant inside their channel (staff in WeCom): the
        transcript shows it and the wait is over (no more alerts)."""
        merchant = await handoffs.find(self.service.db, channel, user_key)
        if merchant is None:
            return
        now = self.service.clock()
        state = merchant.state or {}
        await store.add_turn(self.service.db, merchant.id, channel,
                             replies=[reply_json(Reply(text))], author=AUTHOR_PREFIX + person,
                             flow=state.get("flow"), step=state.get("step"), now=now,
                             sent_at=now)
        await handoffs.answered(self.service.db, merchant.id, now)

    async def returned(self, channel: str, user_key: str, by: str) -> bool:
        """The channel gave the merchant back to the bot (a person ended the session there):
        released as by an operator, without asking the channel again."""
        merchant = await handoffs.find(self.service.db, channel, user_key)
        if merchant is None or await handoffs.current_of(self.service.db, merchant.id) is None:
            return False
        return await self.release(merchant, by, in_channel=True)

    async def release(self, merchant: Merchant, operator: str, *,
                      in_channel: bool = False) -> bool:
        """Back to the guide at the current question, which the merchant is sent again."""
        releaser = None if in_channel else self._releasers.get(merchant.channel)
        if releaser is not None:
            try:  # e.g. WeCom ends the kf session, so the bot may write to the merchant again
                await releaser(merchant.user_key)
            except Exception as exc:  # noqa: BLE001  released here all the same
                log.warning("release: the channel could not take the merchant back: %r", exc)
        now = self.service.clock()
        closed = await handoffs.close(self.service.db, merchant.id, operator, now)
        if self._open is not None:
            self._open.discard(merchant.id)
        result = await self.service.notice(merchant.channel, merchant.user_key, Msg(
            "You are back with the guide. Type 转人工 or /human to reach a person again."))
        sender = self.senders.get(merchant.channel)
        sent_at = None
        if sender is not None:
            try:
                await sender.send(merchant.user_key, result.replies)
                sent_at = self.service.clock()
            except Exception as exc:  # noqa: BLE001  released all the same: the next message resumes
                log.warning("release: the question could not be sent: %r", exc)
        state = merchant.state or {}
        await store.add_turn(self.service.db, merchant.id, merchant.channel,
                             replies=[reply_json(r) for r in result.replies], now=now,
                             flow=state.get("flow"), step=state.get("step"), sent_at=sent_at)
        return closed

    # -- alerts ----------------------------------------------------------------------------
    async def check_waiting(self) -> int:
        """Alert again for every merchant still waiting longer than ``realert_after``."""
        now = self.service.clock()
        due = await handoffs.due_alerts(self.service.db, now, now - self.realert_after)
        for merchant_id in due:
            records = await store.merchant(self.service.db, merchant_id)
            if records is None or records.waiting_since is None:
                continue
            m = records.merchant
            await self._alert(m.id, m.channel, m.state or {}, records.waiting_since,
                              repeated=True)
        return len(due)

    async def watch(self, poll: float = 60.0) -> None:
        """``check_waiting`` every ``poll`` seconds, until cancelled."""
        while True:
            try:
                await self.check_waiting()
            except Exception:  # a database hiccup must not end the watch
                log.exception("handoff: checking waiting merchants failed")
            await asyncio.sleep(poll)

    async def _alert(self, merchant_id: int, channel: str, state: Mapping[str, Any],
                     since: datetime, *, repeated: bool) -> None:
        """``state``: the merchant's (``flow``, ``step``, ``answers``), as stored."""
        answers = state.get("answers") or {}
        company = str(answers.get("company_name") or "") or f"#{merchant_id}"
        link = f"{self.console_url}/admin/merchants/{merchant_id}" if self.console_url else None
        guide, team = self.service.guide, self.team_locale
        t = guide.render.text
        flow, step = place(guide, team, state.get("flow"), state.get("step"))
        title = (Msg("Still waiting for a person") if repeated
                 else Msg("A merchant asks for a person"))
        clock = TeamTime(self.service.timezone)
        lines = [f"**{t(team, title)}**",
                 t(team, Msg("{company} ({channel}), waiting since {since} ({zone})",
                             company=company, channel=channel, since=clock.show(since),
                             zone=clock.label(since))),
                 t(team, Msg("At: {flow} › {step}", flow=flow, step=step) if flow and step
                   else Msg("At: {flow}", flow=flow) if flow else Msg("At: the main menu"))]
        if link:
            lines.append(f"[{t(team, Msg('Open in the console'))}]({link})")
        alert = Alert(merchant_id, channel, company, since, repeated, link, "\n".join(lines),
                      flow, step)
        for listener in self._listeners:
            try:
                outcome = listener(alert)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception:
                log.exception("handoff: an alert listener failed")

    def _later(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)


def installed(service: Service) -> Handoffs | None:
    desk = service.desks.get("handoff")
    return desk if isinstance(desk, Handoffs) else None


def install(service: Service, *, hours: str, realert_after: timedelta,
            senders: Mapping[str, Sender] | None = None, console_url: str | None = None,
            team_locale: str = "zh_CN") -> Handoffs:
    """Attach the handoff to ``service``: its words, the /human command, the routing of a
    handed-over merchant's messages."""
    desk = Handoffs(service, hours=hours, realert_after=realert_after, senders=senders,
                    console_url=console_url, team_locale=team_locale)
    service.routes.append(desk.route)
    service.desks["handoff"] = desk
    service.add_command("human", desk.ask, Msg("/human: talk to a person from our team"))
    return desk
