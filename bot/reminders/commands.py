"""The merchant's side: ``/reminders`` (list, cancel, snooze), the ``rem:`` choices of a sent
reminder (done, snooze a day or a week, update the status), and the after-turn hook that turns
answers into milestones and reminders (only in a turn that reported something). Everything
runs inside the turn's transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from bot.engine.messages import Msg
from bot.engine.model import Choice, Reply
from bot.plugins import Change, Command, Handler, Plugin, Turn, Write
from bot.reminders import facts as F
from bot.reminders.plan import RENEWAL, REVIEW
from bot.reminders.texts import (
    CANCEL,
    DONE,
    OPEN,
    PREFIX,
    SNOOZE_DAY,
    SNOOZE_WEEK,
    STATUS,
    Texts,
    choice_id,
)
from bot.reminders.timing import Timing, to_local
from bot.service import Service
from bot.store import reminders as R
from bot.store.models import Reminder

LISTED = 10
SNOOZE = {SNOOZE_DAY: timedelta(days=1), SNOOZE_WEEK: timedelta(days=7)}
# Typed forms, for channels without buttons: "/reminders snooze 2 week", "/reminders 推迟 2 周".
VERBS = {
    **dict.fromkeys(("done", "ok", "完成", "已完成", "办好了", "好了"), DONE),
    **dict.fromkeys(("snooze", "later", "推迟", "延后", "稍后"), SNOOZE_DAY),
    **dict.fromkeys(("cancel", "delete", "取消", "删除"), CANCEL),
}
WEEK_WORDS = {"week", "weeks", "w", "周", "一周", "1周", "星期", "一星期", "下周"}
DAY_WORDS = {"day", "d", "tomorrow", "天", "一天", "1天", "明天"}
_TOKEN = re.compile(r"\d+|[^\d\s]+")
INACTIVE = Msg("That reminder is no longer active. Type /reminders to see what is coming.")
HELP_LINE = Msg("/reminders: what I will remind you of; snooze or cancel a reminder")


class Reminders(Plugin):
    """Installed on the service by ``install``; ``buttons(channel)`` says whether a channel
    shows choices as buttons (else typed commands are offered)."""

    def __init__(self, service: Service, timing: Timing,
                 buttons: Callable[[str], bool] = lambda channel: True) -> None:
        self.service = service
        self.timing = timing
        self.buttons = buttons

    @property
    def figures(self) -> dict[str, Any]:
        return self.service.guide.render.figures

    def texts(self, turn: Turn) -> Texts:
        return Texts(self.service.guide.render, turn.state.locale)

    def local(self, turn: Turn, utc: datetime) -> datetime:
        return to_local(utc, self.timing.zone(turn.merchant.timezone))

    def today(self, turn: Turn):
        return self.local(turn, turn.now).date()

    # -- the plugin -------------------------------------------------------------------------
    def commands(self) -> Mapping[str, Command]:
        return {"reminders": Command(self.command, HELP_LINE)}

    def choices(self) -> Mapping[str, Handler]:
        return {PREFIX: self.choice}

    def on_turn(self, change: Change) -> Write | None:
        """Milestones follow what the turn reported; most turns report nothing and write
        nothing here."""
        got = F.report(change.before, change.after, change.effects)
        if not got:
            return None

        async def write(turn: Turn) -> None:
            if await F.record_turn(turn.session, turn.merchant, turn.state, got, turn.now,
                                   self.today(turn)):
                await F.sync(turn.session, turn.merchant, turn.now, self.timing, self.figures)

        return write

    # -- /reminders ------------------------------------------------------------------------
    async def upcoming(self, turn: Turn) -> list[Reminder]:
        return await R.upcoming(turn.session, turn.merchant.id, LISTED)

    async def last_sent(self, turn: Turn) -> Reminder | None:
        return await R.last_sent(turn.session, turn.merchant.id)

    async def command(self, turn: Turn) -> list[Reply]:
        tokens = [t.casefold() for t in _TOKEN.findall(turn.arg)]
        action = next((VERBS[t] for t in tokens if t in VERBS), None)
        if action is None:
            return await self.listing(turn)
        if action == SNOOZE_DAY and any(t in WEEK_WORDS for t in tokens):
            action = SNOOZE_WEEK
        number = next((int(t) for t in tokens if t.isdigit()), None)
        if number is not None:
            listed = await self.upcoming(turn)
            if not 1 <= number <= len(listed):
                text = self.texts(turn).t(Msg(
                    "There is no reminder number {number}. Type /reminders to see the list.",
                    number=number))
                return [Reply(text)]
            reminder = listed[number - 1]
        else:
            reminder = await self.last_sent(turn)
            if reminder is None:
                text = self.texts(turn).t(Msg(
                    "Which one? Type /reminders to see the list, then for example "
                    "/reminders cancel 2."))
                return [Reply(text)]
        return await self.act(turn, reminder, action)

    async def listing(self, turn: Turn) -> list[Reply]:
        texts = self.texts(turn)
        listed = await self.upcoming(turn)
        if not listed:
            return [Reply(texts.t(Msg(
                "No reminders are planned. I set them when you tell me that a certification "
                "passed or was submitted (main menu › Review status), your business license's "
                "end date (main menu › Renewal) or the date of an on-site inspection (main "
                "menu › Factory certification).")))]
        lines = [texts.t(Msg("Coming reminders:"))]
        choices = []
        for number, r in enumerate(listed, 1):
            title = texts.title(r.kind, r.subject, r.anchor, r.lead_days)
            lines.append(f"{number}. {texts.moment(self.local(turn, r.due_at))} · {title}")
            choices.append(Choice(choice_id(r.id, OPEN), f"{number}. {title}"))
        buttons = self.buttons(turn.merchant.channel)
        lines.append(texts.t(
            Msg("Choose one to snooze or cancel it.") if buttons else
            Msg("To change one, reply for example /reminders cancel 2, /reminders snooze 2 "
                "or /reminders snooze 2 week.")))
        return [Reply("\n".join(lines[:-1]) + "\n\n" + lines[-1],
                      tuple(choices) if buttons else ())]

    # -- rem:<id>:<action> -----------------------------------------------------------------
    async def choice(self, turn: Turn) -> list[Reply]:
        ident, _, action = turn.arg.partition(":")
        reminder = None
        if ident.isdigit():
            reminder = await R.one(turn.session, turn.merchant.id, int(ident))
        if reminder is None:
            return [Reply(self.texts(turn).t(INACTIVE))]
        return await self.act(turn, reminder, action)

    async def act(self, turn: Turn, reminder: Reminder, action: str) -> list[Reply]:
        texts = self.texts(turn)
        if reminder.status not in (*F.UPCOMING, F.SENT, F.FAILED):
            return [Reply(texts.t(INACTIVE))]
        title = texts.title(reminder.kind, reminder.subject, reminder.anchor,
                            reminder.lead_days)
        if action == OPEN:
            return [texts.reply(reminder.id, reminder.kind, reminder.subject, reminder.anchor,
                                self.today(turn), listed=True,
                                buttons=self.buttons(turn.merchant.channel))]
        if action in SNOOZE:
            # a sent reminder comes back a day or a week from now; a coming one, that much later
            base = max(turn.now, reminder.due_at) if reminder.status in F.UPCOMING else turn.now
            due = self.timing.settle(base + SNOOZE[action], turn.merchant.timezone,
                                     turn.merchant.id)
            self._reopen(reminder, due, turn.now)
            return [Reply(texts.t(Msg("OK, I will remind you again on {when}: {title}",
                                      when=texts.moment(self.local(turn, due)),
                                      title=title)))]
        if action == CANCEL:
            reminder.status, reminder.updated_at = F.CANCELLED, turn.now
            return [Reply(texts.t(Msg("Cancelled: {title}. I will not send it.",
                                      title=title)))]
        if action == DONE:
            return await self._done(turn, reminder, texts)
        if action == STATUS and reminder.kind == REVIEW:
            return self._to_status(turn, reminder)
        return [Reply(texts.t(INACTIVE))]

    def _reopen(self, reminder: Reminder, due: datetime, now: datetime) -> None:
        reminder.status = F.PENDING
        reminder.due_at = reminder.next_at = due
        reminder.attempts = 0
        reminder.claim_token = reminder.claimed_until = None
        reminder.last_error = None
        reminder.updated_at = now

    async def _done(self, turn: Turn, reminder: Reminder, texts: Texts) -> list[Reply]:
        """Done closes the reminder's whole cycle (its 60/30/7-day siblings too); a renewal
        also moves on to next year."""
        session = turn.session
        for r in await R.cycle(session, turn.merchant.id, reminder.kind, reminder.subject,
                               reminder.anchor):
            r.status, r.updated_at = F.DONE, turn.now
        if reminder.kind != RENEWAL:
            return [Reply(texts.t(Msg("Noted, done: {title}.", title=texts.title(
                reminder.kind, reminder.subject, reminder.anchor, reminder.lead_days))))]
        await F.renewed(session, turn.merchant.id, reminder.subject, reminder.anchor, turn.now)
        created = await F.sync(session, turn.merchant, turn.now, self.timing, self.figures)
        first = min((r.due_at for r in created if r.subject == reminder.subject), default=None)
        if first is None:
            return [Reply(texts.t(Msg("Noted: renewal done for {item}.",
                                      item=texts.item(reminder.subject))))]
        return [Reply(texts.t(Msg(
            "Noted: renewal done for {item}. Next year's reminders are set; the first comes "
            "on {when}.", item=texts.item(reminder.subject),
            when=texts.moment(self.local(turn, first)))))]

    def _to_status(self, turn: Turn, reminder: Reminder) -> list[Reply]:
        """Open the review status flow at its status question, for this certification."""
        flow = self.service.guide.flows.get("status")
        if flow is None or "value" not in flow.steps:
            return [Reply(self.texts(turn).t(INACTIVE))]
        reminder.status, reminder.updated_at = F.DONE, turn.now
        turn.state.answers["status_cert"] = reminder.subject
        turn.state.flow, turn.state.step = "status", "value"
        turn.state.stack, turn.state.pending = ["status.cert"], {}
        return []


def install(service: Service, timing: Timing,
            buttons: Callable[[str], bool] = lambda channel: True) -> Reminders:
    reminders = Reminders(service, timing, buttons)
    service.install(reminders)
    return reminders
