"""The template's EventBridge schedules, fired in threads of the local runner (expressions read by
``local.cron``, evaluated in UTC; a missed fire time is not caught up, as in EventBridge)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from typing import Any

from . import cron, fixtures
from .base import log


def event_at(at: dt.datetime, rule: str) -> dict[str, Any]:
    """The event the scheduled rule ``rule`` sends for the fire time ``at``."""
    return fixtures.scheduled_event(at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), rule)


class Scheduler:
    def __init__(
        self, call: Callable[[str, dict[str, Any]], Any], spawn: Callable[..., None], stopping: threading.Event
    ) -> None:
        """``call(function, event)`` invokes a function; ``spawn(name, target, *args)`` starts a thread
        the stack waits for; the threads end when ``stopping`` is set."""
        self.call, self.spawn, self.stopping = call, spawn, stopping
        self.entries: list[dict[str, Any]] = []

    def add(self, trigger: cron.ScheduleTrigger, expression: str | None = None, enabled: bool = True) -> None:
        """Fire ``trigger``'s function on its schedule, or on ``expression`` instead; not if ``enabled``
        is false (the schedule is still listed, as disabled)."""
        expression = expression or trigger.expression
        entry: dict[str, Any] = {
            "function": trigger.function,
            "rule": trigger.rule,
            "expression": expression,
            "enabled": trigger.enabled and enabled,
            "next_fire": None,
            "last_fire": None,
            "last_result": None,
        }
        self.entries.append(entry)
        schedule = cron.parse(expression)
        if entry["enabled"]:
            entry["next_fire"] = schedule.next_fire(dt.datetime.now(dt.UTC))
            self.spawn(f"schedule-{trigger.rule}", self._loop, entry, schedule)

    def _loop(self, entry: dict[str, Any], schedule: cron.Schedule) -> None:
        while True:
            wait = (entry["next_fire"] - dt.datetime.now(dt.UTC)).total_seconds()
            if self.stopping.wait(min(max(wait, 0), 30)):
                return
            if dt.datetime.now(dt.UTC) < entry["next_fire"]:
                continue
            at = entry["next_fire"]
            entry["last_fire"] = at
            try:
                entry["last_result"] = self.call(entry["function"], event_at(at, entry["rule"]))
                log(
                    f"schedule {entry['expression']} fired for {at:%Y-%m-%dT%H:%M:%SZ}: "
                    f"{json.dumps(entry['last_result'])}"
                )
            except Exception as exc:
                entry["last_result"] = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
                log(f"schedule {entry['expression']} fired for {at:%Y-%m-%dT%H:%M:%SZ}: FAILED {exc!r}")
            entry["next_fire"] = schedule.next_fire(max(at, dt.datetime.now(dt.UTC)))  # no backfill, as EventBridge

    def status(self) -> list[dict[str, Any]]:
        return [{k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in s.items()} for s in self.entries]
