"""EventBridge schedules for the local runner: AWS's ``cron(...)`` and ``rate(...)`` expressions and
the schedules ``template.yaml`` attaches to functions (the event a rule sends: ``local.fixtures``).

AWS cron has six fields, evaluated in UTC: minutes hours day-of-month month day-of-week year.
Day-of-week runs 1-7 from SUN (not cron's 0-6), and exactly one of day-of-month and day-of-week is
``?``. Numbers, ``*``, lists, ranges, steps (``0/15``, ``*/5``, ``10-50/20``) and names (JAN-DEC,
SUN-SAT) are supported; ``L``, ``W`` and ``#`` are rejected with a clear error.

Written here, not taken from PyPI: aws-croniter 2.1.1 agrees with this parser on every expression
both accept, but refuses steps in the year field (``2026/2``, ``*/2``, which EventBridge documents),
answers "never" for ``L`` alone in day-of-week (Saturday, per the EventBridge docs) and for rare
``#`` dates past its ten-step search (``1#5`` in February), and fails with bare ValueErrors on
``LW`` and ``*-5``; pyawscron 1.0.7 validates nothing (``cron(0 6 * * * *)`` is accepted).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from . import cfn

MONTHS = {
    m: i
    for i, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1)
}
DAYS = {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)}
# name, low, high, names
FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minutes", 0, 59, {}),
    ("hours", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, MONTHS),
    ("day-of-week", 1, 7, DAYS),
    ("year", 1970, 2199, {}),
)
_RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


class ScheduleError(ValueError):
    """An expression EventBridge would refuse, or one this local scheduler does not support."""


def _value(text: str, name: str, lo: int, hi: int, names: dict[str, int]) -> int:
    key = text.upper()
    if key in names:
        return names[key]
    if not text.isdigit():
        raise ScheduleError(f"{name}: {text!r} is not a number" + (f" or one of {', '.join(names)}" if names else ""))
    number = int(text)
    if not lo <= number <= hi:
        raise ScheduleError(f"{name}: {number} is outside {lo}-{hi}")
    return number


def _field(text: str, name: str, lo: int, hi: int, names: dict[str, int]) -> frozenset[int]:
    bare = text.upper()
    for name_ in names:
        bare = bare.replace(name_, "")
    if re.search(r"[LW#]", bare):
        raise ScheduleError(f"{name}: {text!r}: L, W and # are not supported by the local scheduler")
    out: set[int] = set()
    for part in text.split(","):
        base, slash, step_text = part.partition("/")
        if slash and not step_text.isdigit():
            raise ScheduleError(f"{name}: bad step in {part!r}")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ScheduleError(f"{name}: the step in {part!r} must be at least 1")
        if base == "*":
            first, last = lo, hi
        elif "-" in base:
            a, b = base.split("-", 1)
            first, last = _value(a, name, lo, hi, names), _value(b, name, lo, hi, names)
            if first > last:
                raise ScheduleError(f"{name}: range {base!r} runs backwards")
        else:
            first = _value(base, name, lo, hi, names)
            last = hi if step_text else first  # "0/15": from 0, every 15
        out.update(range(first, last + 1, step))
    return frozenset(out)


@dataclass(frozen=True)
class Cron:
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None  # None: "?"
    months: frozenset[int]
    weekdays: frozenset[int] | None  # AWS numbering, 1 = SUN; None: "?"
    years: frozenset[int]

    def _day_matches(self, day: dt.date) -> bool:
        if day.year not in self.years or day.month not in self.months:
            return False
        if self.days is not None:
            return day.day in self.days
        assert self.weekdays is not None
        return day.isoweekday() % 7 + 1 in self.weekdays

    def next_fire(self, after: dt.datetime) -> dt.datetime:
        """The first fire time strictly after ``after`` (UTC; a naive ``after`` is taken as UTC)."""
        after = after.replace(tzinfo=dt.UTC) if after.tzinfo is None else after.astimezone(dt.UTC)
        start = after.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        day = start.date()
        last_year = max(self.years)
        while day.year <= last_year:
            if day.year not in self.years:
                day = dt.date(day.year + 1, 1, 1)
                continue
            if day.month not in self.months:
                day = dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
                continue
            if self._day_matches(day):
                earliest = (start.hour, start.minute) if day == start.date() else (0, 0)
                for hour in sorted(h for h in self.hours if h >= earliest[0]):
                    low = earliest[1] if hour == earliest[0] else 0
                    minute = min((m for m in self.minutes if m >= low), default=None)
                    if minute is not None:
                        return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)
            day += dt.timedelta(days=1)
        raise ScheduleError(f"{self.expression} never fires after {after.isoformat()}")


@dataclass(frozen=True)
class Rate:
    """``rate(N unit)``: every N units from ``anchor`` (EventBridge counts from the rule's creation)."""

    expression: str
    every: dt.timedelta
    anchor: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def next_fire(self, after: dt.datetime) -> dt.datetime:
        after = after.replace(tzinfo=dt.UTC) if after.tzinfo is None else after.astimezone(dt.UTC)
        if after < self.anchor:
            return self.anchor + self.every
        periods = (after - self.anchor) // self.every + 1
        return self.anchor + periods * self.every


Schedule = Cron | Rate


def parse(expression: str, anchor: dt.datetime | None = None) -> Schedule:
    """Parse ``cron(...)`` or ``rate(...)``; ``anchor`` is when a rate schedule starts counting."""
    text = expression.strip()
    m = re.fullmatch(r"rate\(\s*(\d+)\s+([a-z]+)\s*\)", text)
    if m:
        value, unit = int(m.group(1)), m.group(2)
        singular = unit.removesuffix("s")
        if singular not in _RATE_UNITS or value < 1:
            raise ScheduleError(f"{expression}: expected rate(N minutes|hours|days) with N >= 1")
        if (value == 1) != (unit == singular):
            raise ScheduleError(f"{expression}: EventBridge wants '{singular}' for 1 and '{singular}s' otherwise")
        every = dt.timedelta(seconds=value * _RATE_UNITS[singular])
        return Rate(text, every, anchor or dt.datetime.now(dt.UTC))
    m = re.fullmatch(r"cron\((.*)\)", text)
    if not m:
        raise ScheduleError(f"{expression}: expected cron(...) or rate(...)")
    parts = m.group(1).split()
    if len(parts) != 6:
        raise ScheduleError(
            f"{expression}: AWS cron has 6 fields (minutes hours day-of-month month day-of-week year), got {len(parts)}"
        )
    if (parts[2] == "?") == (parts[4] == "?"):
        raise ScheduleError(f"{expression}: exactly one of day-of-month and day-of-week must be '?'")
    if "?" in (parts[0], parts[1], parts[3], parts[5]):
        raise ScheduleError(f"{expression}: '?' is only allowed in day-of-month or day-of-week")
    sets = [None if p == "?" else _field(p, *spec) for p, spec in zip(parts, FIELDS, strict=True)]
    minutes, hours, days, months, weekdays, years = sets
    assert minutes and hours and months and years
    return Cron(text, minutes, hours, days, months, weekdays, years)


# ---- the template's schedules --------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleTrigger:
    function: str  # logical id of the function
    code_uri: str
    rule: str  # name of the Schedule event in the template
    expression: str
    enabled: bool


def _resolve(value: Any) -> Any:
    if isinstance(value, dict) and "Ref" in value:
        return cfn.parameter_default(value["Ref"])
    return value


def schedule_triggers() -> list[ScheduleTrigger]:
    """Every ``Schedule`` event of the template's functions, parameters resolved to their defaults."""
    out = []
    for logical_id, res in cfn.resources("AWS::Serverless::Function").items():
        props = res["Properties"]
        for name, event in (props.get("Events") or {}).items():
            if event["Type"] != "Schedule":
                continue
            p = event["Properties"]
            enabled = _resolve(p.get("Enabled", True))
            out.append(
                ScheduleTrigger(
                    logical_id,
                    props["CodeUri"],
                    f"{logical_id}-{name}",
                    str(_resolve(p["Schedule"])),
                    str(enabled).lower() != "false",
                )
            )
    return out
