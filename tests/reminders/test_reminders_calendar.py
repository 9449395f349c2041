"""Pure parts: Chinese working days with their fallbacks, the plan, local times."""

from datetime import date, datetime, time, timedelta

import pytest

from bot.reminders import workdays
from bot.reminders.plan import (
    BOOK,
    EVE,
    LICENSE_END,
    RENEWAL,
    REVIEW,
    Facts,
    anniversary,
    nearest_anniversary,
    next_anniversary,
    plan,
    review_follow_up,
    still_valid,
    upper,
)
from bot.reminders.timing import QuietHours, Timing, backoff, parse_clock, spread, to_local, zone

FIGURES = {"basic_review_days": "1–3", "deep_review_workdays": "3–7",
           "sm_review_workdays": "5–10", "book_ahead_weeks": "1–2"}


def weekdays_after(start: date, count: int) -> date:
    day = start
    while count:
        day += timedelta(days=1)
        count -= day.weekday() < 5
    return day


# -- working days ---------------------------------------------------------------------------

def test_spring_festival_2026_is_skipped_and_make_up_saturdays_count():
    # Submitted on Friday 13 February 2026, just before 春节 (15-23 February; 14 and 28
    # February are 调休 working Saturdays). Factory review: up to 7 working days.
    assert workdays.source(2026) == workdays.CHINESE_CALENDAR
    assert workdays.is_workday(date(2026, 2, 14))  # Saturday, make-up day
    assert not workdays.is_workday(date(2026, 2, 17))  # 春节
    follow_up = review_follow_up("factory", date(2026, 2, 13), FIGURES)
    assert follow_up == date(2026, 3, 3)
    assert follow_up > weekdays_after(date(2026, 2, 13), 8)  # plain weekdays: 25 February


def test_2027_falls_back_to_the_holidays_package_and_still_skips_the_festival():
    assert workdays.source(2027) in (workdays.CHINESE_CALENDAR, workdays.HOLIDAYS)
    festival = [date(2027, 2, 5) + timedelta(days=i) for i in range(6)]  # 除夕 … observed days
    assert not any(workdays.is_workday(d) for d in festival)
    follow_up = review_follow_up("strength_merchant", date(2027, 2, 4), FIGURES)
    assert follow_up > weekdays_after(date(2027, 2, 4), 11)
    assert workdays.is_workday(follow_up)


def test_a_year_no_calendar_publishes_does_not_crash():
    assert workdays.source(2035) == workdays.HOLIDAYS
    follow_up = review_follow_up("trade", date(2035, 2, 6), FIGURES)
    assert follow_up is not None and workdays.is_workday(follow_up)


def test_without_any_holiday_data_monday_to_friday_is_used(monkeypatch):
    def no_data(year):
        return None

    def broken(day):
        raise NotImplementedError("no data")

    monkeypatch.setattr(workdays, "_cn_holidays", no_data)
    monkeypatch.setattr(workdays.chinese_calendar, "is_workday", broken)
    workdays.source.cache_clear()
    try:
        assert workdays.source(2040) == workdays.WEEKDAYS
        assert workdays.add_workdays(date(2040, 2, 10), 3) == weekdays_after(date(2040, 2, 10), 3)
    finally:
        workdays.source.cache_clear()


def test_basic_certification_counts_calendar_days():
    assert review_follow_up("basic", date(2026, 2, 13), FIGURES) == date(2026, 2, 17)
    assert review_follow_up("basic", date(2026, 2, 13), {}) is None  # no figure: no guess


def test_upper_end_of_a_typical_range():
    assert upper("1–3") == 3 and upper("5-10") == 10 and upper("7") == 7 and upper("") is None


# -- the plan -------------------------------------------------------------------------------

def test_a_passed_certification_gets_60_30_7_days_before_its_anniversary():
    planned = plan([Facts("basic", "passed", passed_on=date(2026, 3, 10))], date(2026, 4, 1),
                   FIGURES)
    assert [(p.kind, p.anchor, p.lead, p.on) for p in planned] == [
        (RENEWAL, date(2027, 3, 10), 60, date(2027, 1, 9)),
        (RENEWAL, date(2027, 3, 10), 30, date(2027, 2, 8)),
        (RENEWAL, date(2027, 3, 10), 7, date(2027, 3, 3)),
    ]


def test_a_confirmed_renewal_moves_the_cycle_to_next_year():
    passed = date(2025, 3, 10)
    assert next_anniversary(passed, date(2026, 1, 20), None) == date(2026, 3, 10)
    assert next_anniversary(passed, date(2026, 1, 20), date(2026, 3, 10)) == date(2027, 3, 10)
    # renewed a little early or a little late: the nearest anniversary is the one renewed
    assert nearest_anniversary(passed, date(2026, 2, 1)) == date(2026, 3, 10)
    assert nearest_anniversary(passed, date(2026, 3, 25)) == date(2026, 3, 10)


