"""R15: change orders, one transaction each: the job's new lines (under its version) and the
numbered change order that records the change. No invoice, no posting."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from . import store
from .corrections import LineChange, apply_change_order
from .dates import now_iso
from .documents import Actor, ChangeOrderCreated, ChangeOrderList, Kind
from .errors import JobFinalized, Overbilling, RecordExists, ValidationFailed
from .money import QUANTITY_DECIMALS, UNIT_PRICE_DECIMALS, parse_decimal
from .service import business_date, captured_rates, open_job, with_retry

if TYPE_CHECKING:  # the request model only as a type
    from .inputs import ChangeOrderIn


def create_change_order(
    kind: Kind, job_id: str, body: ChangeOrderIn, token: str | None = None, *, by: Actor
) -> ChangeOrderCreated:
    """Change the job's lines (R15) by ``by`` (R20). With ``token`` (from an Idempotency-Key), a resend
    after the change committed gets that change order back instead of applying it twice."""
    changes = [
        LineChange(
            ln.line_id,
            ln.item_code,
            ln.description,
            None if ln.quantity is None else parse_decimal(ln.quantity, QUANTITY_DECIMALS),
            None if ln.unit_price is None else parse_decimal(ln.unit_price, UNIT_PRICE_DECIMALS),
            ln.tax_code,
        )
        for ln in body.lines
    ]

    def replay() -> ChangeOrderCreated | None:
        """What the token's first request made, if it committed (the job as it is now)."""
        snap = store.read_for_change(kind, job_id, books=False, token=token) if token else None
        return made(snap) if snap else None

    def made(snap: store.Snapshot) -> ChangeOrderCreated | None:
        if snap.made is None or snap.job is None:
            return None
        return {"change_order": store.get_change_order(kind, job_id, snap.made), "job": snap.job.to_api()}

    def attempt() -> ChangeOrderCreated:
        try:
            return decide()
        except (ValidationFailed, Overbilling, JobFinalized):
            # a resend racing its first request: the first committed after the token was looked up,
            # so the job now refuses it (it changes nothing, say). The first's change order answers.
            again = replay()
            if again is None:
                raise
            return again

    def decide() -> ChangeOrderCreated:
        # no invoice: the job alone decides, read with what the token made if a resend's first committed
        snap = store.read_for_change(kind, job_id, books=False, token=token)
        done = made(snap)
        if done is not None:  # a resend after the first committed (cache expired, response lost)
            return done
        job = open_job(snap.job, kind, job_id)
        rates = captured_rates([None if job.line(c.line_id) else c.tax_code for c in changes])  # R16: new lines
        rated = [dataclasses.replace(c, tax=r) for c, r in zip(changes, rates, strict=True)]
        doc = apply_change_order(job, rated, body.date or business_date(), body.reason, now_iso(), by=by)
        job.captured(rates)
        try:
            store.commit(store.Change(job, change_order=doc, token=token, actor=by))
        except RecordExists:  # the token item: the same request, committed meanwhile by a concurrent resend
            again = replay()
            if again is None:
                raise
            return again
        return {"change_order": doc, "job": job.to_api()}

    return with_retry(attempt)


def list_change_orders(kind: Kind, job_id: str, limit: int, next_token: str | None) -> ChangeOrderList:
    """A page of the job's change orders, CO-1 first (404 if the job does not exist)."""
    items, token = store.list_change_orders(kind, job_id, limit, next_token)
    return {"items": items, "next_token": token}
