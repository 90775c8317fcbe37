"""The *Auto-Generate Progress Billing Invoices* automation (R4, R5, R6 at run time).

One run: take the business date from the event, Query the sparse ``PendingByDate`` index for pending
records due on or before it (records missed by earlier runs included), and invoice each one through
the same transactional path as create-now. Exactly once per record, whatever runs concurrently:
each record's invoice is conditioned on the job's version and the record still being pending.

A run stops well before the Lambda timeout and leaves the rest pending; it then invokes itself
asynchronously for the same business date (``continuation``), so a large backlog drains in a chain
of runs, each of which is safe to repeat.

Each run that finishes records itself (R18, ``GET /automation/runs``): its business date, when it
started and finished, its counts and whether it continued. A run that crashes records nothing (its
invocation fails, and Lambda retries it, then hands it to the failure queue).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from . import service, store
from .dates import is_date, now_iso
from .documents import AutomationRunDoc, RunOutcome, RunTrigger
from .errors import ValidationFailed
from .observability import logger, metrics

SAFETY_MARGIN_MS = 20_000  # stop invoicing when less than this is left of the Lambda timeout
MAX_CONTINUATIONS = 50  # bound on the self-invocation chain of one business date


def run_date(event: dict[str, Any]) -> str:
    """R5: ``business_date`` if given, else the event's ``time`` in ``BusinessTimezone``.

    The wall clock is read only when the event names neither (a hand-made invocation).
    """
    override = event.get("business_date")
    if override is not None:
        if not isinstance(override, str) or not is_date(override):
            raise ValidationFailed.field("business_date", "must be a date YYYY-MM-DD")
        return override
    when = event.get("time")
    if when is not None:
        try:
            at = dt.datetime.fromisoformat(str(when).replace("Z", "+00:00"))
        except ValueError:
            raise ValidationFailed.field("time", "must be an ISO 8601 timestamp") from None
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.UTC)
        return service.business_date(at)
    return service.business_date()


def _continue(context: Any, payload: dict[str, Any]) -> None:
    """Invoke this function again, asynchronously, to carry on where this run stopped."""
    import boto3

    boto3.client("lambda").invoke(
        FunctionName=context.invoked_function_arn, InvocationType="Event", Payload=json.dumps(payload).encode()
    )


def run(
    event: dict[str, Any],
    context: Any,
    *,
    safety_margin_ms: int = SAFETY_MARGIN_MS,
    continue_with: Callable[[Any, dict[str, Any]], None] = _continue,
) -> dict[str, Any]:
    started_at = now_iso()
    date = run_date(event)
    continuation = int(event.get("continuation", 0) or 0)
    counts = dict.fromkeys(RunOutcome, 0)
    stopped_early = False
    for rec in store.pending_due(date):
        if context.get_remaining_time_in_millis() < safety_margin_ms:
            stopped_early = True
            break
        outcome = service.invoice_due_record(rec)
        counts[outcome] += 1
        if outcome == RunOutcome.FAILED:
            logger.warning(
                "scheduled record failed",
                extra={
                    "record_id": rec.record_id,
                    "job_id": rec.job_id,
                    "kind": rec.kind,
                    "reason": rec.failure_reason,
                },
            )
    result: dict[str, Any] = {
        "business_date": date,
        **{o.value: n for o, n in counts.items()},
        "complete": not stopped_early,
        "continuation": continuation,
    }
    if stopped_early:
        if continuation < MAX_CONTINUATIONS:
            continue_with(context, {"business_date": date, "continuation": continuation + 1})
            result["continued"] = True
        else:
            logger.error("automation backlog not drained; the next scheduled run continues", extra=result)
            result["continued"] = False
    try:  # the run's record (R18) is a report: failing it must not fail, and retry, the run
        store.put_run(_run_doc(event, context, started_at, result))
    except Exception:
        logger.exception("the automation run's record could not be written", extra=result)
        metrics.add_metric(name="RunRecordsLost", unit=MetricUnit.Count, value=1)
    for outcome, count in counts.items():  # RecordsInvoiced, RecordsFailed (alarmed), RecordsSkipped
        metrics.add_metric(name=f"Records{outcome.value.capitalize()}", unit=MetricUnit.Count, value=count)
    logger.info("auto-generate run", extra=result)
    return result


def _run_doc(event: dict[str, Any], context: Any, started_at: str, result: dict[str, Any]) -> AutomationRunDoc:
    """R18: what ``GET /automation/runs`` shows of a finished run."""
    if result["continuation"]:
        trigger = RunTrigger.CONTINUATION
    elif event.get("detail-type") == "Scheduled Event":
        trigger = RunTrigger.SCHEDULE
    else:
        trigger = RunTrigger.MANUAL
    when = event.get("time")
    return {
        "run_id": str(getattr(context, "aws_request_id", "") or uuid.uuid4()),
        "business_date": result["business_date"],
        "started_at": started_at,
        "finished_at": now_iso(),
        "invoiced": result[RunOutcome.INVOICED.value],
        "failed": result[RunOutcome.FAILED.value],
        "skipped": result[RunOutcome.SKIPPED.value],
        "continued": bool(result.get("continued", False)),
        "complete": bool(result["complete"]),
        "continuation": int(result["continuation"]),
        "trigger": trigger,
        "time": str(when) if when is not None else None,
    }
