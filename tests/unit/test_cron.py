"""The local scheduler's reading of EventBridge schedule expressions (local/cron.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from local import cron


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)


def test_the_template_default_fires_daily_at_six_utc():
    daily = cron.parse("cron(0 6 * * ? *)")
    assert daily.next_fire(utc(2026, 11, 27, 15, 0)) == utc(2026, 11, 28, 6, 0)
    assert daily.next_fire(utc(2026, 11, 28, 5, 59, 30)) == utc(2026, 11, 28, 6, 0)
    assert daily.next_fire(utc(2026, 11, 28, 6, 0)) == utc(2026, 11, 29, 6, 0)  # strictly after
    assert daily.next_fire(utc(2026, 12, 31, 7, 0)) == utc(2027, 1, 1, 6, 0)


def test_times_are_utc_whatever_zone_the_argument_is_in():
    daily = cron.parse("cron(0 6 * * ? *)")
    tokyo = dt.timezone(dt.timedelta(hours=9))
    assert daily.next_fire(dt.datetime(2026, 11, 28, 14, 30, tzinfo=tokyo)) == utc(2026, 11, 28, 6, 0)
    assert daily.next_fire(dt.datetime(2026, 11, 28, 5, 0)) == utc(2026, 11, 28, 6, 0)  # naive: UTC


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("cron(0/15 * * * ? *)", utc(2026, 11, 27, 10, 7), utc(2026, 11, 27, 10, 15)),
        ("cron(0/15 * * * ? *)", utc(2026, 11, 27, 10, 45), utc(2026, 11, 27, 11, 0)),
        ("cron(*/5 * * * ? *)", utc(2026, 11, 27, 10, 59), utc(2026, 11, 27, 11, 0)),
        ("cron(10-50/20 8 * * ? *)", utc(2026, 11, 27, 8, 31), utc(2026, 11, 27, 8, 50)),
        ("cron(5,35 1,13 * * ? *)", utc(2026, 11, 27, 1, 36), utc(2026, 11, 27, 13, 5)),
        # 2026-11-27 is a Friday; day-of-week counts from SUN = 1
        ("cron(0 9 ? * MON-FRI *)", utc(2026, 11, 27, 10, 0), utc(2026, 11, 30, 9, 0)),
        ("cron(0 9 ? * 2-6 *)", utc(2026, 11, 27, 10, 0), utc(2026, 11, 30, 9, 0)),
        ("cron(0 0 ? * 1 *)", utc(2026, 11, 27, 0, 0), utc(2026, 11, 29, 0, 0)),
        ("cron(0 12 ? * wed *)", utc(2026, 11, 27, 0, 0), utc(2026, 12, 2, 12, 0)),
        ("cron(15 10 1 JAN,JUL ? *)", utc(2026, 11, 27, 0, 0), utc(2027, 1, 1, 10, 15)),
        ("cron(0 0 31 * ? *)", utc(2026, 11, 1, 0, 0), utc(2026, 12, 31, 0, 0)),  # November has 30 days
        ("cron(0 0 29 2 ? *)", utc(2026, 3, 1, 0, 0), utc(2028, 2, 29, 0, 0)),
        ("cron(0 0 1 1 ? 2027-2030)", utc(2026, 11, 27, 0, 0), utc(2027, 1, 1, 0, 0)),
    ],
)
def test_next_fire(expression, after, expected):
    assert cron.parse(expression).next_fire(after) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "cron(7/20 */3 ? * TUE,SAT *)",
        "cron(59 23 28-31 * ? *)",
        "cron(0 0 1-7 */2 ? *)",
    ],
)
def test_next_fire_agrees_with_a_minute_by_minute_search(expression):
    schedule = cron.parse(expression)
    assert isinstance(schedule, cron.Cron)

    def matches(t: dt.datetime) -> bool:
        day_ok = (
            t.day in schedule.days if schedule.days is not None else t.isoweekday() % 7 + 1 in (schedule.weekdays or ())
        )
        return (
            t.minute in schedule.minutes
            and t.hour in schedule.hours
            and day_ok
            and t.month in schedule.months
            and t.year in schedule.years
        )

    t = utc(2026, 11, 27, 15, 3)
    for _ in range(5):
        expected = t + dt.timedelta(minutes=1)
        while not matches(expected):
            expected += dt.timedelta(minutes=1)
        assert schedule.next_fire(t) == expected
        t = expected


def test_a_schedule_that_never_fires_again_says_so():
    with pytest.raises(cron.ScheduleError, match="never fires"):
        cron.parse("cron(0 0 1 1 ? 2026)").next_fire(utc(2026, 6, 1))


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("cron(0 6 L * ? *)", "L, W and # are not supported"),
        ("cron(0 6 15W * ? *)", "L, W and # are not supported"),
        ("cron(0 6 ? * 6L *)", "L, W and # are not supported"),
        ("cron(0 6 ? * 6#3 *)", "L, W and # are not supported"),
        ("cron(0 6 * * ?)", "6 fields"),
        ("cron(0 6 * * * *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 6 ? * ? *)", "exactly one of day-of-month and day-of-week"),
        ("cron(60 6 * * ? *)", "minutes: 60 is outside 0-59"),
        ("cron(0 24 * * ? *)", "hours: 24 is outside 0-23"),
        ("cron(0 6 * 13 ? *)", "month: 13 is outside 1-12"),
        ("cron(0 6 ? * 0 *)", "day-of-week: 0 is outside 1-7"),
        ("cron(0 6 ? * FRI-MON *)", "runs backwards"),
        ("cron(0/0 6 * * ? *)", "at least 1"),
        ("cron(0/x 6 * * ? *)", "bad step"),
        ("cron(? 6 * * ? *)", "only allowed in day-of-month or day-of-week"),
        ("cron(0 6 * FOO ? *)", "not a number or one of JAN"),
        ("0 6 * * ? *", "expected cron(...) or rate(...)"),
        ("rate(1 minutes)", "'minute' for 1"),
        ("rate(5 minute)", "'minute' for 1"),
        ("rate(0 minutes)", "N >= 1"),
        ("rate(5 weeks)", "minutes|hours|days"),
    ],
)
def test_invalid_expressions_are_refused_with_a_reason(expression, message):
    with pytest.raises(cron.ScheduleError, match=message.replace("(", r"\(").replace(")", r"\)")):
        cron.parse(expression)


def test_rate_counts_from_its_anchor():
    anchor = utc(2026, 11, 27, 10, 0, 0)
    every5 = cron.parse("rate(5 minutes)", anchor=anchor)
    assert every5.next_fire(utc(2026, 11, 27, 9, 0)) == utc(2026, 11, 27, 10, 5)
    assert every5.next_fire(utc(2026, 11, 27, 10, 7)) == utc(2026, 11, 27, 10, 10)
    assert every5.next_fire(utc(2026, 11, 27, 10, 10)) == utc(2026, 11, 27, 10, 15)
    assert cron.parse("rate(1 day)", anchor=anchor).next_fire(anchor) == utc(2026, 11, 28, 10, 0)
    assert cron.parse("rate(2 hours)", anchor=anchor).next_fire(anchor) == utc(2026, 11, 27, 12, 0)


def test_the_templates_schedule_is_found_and_parses():
    from local import cfn

    triggers = cron.schedule_triggers()
    assert [(t.function, t.expression, t.enabled) for t in triggers] == [
        ("AutoGenerateFunction", cfn.parameter_default("AutoGenerateSchedule"), True)
    ]
    cron.parse(triggers[0].expression)


def test_the_scheduled_event_carries_the_fire_time():
    from local import fixtures, scheduler

    event = scheduler.event_at(utc(2026, 12, 1, 6, 0), "AutoGenerateFunction-Daily")
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["time"] == "2026-12-01T06:00:00Z"
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/AutoGenerateFunction-Daily"]
    tokyo = dt.timezone(dt.timedelta(hours=9))
    assert scheduler.event_at(dt.datetime(2026, 12, 1, 15, 0, tzinfo=tokyo), "r")["time"] == "2026-12-01T06:00:00Z"
    assert fixtures.scheduled_event("2026-12-01T06:00:00Z")["time"] == "2026-12-01T06:00:00Z"
