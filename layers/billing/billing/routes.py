"""The HTTP routes of PRODUCT.md, in three routers, one per HTTP function.

``progress`` -> functions/create_progress_billing, ``final`` -> functions/finalize,
``api`` -> functions/api (everything else). Each route is registered for ``/orders`` and
``/projects``; the kind comes from the path.
"""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from . import service
from .http import caller, idempotent, json_response, kind_of, require_admin
from .requests import FinalIn, JobIn, RecordIn, SettingsIn

progress = Router()
final = Router()
api = Router()



@progress.post("/orders/<job_id>/progress-billings", summary="Create a progress billing record (R1, R2, R4, R6)")
@progress.post("/projects/<job_id>/progress-billings", summary="Create a progress billing record (R1, R2, R4, R6)")
def create_progress_billing(job_id: str, body: RecordIn) -> Response[str]:
    kind = kind_of(progress)
    return idempotent(progress, progress.current_event.json_body,
                      lambda token: (service.create_record(kind, job_id, body, token), 201))


@final.post("/orders/<job_id>/final-invoice", summary="Create the final revenue-recognition invoice (R7)")
@final.post("/projects/<job_id>/final-invoice", summary="Create the final revenue-recognition invoice (R7)")
def create_final_invoice(job_id: str, body: Annotated[FinalIn | None, Body()] = None) -> Response[str]:
    kind = kind_of(final)
    request = body or FinalIn()
    return idempotent(final, request.model_dump(),
                      lambda token: (service.create_final(kind, job_id, request, token), 201))


@api.post("/orders", summary="Register an order")
@api.post("/projects", summary="Register a project")
def register_job(body: JobIn) -> Response[str]:
    kind = kind_of(api)
    return idempotent(api, api.current_event.json_body,
                      lambda token: (service.register_job(kind, body, token).to_api(), 201))


@api.get("/orders", summary="List orders")
@api.get("/projects", summary="List projects")
def list_jobs(
    status: Annotated[Literal["open", "finalized"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response[str]:
    return json_response(service.list_jobs(kind_of(api), status, limit, next_token))


@api.get("/orders/<job_id>", summary="One order with its billing summary")
@api.get("/projects/<job_id>", summary="One project with its billing summary")
def get_job(job_id: str) -> Response[str]:
    return json_response(service.get_job(kind_of(api), job_id).to_api())


@api.get("/orders/<job_id>/progress-billings", summary="The order's progress billing records")
@api.get("/projects/<job_id>/progress-billings", summary="The project's progress billing records")
def list_records(job_id: str) -> Response[str]:
    return json_response(service.job_items(kind_of(api), job_id, "records"))


@api.delete("/orders/<job_id>/progress-billings/<record_id>", summary="Cancel a pending record (R12)")
@api.delete("/projects/<job_id>/progress-billings/<record_id>", summary="Cancel a pending record (R12)")
def cancel_record(job_id: str, record_id: str) -> Response[str]:
    return json_response(service.cancel_record(kind_of(api), job_id, record_id))


@api.get("/orders/<job_id>/invoices", summary="The order's invoices")
@api.get("/projects/<job_id>/invoices", summary="The project's invoices")
def list_invoices(job_id: str) -> Response[str]:
    return json_response(service.job_items(kind_of(api), job_id, "invoices"))


@api.get("/orders/<job_id>/ledger", summary="The order's journal entries")
@api.get("/projects/<job_id>/ledger", summary="The project's journal entries")
def list_entries(job_id: str) -> Response[str]:
    return json_response(service.job_items(kind_of(api), job_id, "ledger"))


@api.get("/invoices/<invoice_id>", summary="One invoice")
def get_invoice(invoice_id: str) -> Response[str]:
    return json_response(service.get_invoice(invoice_id))


@api.get("/ledger/trial-balance", summary="Balances per account and currency")
def trial_balance() -> Response[str]:
    return json_response(service.trial_balance())


@api.get("/settings", summary="Settings")
def get_settings() -> Response[str]:
    return json_response(service.get_settings().to_api())


@api.put("/settings", summary="Change settings (group billing-admins)")
def put_settings(body: SettingsIn) -> Response[str]:
    require_admin(api)
    return json_response(service.put_settings(body, caller(api)).to_api())


@api.get("/orders/<job_id>/shipments", summary="The order's shipments (R8)")
def list_shipments(job_id: str) -> Response[str]:
    return json_response(service.job_items("order", job_id, "shipments"))
