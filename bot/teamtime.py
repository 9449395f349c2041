"""The service team's clock: times are stored as naive UTC and shown to staff in the team's
timezone (``BOT_TIMEZONE``), always with the zone named so nobody reads them as UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

FORMAT = "%Y-%m-%d %H:%M"


class TeamTime:
    def __init__(self, timezone: str = "Asia/Shanghai") -> None:
        try:
            self.zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            self.zone = ZoneInfo("UTC")
        self.name = self.zone.key

    def local(self, moment: datetime) -> datetime:
        """A stored (naive UTC) moment as the team's wall time (naive)."""
        return moment.replace(tzinfo=UTC).astimezone(self.zone).replace(tzinfo=None)

    def show(self, moment: datetime | None) -> str:
        return self.local(moment).strftime(FORMAT) if moment else ""

    def offset(self, moment: datetime | None = None) -> str:
        """``UTC+08:00`` (at ``moment``, naive UTC; now by default)."""
        at = (moment or datetime.now(UTC).replace(tzinfo=None)).replace(tzinfo=UTC)
        delta = at.astimezone(self.zone).utcoffset() or timedelta()
        minutes = int(delta.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"

    def label(self, moment: datetime | None = None) -> str:
        """What a time column or an alert names the zone as: ``Asia/Shanghai, UTC+08:00``."""
        return f"{self.name}, {self.offset(moment)}" if self.name != "UTC" else "UTC"

    def day_start(self, day: date) -> datetime:
        """The naive UTC moment a day of the team's calendar begins (for periods)."""
        return (datetime.combine(day, time(), tzinfo=self.zone).astimezone(UTC)
                .replace(tzinfo=None))

    def today(self, now: datetime) -> date:
        return self.local(now).date()
