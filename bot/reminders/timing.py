"""When a reminder goes out: the merchant's local time, quiet hours, no round minutes, backoff.

Times in the database are naive UTC, as everywhere in the store; dates the merchant gave are
local calendar dates in the merchant's timezone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.timeofday import OFF, QuietHours, parse_clock  # noqa: F401 - named here for callers

SPREAD_MINUTES = 28  # merchants' sends spread over minutes 1..28 after the hour
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=6)


def zone(name: str | None, fallback: str = "Asia/Shanghai") -> ZoneInfo:
    try:
        return ZoneInfo(name or fallback)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(fallback)


def to_local(utc: datetime, tz: ZoneInfo) -> datetime:
    """Naive UTC -> naive local wall time."""
    return utc.replace(tzinfo=UTC).astimezone(tz).replace(tzinfo=None)


def to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """Naive local wall time -> naive UTC."""
    return local.replace(tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def spread(merchant_id: int) -> int:
    """A minute offset in 1..28, fixed per merchant: sends never all start on the hour."""
    return 1 + (merchant_id * 7919) % SPREAD_MINUTES


@dataclass(frozen=True)
class Timing:
    quiet: QuietHours | None
    send_time: time  # local time of day for reminders tied to a date, before the spread
    default_tz: str = "Asia/Shanghai"

    def zone(self, name: str | None) -> ZoneInfo:
        return zone(name, self.default_tz)

    def at(self, day: date, tz_name: str | None, merchant_id: int) -> datetime:
        """The UTC moment a reminder for local ``day`` goes out."""
        local = datetime.combine(day, self.send_time) + timedelta(minutes=spread(merchant_id))
        return self.settle_local(local, tz_name, merchant_id)

    def settle(self, utc: datetime, tz_name: str | None, merchant_id: int) -> datetime:
        """``utc`` moved out of the quiet hours (to the morning) and off :00 and :30."""
        return self.settle_local(to_local(utc, self.zone(tz_name)), tz_name, merchant_id)

    def settle_local(self, local: datetime, tz_name: str | None, merchant_id: int) -> datetime:
        if self.quiet is not None and self.quiet.contains(local.time()):
            local = self.quiet.end_after(local) + timedelta(minutes=spread(merchant_id))
        local = local.replace(microsecond=0)
        if local.minute % 30 == 0:  # WeCom and Telegram are busiest on the hour and half hour
            local += timedelta(minutes=3)
        return to_utc(local, self.zone(tz_name))

    def is_quiet(self, utc: datetime, tz_name: str | None) -> bool:
        if self.quiet is None:
            return False
        return self.quiet.contains(to_local(utc, self.zone(tz_name)).time())


def backoff(attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failed send: 1, 4, 16, 64 minutes… at most 6 hours."""
    return min(BACKOFF_BASE * 4 ** min(max(attempts - 1, 0), 8), BACKOFF_CAP)


def from_settings(settings: Any) -> Timing:
    """The timing that ``BOT_QUIET_HOURS``, ``BOT_REMINDER_TIME`` and ``BOT_TIMEZONE`` set."""
    return Timing(QuietHours.parse(settings.bot_quiet_hours),
                  parse_clock(settings.bot_reminder_time), settings.bot_timezone)
