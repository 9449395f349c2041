"""Which reminders a merchant's milestones call for. Pure: dates in, dates out.

- a passed certification, and the Strength Merchant badge: 60, 30 and 7 days before each
  anniversary of the pass, one year at a time; a renewal the merchant confirms moves the cycle
  on to the next year (F-RENEW-1, F-RENEW-2);
- the business license: 60, 30 and 7 days before its end date (none when it is long-term);
- a submission under review: a follow-up once the typical review time has passed, counted in
  Chinese working days where the guide counts working days (F-BASIC-9, F-DEEP-10, F-SM-10);
- an on-site inspection: a reminder to book it ahead (F-DEEP-9), and one the day before.

The typical times come from ``dialogs/figures.yaml`` (the upper end of each range), so an
operator's correction there moves the follow-ups too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from bot.reminders.workdays import add_workdays

CERTIFICATIONS = ("basic", "factory", "trade", "strength_merchant")
LICENSE = "license"
INSPECTION = "inspection"
SUBJECTS = (*CERTIFICATIONS, LICENSE, INSPECTION)

RENEWAL = "renewal"
LICENSE_END = "license_end"
REVIEW = "review"
BOOK = "inspection_book"
EVE = "inspection_eve"
KINDS = (RENEWAL, LICENSE_END, REVIEW, BOOK, EVE)

RENEWAL_LEADS = (60, 30, 7)  # days before the anniversary (issue 5)
LICENSE_LEADS = (60, 30, 7)  # days before the license ends
UNDER_REVIEW = ("pending", "in_review")
PASSED = "passed"
LONG_TERM = "long_term"

# Per certification: the figure with its typical review time, and whether it counts working
# days (F-BASIC-9 says days; F-DEEP-10 and F-SM-10 say working days).
REVIEW_TIME: Mapping[str, tuple[str, bool]] = {
    "basic": ("basic_review_days", False),
    "factory": ("deep_review_workdays", True),
    "trade": ("deep_review_workdays", True),
    "strength_merchant": ("sm_review_workdays", True),
}
BOOK_AHEAD = "book_ahead_weeks"  # F-DEEP-9: book the visit 1-2 weeks ahead


@dataclass(frozen=True)
class Facts:
    """A milestone as the planner sees it."""

    subject: str
    status: str | None = None
    submitted_on: date | None = None
    passed_on: date | None = None
    renewed_through: date | None = None
    due_on: date | None = None


@dataclass(frozen=True)
class Planned:
    kind: str
    subject: str
    anchor: date  # the date the reminder is about
    lead: int  # days before the anchor (0: after it)
    on: date  # the local day to send it

    @property
    def key(self) -> str:
        return reminder_key(self.kind, self.subject, self.anchor, self.lead)


def reminder_key(kind: str, subject: str, anchor: date, lead: int) -> str:
    return f"{kind}:{subject}:{anchor.isoformat()}:{lead}"


def upper(figure: object) -> int | None:
    """The upper end of a typical range: ``"1–3"`` -> 3, ``"7"`` -> 7."""
    numbers = re.findall(r"\d+", str(figure or ""))
    return int(numbers[-1]) if numbers else None


def anniversary(start: date, years: int) -> date:
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February in a common year
        return start.replace(year=start.year + years, day=28)


def next_anniversary(passed_on: date, today: date, renewed_through: date | None) -> date:
    """The first anniversary on or after ``today`` that is not renewed yet."""
    years = max(today.year - passed_on.year - 1, 1)
    while True:
        day = anniversary(passed_on, years)
        if day >= today and (renewed_through is None or day > renewed_through):
            return day
        years += 1


def nearest_anniversary(passed_on: date, day: date) -> date:
    """The anniversary a renewal made on ``day`` belongs to: the closest one, before or after."""
    years = max(day.year - passed_on.year, 1)
    options = [anniversary(passed_on, y) for y in (years - 1, years, years + 1) if y >= 1]
    return min(options, key=lambda a: (abs((a - day).days), a))


def review_follow_up(subject: str, submitted_on: date, figures: Mapping[str, object]
                     ) -> date | None:
    """The day after the typical review time has passed: the follow-up's day."""
    figure, working = REVIEW_TIME.get(subject, (None, False))
    days = upper(figures.get(figure)) if figure else None
    if days is None:
        return None
    if working:
        return add_workdays(submitted_on, days + 1)
    return submitted_on + timedelta(days=days + 1)


def book_lead(figures: Mapping[str, object]) -> int:
    return 7 * (upper(figures.get(BOOK_AHEAD)) or 2)


def plan(facts: Iterable[Facts], today: date, figures: Mapping[str, object]) -> list[Planned]:
    """The reminders of the current cycle of every subject; past ones included (the caller
    skips what is already due)."""
    out: list[Planned] = []
    for f in facts:
        if f.subject in CERTIFICATIONS and f.status == PASSED and f.passed_on:
            anchor = next_anniversary(f.passed_on, today, f.renewed_through)
            out += [Planned(RENEWAL, f.subject, anchor, lead, anchor - timedelta(days=lead))
                    for lead in RENEWAL_LEADS]
        elif f.subject in CERTIFICATIONS and f.status in UNDER_REVIEW and f.submitted_on:
            day = review_follow_up(f.subject, f.submitted_on, figures)
            if day is not None:
                out.append(Planned(REVIEW, f.subject, f.submitted_on, 0, day))
        elif f.subject == LICENSE and f.due_on and f.status != LONG_TERM:
            out += [Planned(LICENSE_END, LICENSE, f.due_on, lead,
                            f.due_on - timedelta(days=lead)) for lead in LICENSE_LEADS]
        elif f.subject == INSPECTION and f.due_on:
            lead = book_lead(figures)
            out.append(Planned(BOOK, INSPECTION, f.due_on, lead,
                               f.due_on - timedelta(days=lead)))
            out.append(Planned(EVE, INSPECTION, f.due_on, 1, f.due_on - timedelta(days=1)))
    return out


def still_valid(kind: str, anchor: date, lead: int, f: Facts | None,
                figures: Mapping[str, object]) -> bool:
    """Whether a reminder still follows from the facts (else it is obsolete: the merchant
    changed a date, a review ended, a renewal was confirmed)."""
    if f is None:
        return False
    if kind == RENEWAL:
        return bool(
            f.status == PASSED and f.passed_on and lead in RENEWAL_LEADS
            and anchor in {anniversary(f.passed_on, anchor.year - f.passed_on.year)}
            and anchor > f.passed_on
            and (f.renewed_through is None or anchor > f.renewed_through)
        )
    if kind == REVIEW:
        return f.status in UNDER_REVIEW and f.submitted_on == anchor
    if kind == LICENSE_END:
        return f.status != LONG_TERM and f.due_on == anchor and lead in LICENSE_LEADS
    if kind == BOOK:
        return f.due_on == anchor and lead == book_lead(figures)
    if kind == EVE:
        return f.due_on == anchor
    return False


def review_on(f: Facts, today: date) -> date | None:
    """The day to derive the reminders again without a word from the merchant: after the
    current anniversary, the next year's cycle begins."""
    if f.subject in CERTIFICATIONS and f.status == PASSED and f.passed_on:
        return next_anniversary(f.passed_on, today, f.renewed_through) + timedelta(days=1)
    return None
