"""Milestones from the conversation, and the reminder rows kept in step with them.

Runs inside the transaction of the merchant's event (the after-turn hook and the ``rem:``
choices) or of the worker's yearly refresh. Reminders are keyed ``kind:subject:anchor:lead``
per merchant: a key is created once and never again, so a reminder the merchant cancelled,
answered or already received is not scheduled a second time; one whose facts changed becomes
``obsolete``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.engine.model import State
from bot.engine.validators import parse_date_value
from bot.reminders.plan import (
    CERTIFICATIONS,
    INSPECTION,
    LICENSE,
    LONG_TERM,
    PASSED,
    UNDER_REVIEW,
    Facts,
    nearest_anniversary,
    plan,
    review_on,
    still_valid,
)
from bot.reminders.timing import Timing, to_local
from bot.store.models import Certification, Merchant, Milestone, Reminder

log = logging.getLogger(__name__)

# Answer keys the flows fill (dialogs/status.yaml, renewal.yaml, factory.yaml).
STATUS_CERT = "status_cert"  # which certification the status report is about
SUBMITTED_DATE = "status_submitted_date"  # one-shot: consumed when the status is recorded
PASSED_DATE = "status_passed_date"  # one-shot, likewise
RENEWAL_DONE = "renewal_done"  # one-shot: what was renewed (a key of RENEWAL_SUBJECTS)
LICENSE_END_DATE = "license_end_date"
INSPECTION_DATE = "inspection_date"
RENEWAL_SUBJECTS = {
    "enterprise": ("basic", "factory", "trade"),
    "strength_merchant": ("strength_merchant",),
    "both": CERTIFICATIONS,
}

PENDING, CLAIMED, SENT = "pending", "claimed", "sent"
DONE, CANCELLED, OBSOLETE, FAILED = "done", "cancelled", "obsolete", "failed"
UPCOMING = (PENDING, CLAIMED)


def as_facts(m: Milestone) -> Facts:
    return Facts(m.subject, m.status, m.submitted_on, m.passed_on, m.renewed_through, m.due_on)


def _date(value: Any) -> date | None:
    """A stored date answer; ``None`` for long-term or anything unreadable."""
    if not isinstance(value, str):
        return None
    try:
        return parse_date_value(value)
    except ValueError:
        return None


async def milestones(session: AsyncSession, merchant_id: int) -> dict[str, Milestone]:
    rows = await session.scalars(select(Milestone).where(Milestone.merchant_id == merchant_id))
    return {m.subject: m for m in rows}


class _Stones:
    def __init__(self, session: AsyncSession, merchant_id: int, found: dict[str, Milestone],
                 now: datetime) -> None:
        self.session, self.merchant_id, self.found, self.now = session, merchant_id, found, now
        self.changed = False

    def get(self, subject: str) -> Milestone:
        stone = self.found.get(subject)
        if stone is None:
            stone = Milestone(merchant_id=self.merchant_id, subject=subject, updated_at=self.now)
            self.session.add(stone)
            self.found[subject] = stone
        return stone

    def set(self, stone: Milestone, **values: Any) -> None:
        for name, value in values.items():
            if getattr(stone, name) != value:
                setattr(stone, name, value)
                stone.updated_at = self.now
                self.changed = True


async def record_turn(session: AsyncSession, merchant: Merchant, state: State, now: datetime,
                      today: date) -> bool:
    """Copy what this turn told us into the milestones; True when any changed.

    A certification whose status was recorded in this turn (``updated_at == now``) takes the
    date the merchant just gave (submission or pass; one-shot answers, consumed here) or, when
    the status changed without one, today. The license end date and the inspection date follow
    their answers whenever they change; a confirmed renewal closes the current cycle.
    """
    stones = _Stones(session, merchant.id, await milestones(session, merchant.id), now)
    answers = state.answers
    submitted = _date(answers.pop(SUBMITTED_DATE, None))
    passed = _date(answers.pop(PASSED_DATE, None))
    reported = await session.scalars(select(Certification).where(
        Certification.merchant_id == merchant.id, Certification.updated_at == now))
    for cert in reported:
        dated = cert.kind == answers.get(STATUS_CERT) and (submitted or passed)
        known = stones.found.get(cert.kind)
        if not dated and known is not None and known.status == cert.status:
            continue  # recorded already (an earlier event of the same instant)
        stone = stones.get(cert.kind)
        stones.set(stone, status=cert.status)
        if cert.status in UNDER_REVIEW:
            stones.set(stone, submitted_on=submitted or today)
        elif cert.status == PASSED:
            day = passed or today
            if stone.passed_on != day:
                stones.set(stone, passed_on=day, renewed_through=None)
        elif cert.status == "rejected":
            stones.set(stone, rejected_on=today)
    end = answers.get(LICENSE_END_DATE)
    if isinstance(end, str):
        due = _date(end)
        stones.set(stones.get(LICENSE), due_on=due,
                   status=LONG_TERM if end == "long_term" else ("valid" if due else None))
    visit = answers.get(INSPECTION_DATE)
    if isinstance(visit, str):
        stones.set(stones.get(INSPECTION), due_on=_date(visit))
    done = answers.pop(RENEWAL_DONE, None)
    if done in RENEWAL_SUBJECTS:
        for subject in RENEWAL_SUBJECTS[done]:
            if subject in stones.found:
                mark_renewed(stones, stones.found[subject], today)
    return stones.changed


def mark_renewed(stones: _Stones, stone: Milestone, today: date,
                 anniversary: date | None = None) -> None:
    """The merchant renewed: the cycle of ``anniversary`` (default: the one nearest today) is
    closed, and the next year's reminders follow."""
    if stone.status != PASSED or stone.passed_on is None:
        return
    cycle = anniversary or nearest_anniversary(stone.passed_on, today)
    if stone.renewed_through is None or cycle > stone.renewed_through:
        stones.set(stone, renewed_through=cycle)


