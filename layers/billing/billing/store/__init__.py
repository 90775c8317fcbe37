"""All DynamoDB access: one table, single-table design, through pynamodb.

``items`` holds the item models and every key; ``commit`` the one transactional write every change to
the books goes through; ``queries`` the reads. Business code imports this package, never pynamodb.
"""

from .commit import Change, Void, commit, put_rejected_shipment, put_shipment_conflict
from .items import bind
from .queries import (
    JobPartition,
    Snapshot,
    Span,
    Voidable,
    get_change_order,
    get_invoice,
    get_job,
    get_record,
    get_settings,
    get_shipment,
    list_change_orders,
    list_entries,
    list_invoices,
    list_jobs,
    list_runs,
    pending_due,
    put_run,
    put_settings,
    read_for_change,
    read_invoice_and_settings,
    read_job_and_record,
    read_job_partition,
    read_voidable,
    trial_balance,
)

__all__ = [
    "Change",
    "JobPartition",
    "Snapshot",
    "Span",
    "Void",
    "Voidable",
    "bind",
    "commit",
    "get_change_order",
    "get_invoice",
    "get_job",
    "get_record",
    "get_settings",
    "get_shipment",
    "list_change_orders",
    "list_entries",
    "list_invoices",
    "list_jobs",
    "list_runs",
    "pending_due",
    "put_rejected_shipment",
    "put_run",
    "put_settings",
    "put_shipment_conflict",
    "read_for_change",
    "read_invoice_and_settings",
    "read_job_and_record",
    "read_job_partition",
    "read_voidable",
    "trial_balance",
]
