"""Times of day in settings: ``09:00`` and quiet hours ``21:00-09:00``. Parsed here, below
both the settings (which check them) and the reminders (which use them)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")
OFF = frozenset({"", "off", "none", "no"})


def parse_clock(text: str) -> time:
    match = _CLOCK.match(text)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"expected a time of day like 09:00, got {text!r}")
    return time(int(match[1]), int(match[2]))


@dataclass(frozen=True)
class QuietHours:
    """A nightly window without messages; ``start`` > ``end`` wraps past midnight."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours | None:
        """``"21:00-09:00"``; empty or ``off``: no quiet hours."""
        if text.strip().lower() in OFF:
            return None
        start, sep, end = text.partition("-")
        if not sep:
            raise ValueError(f"expected quiet hours like 21:00-09:00, got {text!r}")
        quiet = cls(parse_clock(start), parse_clock(end))
        return None if quiet.start == quiet.end else quiet

    def contains(self, moment: time) -> bool:
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def end_after(self, local: datetime) -> datetime:
        """The end of the quiet window ``local`` falls in."""
        day = local.date()
        if self.start > self.end and local.time() >= self.start:
            day += timedelta(days=1)
        return datetime.combine(day, self.end)
