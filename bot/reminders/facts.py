"""Milestones from the conversation, and the reminder rows kept in step with them.

Runs inside the transaction of the merchant's turn (the on-turn write, only when the turn
reported something, and the ``rem:`` choices) or of the worker's yearly refresh. Reminders are keyed ``kind:subject:anchor:lead``
per merchant: a key is created once and never again, so a reminder the merchant cancelled,
answered or already received is not scheduled a second time; one whose facts changed becomes
``obsolete``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.engine.model import Effect, RecordCertification, State
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
from bot.store import reminders as R
from bot.store.models import Merchant, Milestone, Reminder
from bot.store.reminders import (  # noqa: F401 - the statuses, named here for callers
    CANCELLED,
    CLAIMED,
    DONE,
    FAILED,
    OBSOLETE,
    PENDING,
    SENT,
    UPCOMING,
)

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


milestones = R.milestones


@dataclass(frozen=True)
class Report:
    """What one turn told us that reminders depend on, taken from the states before and after
    and the turn's effects (pure: no database)."""

    certifications: tuple[tuple[str, str], ...] = ()  # (kind, status) recorded this turn
    submitted: date | None = None
    passed: date | None = None
    renewal_done: Any = None
    license_end: Any = None  # the answers, when they changed
    inspection: Any = None

    def __bool__(self) -> bool:
        return any((self.certifications, self.submitted, self.passed, self.renewal_done,
                    self.license_end is not None, self.inspection is not None))


NOTHING = Report()


def report(before: State, after: State, effects: list[Effect]) -> Report:
    """Consume the one-shot answers of ``after`` and say what changed."""
    answers, earlier = after.answers, before.answers
    if (not effects and SUBMITTED_DATE not in answers and PASSED_DATE not in answers
            and RENEWAL_DONE not in answers
            and answers.get(LICENSE_END_DATE) == earlier.get(LICENSE_END_DATE)
            and answers.get(INSPECTION_DATE) == earlier.get(INSPECTION_DATE)):
        return NOTHING  # most turns: nothing reminders depend on
    submitted = _date(answers.pop(SUBMITTED_DATE, None))
    passed = _date(answers.pop(PASSED_DATE, None))
    done = answers.pop(RENEWAL_DONE, None)
    end, visit = answers.get(LICENSE_END_DATE), answers.get(INSPECTION_DATE)
    return Report(
        tuple((e.kind, e.status) for e in effects if isinstance(e, RecordCertification)),
        submitted, passed, done if done in RENEWAL_SUBJECTS else None,
        end if isinstance(end, str) and end != before.answers.get(LICENSE_END_DATE) else None,
        visit if isinstance(visit, str) and visit != before.answers.get(INSPECTION_DATE)
        else None,
    )


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


async def record_turn(session: AsyncSession, merchant: Merchant, state: State, got: Report,
                      now: datetime, today: date) -> bool:
    """Copy what this turn told us into the milestones; True when any changed.

    A certification whose status was recorded in this turn takes the date the merchant just
    gave (submission or pass) or, when the status changed without one, today. The license end
    date and the inspection date follow their answers when they change; a confirmed renewal
    closes the current cycle.
    """
    stones = _Stones(session, merchant.id, await milestones(session, merchant.id), now)
    submitted, passed = got.submitted, got.passed
    for kind, status in got.certifications:
        dated = kind == state.answers.get(STATUS_CERT) and (submitted or passed)
        known = stones.found.get(kind)
        if not dated and known is not None and known.status == status:
            continue  # recorded already
        stone = stones.get(kind)
        stones.set(stone, status=status)
        if status in UNDER_REVIEW:
            stones.set(stone, submitted_on=submitted or today)
        elif status == PASSED:
            day = passed or today
            if stone.passed_on != day:
                stones.set(stone, passed_on=day, renewed_through=None)
        elif status == "rejected":
            stones.set(stone, rejected_on=today)
    end = got.license_end
    if end is not None:
        due = _date(end)
        stones.set(stones.get(LICENSE), due_on=due,
                   status=LONG_TERM if end == "long_term" else ("valid" if due else None))
    if got.inspection is not None:
        stones.set(stones.get(INSPECTION), due_on=_date(got.inspection))
    if got.renewal_done in RENEWAL_SUBJECTS:
        for subject in RENEWAL_SUBJECTS[got.renewal_done]:
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
    existing = await R.of_merchant(session, merchant.id)
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
