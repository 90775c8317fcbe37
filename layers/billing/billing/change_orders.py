"""R15: change orders, one transaction each: the job's new lines (under its version) and the
numbered change order that records the change. No invoice, no posting."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import store
from .corrections import LineChange, apply_change_order
from .documents import Actor, ChangeOrderCreated, ChangeOrderDoc, Kind
from .limits import TOKENS_KEPT
from .money import QUANTITY_DECIMALS, UNIT_PRICE_DECIMALS, parse_decimal
from .service import business_date, now_iso, open_job, with_retry

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
        )
        for ln in body.lines
    ]

    def attempt() -> ChangeOrderCreated:
        snap = store.read_for_change(kind, job_id, books=False)  # no invoice: the job alone decides
        if token and snap.job is not None and token in snap.job.change_order_tokens:
            done = store.get_change_order(kind, job_id, snap.job.change_order_tokens[token])
            if done is not None:
                return {"change_order": done, "job": snap.job.to_api()}
        job = open_job(snap.job, kind, job_id)
        doc = apply_change_order(job, changes, body.date or business_date(), body.reason, now_iso(), by=by)
        if token:
            job.change_order_tokens[token] = doc["change_order_id"]
            job.change_order_tokens = dict(list(job.change_order_tokens.items())[-TOKENS_KEPT:])
        store.commit(store.Change(job, change_order=doc))
        return {"change_order": doc, "job": job.to_api()}

    return with_retry(attempt)


def list_change_orders(kind: Kind, job_id: str) -> list[ChangeOrderDoc]:
    """The job's change orders, CO-1 first (404 if the job does not exist)."""
    return store.read_job_partition(kind, job_id).change_orders