async def renewed(session: AsyncSession, merchant_id: int, subject: str, anniversary: date,
                  now: datetime) -> None:
    stones = _Stones(session, merchant_id, await milestones(session, merchant_id), now)
    if subject in stones.found:
        mark_renewed(stones, stones.found[subject], anniversary, anniversary)


async def sync(session: AsyncSession, merchant: Merchant, now: datetime, timing: Timing,
               figures: Mapping[str, Any]) -> list[Reminder]:
    """Create the reminders the milestones call for (those still ahead), retire the pending
    ones they no longer call for, and note when to look again. Returns the new ones."""
    await session.flush()  # new milestones get their ids; autoflush would do it mid-query
    stones = await milestones(session, merchant.id)
    facts = {subject: as_facts(m) for subject, m in stones.items()}
    today = to_local(now, timing.zone(merchant.timezone)).date()
    existing = {
        r.key: r for r in await session.scalars(
            select(Reminder).where(Reminder.merchant_id == merchant.id))
    }
    created: list[Reminder] = []
    for planned in plan(facts.values(), today, figures):
        if planned.key in existing:
            continue
        due = timing.at(planned.on, merchant.timezone, merchant.id)
        if due <= now:
            continue  # its day has gone by: the next reminder of the cycle will do
        reminder = Reminder(
            merchant_id=merchant.id, key=planned.key, kind=planned.kind,
            subject=planned.subject, anchor=planned.anchor, lead_days=planned.lead,
            status=PENDING, due_at=due, next_at=due, attempts=0, created_at=now,
            updated_at=now,
        )
        session.add(reminder)
        existing[planned.key] = reminder
        created.append(reminder)
    for reminder in existing.values():
        if reminder.status == PENDING and not still_valid(
                reminder.kind, reminder.anchor, reminder.lead_days,
                facts.get(reminder.subject), figures):
            reminder.status, reminder.updated_at = OBSOLETE, now
    for subject, stone in stones.items():
        again = review_on(facts[subject], today)
        if stone.review_on != again:
            stone.review_on = again
    if created:
        log.info("merchant %d: %d reminder(s) scheduled", merchant.id, len(created))
    return created
