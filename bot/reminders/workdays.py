"""Chinese working days: public holidays off, 调休 make-up weekend days on.

The ``chinese_calendar`` package carries the State Council's published schedule, year by year;
its data stops at the last published year. For other years the ``holidays`` package's CN
calendar (holidays computed from the lunar calendar; make-up days only where it knows them) is
used, and when that fails too, plain Monday-to-Friday. A year nobody covers never raises.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar
import holidays

log = logging.getLogger(__name__)

CHINESE_CALENDAR = "chinese_calendar"
HOLIDAYS = "holidays"
WEEKDAYS = "weekdays"


@lru_cache(maxsize=64)
def _cn_holidays(year: int) -> holidays.HolidayBase | None:
    try:
        return holidays.country_holidays("CN", years=year)
    except Exception:  # noqa: BLE001 - any failure of the fallback means: use weekdays
        log.warning("no holiday calendar for %d: counting Monday to Friday", year)
        return None


def _chinese_calendar(day: date) -> bool | None:
    try:
        return chinese_calendar.is_workday(day)
    except Exception:  # noqa: BLE001 - NotImplementedError outside its years; any other alike
        return None


@lru_cache(maxsize=64)
def source(year: int) -> str:
    """Which calendar decides the working days of ``year``."""
    if _chinese_calendar(date(year, 6, 1)) is not None:
        return CHINESE_CALENDAR
    if _cn_holidays(year) is not None:
        log.info("chinese_calendar has no data for %d: using the holidays package", year)
        return HOLIDAYS
    return WEEKDAYS


def is_workday(day: date) -> bool:
    kind = source(day.year)
    if kind == CHINESE_CALENDAR:
        known = _chinese_calendar(day)
        if known is not None:
            return known
    if kind in (CHINESE_CALENDAR, HOLIDAYS):
        calendar = _cn_holidays(day.year)
        if calendar is not None:
            try:
                return bool(calendar.is_working_day(day))
            except Exception:  # noqa: BLE001
                log.warning("holiday calendar failed for %s: counting Monday to Friday", day)
    return day.weekday() < 5


def add_workdays(start: date, count: int) -> date:
    """The ``count``-th working day after ``start`` (``start`` itself not counted)."""
    day = start
    left = count
    while left > 0:
        day += timedelta(days=1)
        if is_workday(day):
            left -= 1
    return day