def test_29_february_has_its_anniversary_on_28_february():
    assert anniversary(date(2028, 2, 29), 1) == date(2029, 2, 28)
    assert still_valid(RENEWAL, date(2029, 2, 28), 30,
                       Facts("basic", "passed", passed_on=date(2028, 2, 29)), FIGURES)


def test_license_inspection_and_review_reminders():
    facts = [
        Facts("license", "valid", due_on=date(2027, 6, 30)),
        Facts("inspection", due_on=date(2026, 5, 20)),
        Facts("trade", "in_review", submitted_on=date(2026, 4, 1)),
    ]
    planned = {(p.kind, p.lead): p.on for p in plan(facts, date(2026, 4, 2), FIGURES)}
    assert planned[(LICENSE_END, 60)] == date(2027, 5, 1)
    assert planned[(BOOK, 14)] == date(2026, 5, 6)  # book 1-2 weeks ahead (F-DEEP-9)
    assert planned[(EVE, 1)] == date(2026, 5, 19)
    # 7 working days after 1 April (清明: 6 April off), then the next working day
    assert planned[(REVIEW, 0)] == date(2026, 4, 14)
    assert plan([Facts("license", "long_term")], date(2026, 4, 2), FIGURES) == []


def test_changed_facts_make_reminders_obsolete():
    review = Facts("basic", "in_review", submitted_on=date(2026, 4, 1))
    assert still_valid(REVIEW, date(2026, 4, 1), 0, review, FIGURES)
    assert not still_valid(REVIEW, date(2026, 4, 1), 0,
                           Facts("basic", "passed", passed_on=date(2026, 4, 3)), FIGURES)
    moved = Facts("inspection", due_on=date(2026, 6, 1))
    assert not still_valid(EVE, date(2026, 5, 20), 1, moved, FIGURES)
    renewed = Facts("basic", "passed", passed_on=date(2025, 3, 10),
                    renewed_through=date(2026, 3, 10))
    assert not still_valid(RENEWAL, date(2026, 3, 10), 7, renewed, FIGURES)
    assert still_valid(RENEWAL, date(2027, 3, 10), 60, renewed, FIGURES)


# -- local times ----------------------------------------------------------------------------

TIMING = Timing(QuietHours(time(21), time(9)), time(10))
SHANGHAI = zone("Asia/Shanghai")


def test_date_reminders_go_out_in_the_morning_local_time_never_on_the_hour():
    for merchant_id in range(1, 60):
        sent = to_local(TIMING.at(date(2027, 1, 9), "Asia/Shanghai", merchant_id), SHANGHAI)
        assert sent.date() == date(2027, 1, 9) and sent.hour == 10
        assert sent.minute not in (0, 30)
    # the same local time in another timezone is another UTC moment
    berlin = TIMING.at(date(2027, 1, 9), "Europe/Berlin", 1)
    assert berlin - TIMING.at(date(2027, 1, 9), "Asia/Shanghai", 1) == timedelta(hours=7)


@pytest.mark.parametrize("night, morning", [
    ("2027-01-09 22:40", "2027-01-10"),
    ("2027-01-10 02:15", "2027-01-10"),
    ("2027-01-10 21:00", "2027-01-11"),
])
def test_quiet_hours_defer_to_the_morning(night, morning):
    moment = datetime.fromisoformat(night).replace(tzinfo=SHANGHAI)
    utc = moment.astimezone(zone("UTC")).replace(tzinfo=None)
    settled = to_local(TIMING.settle(utc, "Asia/Shanghai", 5), SHANGHAI)
    assert settled == datetime.fromisoformat(morning).replace(hour=9, minute=spread(5))


def test_round_minutes_are_avoided_and_daytime_is_kept():
    utc = datetime(2027, 1, 9, 6, 30)  # 14:30 in Shanghai
    assert to_local(TIMING.settle(utc, "Asia/Shanghai", 5), SHANGHAI) == datetime(
        2027, 1, 9, 14, 33)
    utc = datetime(2027, 1, 9, 6, 31, 12)
    assert to_local(TIMING.settle(utc, "Asia/Shanghai", 5), SHANGHAI).minute == 31


def test_quiet_hours_settings():
    assert QuietHours.parse("off") is None and QuietHours.parse("") is None
    daytime = QuietHours.parse("12:00-13:30")
    assert daytime.contains(time(12, 45)) and not daytime.contains(time(13, 30))
    with pytest.raises(ValueError):
        QuietHours.parse("21-9")
    with pytest.raises(ValueError):
        parse_clock("25:00")


def test_backoff_grows_and_is_bounded():
    waits = [backoff(n) for n in range(1, 12)]
    assert waits[0] == timedelta(minutes=1) and waits[1] == timedelta(minutes=4)
    assert waits == sorted(waits) and max(waits) == timedelta(hours=6)
