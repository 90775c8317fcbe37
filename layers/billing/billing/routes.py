"""The HTTP routes of docs/rules.md (HTTP API), in four routers, one per HTTP function.

``progress`` -> functions/create_progress_billing, ``final`` -> functions/finalize, ``document`` ->
functions/invoice_pdf (the invoice PDF), ``api`` -> functions/api (everything else). A job route is
written once and registered for both ``/orders`` and ``/projects`` (``job_route``); the kind comes
from the path. Every route declares its success and error responses, so the OpenAPI document
(docs/openapi.json) is a contract a client can be generated from.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from . import change_orders, pending, registers, service, voids
from .documents import (
    SEGMENTS,
    ChangeOrderCreated,
    ChangeOrderList,
    CompanyDoc,
    EntryList,
    EntryPage,
    ErrorBody,
    FinalCreated,
    InvoiceDoc,
    InvoiceList,
    InvoicePage,
    InvoiceStatus,
    InvoiceType,
    JobDoc,
    JobPage,
    JobStatus,
    Kind,
    RecordCreated,
    RecordDoc,
    RecordList,
    RunPage,
    SettingsDoc,
    ShipmentList,
    TrialBalanceDoc,
    Voided,
)
from .http import Role, actor, declare_role, idempotent, json_response, kind_of
from .http.router import Body, OpenAPIResponse, Path, Query, Response, Router
from .inputs import ChangeOrderIn, FinalIn, JobIn, RecordIn, RecordPatchIn, SettingsIn, VoidIn
from .limits import ID_MAX, ID_PATTERN, NEXT_TOKEN_MAX

progress = Router()
final = Router()
document = Router()
api = Router()

F = TypeVar("F", bound=Callable[..., Any])
# Path ids as body ids are (R19): 1-64 letters, digits, - _ . (422 naming the parameter otherwise).
PathId = Annotated[str, Path(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN, examples=["SO-1001"])]

_ERRORS = {
    400: "Malformed JSON, query or pagination token (BAD_REQUEST)",
    401: "No valid bearer token (UNAUTHORIZED)",
    403: "The caller's groups do not allow this (FORBIDDEN)",
    404: "Unknown job, record or invoice (NOT_FOUND)",
    409: "The state does not allow it: ALREADY_EXISTS, JOB_FINALIZED, NOT_PENDING, NOT_VOIDABLE, ALREADY_VOIDED, "
    "IDEMPOTENCY_CONFLICT, CONFLICT",
    422: "Invalid fields, each named in details (VALIDATION_ERROR), or OVERBILLING",
    500: "A fault of the service; nothing was changed and the request can be retried (INTERNAL_ERROR)",
    503: "Too many concurrent changes to the job; retry after Retry-After seconds (BUSY)",
}


def responses(status: int, model: Any, description: str, *errors: int) -> dict[int, OpenAPIResponse]:
    """The success response and the error responses (always 401 and 500) of one operation."""
    out: dict[int, OpenAPIResponse] = {
        status: {"description": description, "content": {"application/json": {"model": model}}}
    }
    for code in sorted({401, 500, *errors}):
        out[code] = _error_response(code)
    return out


def _error_response(code: int) -> OpenAPIResponse:
    return {"description": _ERRORS[code], "content": {"application/json": {"model": ErrorBody}}}


def _guarded(method: str, path: str, role: Role, answers: dict[int, OpenAPIResponse]) -> dict[int, OpenAPIResponse]:
    """R20: record the role ``path`` needs (checked before the route validates anything) and, for a
    route that needs a group, declare its 403."""
    declare_role(method, path, role)
    if role == Role.READER:
        return answers
    return dict(sorted({**answers, 403: _error_response(403)}.items()))


def _summary(fn: Callable[..., Any], kind: Kind | None = None) -> str:
    """The operation's summary: the first line of the function's docstring, naming the kind."""
    first = (fn.__doc__ or fn.__name__).strip().splitlines()[0]
    if kind is None:
        return first
    return first.format(kind=kind.value, a_kind=("an " if kind == Kind.ORDER else "a ") + kind.value)


_How = tuple[dict[int, OpenAPIResponse], str, Role]  # the responses, the tag, the role


def _register(fn: F, router: Router, method: str, path: str, kind: Kind | None, how: _How) -> None:
    answers, tag, role = how
    operation_id = fn.__name__ if kind is None else f"{fn.__name__}_of_{kind.value}"
    router.route(path, method, summary=_summary(fn, kind), operation_id=operation_id, tags=[tag],
                 responses=_guarded(method, path, role, answers))(fn)  # fmt: skip


def route(
    router: Router, method: str, path: str, answers: dict[int, OpenAPIResponse], tag: str, role: Role = Role.READER
) -> Callable[[F], F]:
    """Register the decorated function for ``path``; its docstring's first line is the summary, its
    name the operation id. ``role``: who may call it (R20; default: any signed-in user)."""

    def register(fn: F) -> F:
        _register(fn, router, method, path, None, (answers, tag, role))
        return fn

    return register


def job_route(
    router: Router, method: str, path: str, answers: dict[int, OpenAPIResponse], tag: str, role: Role = Role.READER
) -> Callable[[F], F]:
    """Register the decorated function once for each kind: ``/orders<path>`` and ``/projects<path>``.

    The operation ids are the function's name and the kind (``list_invoices_of_order``); in the
    docstring's first line, the summary, ``{kind}`` is ``order`` and ``{a_kind}`` is ``an order``.
    """

    def register(fn: F) -> F:
        for kind, segment in SEGMENTS.items():
            _register(fn, router, method, f"/{segment}{path}", kind, (answers, tag, role))
        return fn

    return register


# ---- progress billing records (functions/create_progress_billing) -------------------------------


@job_route(
    progress,
    "POST",
    "/<job_id>/progress-billings",
    responses(201, RecordCreated, "The record, and its deposit invoice unless scheduled", 400, 404, 409, 422, 503),
    "progress billing",
    role=Role.CLERK,
)
def create_progress_billing(job_id: PathId, body: RecordIn) -> Response:
    """Create a progress billing record on {a_kind} (R1, R2, R4, R6)"""
    kind = kind_of(progress)
    body_sent = progress.current_event.json_body
    by = actor(progress)
    return idempotent(progress, body_sent, lambda token: (service.create_record(kind, job_id, body, token, by=by), 201))


# ---- final invoice (functions/finalize) ---------------------------------------------------------


@job_route(
    final,
    "POST",
    "/<job_id>/final-invoice",
    responses(201, FinalCreated, "The final invoice", 400, 404, 409, 422, 503),
    "invoices",
    role=Role.CLERK,
)
def create_final_invoice(job_id: PathId, body: Annotated[FinalIn | None, Body()] = None) -> Response:
    """Create the {kind}'s final revenue-recognition invoice (R7)"""
    kind = kind_of(final)
    request = body or FinalIn()
    by = actor(final)
    return idempotent(
        final, request.model_dump(), lambda token: (service.create_final(kind, job_id, request, token, by=by), 201)
    )


# ---- jobs and records (functions/api) -----------------------------------------------------------


@job_route(api, "POST", "", responses(201, JobDoc, "The job registered", 400, 409, 422, 503), "jobs", role=Role.CLERK)
def register_job(body: JobIn) -> Response:
    """Register {a_kind}"""
    kind = kind_of(api)
    body_sent = api.current_event.json_body
    by = actor(api)
    return idempotent(api, body_sent, lambda token: (service.register_job(kind, body, token, by=by).to_api(), 201))


@job_route(api, "GET", "", responses(200, JobPage, "One page of jobs and the next page's token", 400), "jobs")
def list_jobs(
    status: Annotated[Literal["open", "finalized"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query(max_length=NEXT_TOKEN_MAX)] = None,
) -> Response:
    """List {kind}s (optionally by status), paged"""
    return json_response(service.list_jobs(kind_of(api), JobStatus(status) if status else None, limit, next_token))


@job_route(api, "GET", "/<job_id>", responses(200, JobDoc, "The job", 404), "jobs")
def get_job(job_id: PathId) -> Response:
    """One {kind} with its billing summary"""
    return json_response(service.get_job(kind_of(api), job_id).to_api())


@job_route(
    api, "GET", "/<job_id>/progress-billings", responses(200, RecordList, "The records", 404), "progress billing"
)
def list_records(job_id: PathId) -> Response:
    """The {kind}'s progress billing records"""
    return json_response({"items": service.job_partition(kind_of(api), job_id).records})


@job_route(
    api,
    "DELETE",
    "/<job_id>/progress-billings/<record_id>",
    responses(200, RecordDoc, "The cancelled record", 404, 409, 503),
    "progress billing",
    role=Role.CLERK,
)
def cancel_record(job_id: PathId, record_id: PathId) -> Response:
    """Cancel a pending record of {a_kind} (R12)"""
    return json_response(pending.cancel_record(kind_of(api), job_id, record_id, by=actor(api)))


@job_route(
    api,
    "PATCH",
    "/<job_id>/progress-billings/<record_id>",
    responses(200, RecordDoc, "The record as edited", 400, 404, 409, 422, 503),
    "progress billing",
    role=Role.CLERK,
)
def edit_record(job_id: PathId, record_id: PathId, body: RecordPatchIn) -> Response:
    """Edit a pending record of {a_kind} (R21)"""
    return json_response(pending.edit_record(kind_of(api), job_id, record_id, body, by=actor(api)))


@job_route(
    api,
    "POST",
    "/<job_id>/progress-billings/<record_id>/retry",
    responses(200, RecordDoc, "The record, pending again", 404, 409, 422, 503),
    "progress billing",
    role=Role.CLERK,
)
def retry_record(job_id: PathId, record_id: PathId) -> Response:
    """Put a failed record of {a_kind} back in the schedule (R21)"""
    return json_response(pending.retry_record(kind_of(api), job_id, record_id, by=actor(api)))


@job_route(api, "GET", "/<job_id>/invoices", responses(200, InvoiceList, "The invoices", 404), "invoices")
def list_invoices(job_id: PathId) -> Response:
    """The {kind}'s invoices"""
    return json_response({"items": service.job_partition(kind_of(api), job_id).invoices})


@job_route(api, "GET", "/<job_id>/ledger", responses(200, EntryList, "The journal entries", 404), "ledger")
def list_journal_entries(job_id: PathId) -> Response:
    """The {kind}'s journal entries"""
    return json_response({"items": service.job_partition(kind_of(api), job_id).entries})


@job_route(
    api,
    "POST",
    "/<job_id>/change-orders",
    responses(201, ChangeOrderCreated, "The change order and the job as it changed", 400, 404, 409, 422, 503),
    "change orders",
    role=Role.CLERK,
)
def create_change_order(job_id: PathId, body: ChangeOrderIn) -> Response:
    """Change the lines of {a_kind} (R15)"""
    kind = kind_of(api)
    body_sent = api.current_event.json_body
    by = actor(api)
    return idempotent(
        api, body_sent, lambda token: (change_orders.create_change_order(kind, job_id, body, token, by=by), 201)
    )


@job_route(
    api,
    "GET",
    "/<job_id>/change-orders",
    responses(200, ChangeOrderList, "One page of the change orders and the next page's token", 400, 404),
    "change orders",
)
def list_change_orders(
    job_id: PathId,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
    next_token: Annotated[str | None, Query(max_length=NEXT_TOKEN_MAX)] = None,
) -> Response:
    """The {kind}'s change orders, CO-1 first, paged (R15)"""
    return json_response(change_orders.list_change_orders(kind_of(api), job_id, limit, next_token))


@route(api, "GET", "/orders/<job_id>/shipments", responses(200, ShipmentList, "The shipments", 404), "shipments")
def list_order_shipments(job_id: PathId) -> Response:
    """The order's shipments (R8)"""
    return json_response({"items": service.job_partition(Kind.ORDER, job_id).shipments})


# ---- invoices, ledger, settings (functions/api) -------------------------------------------------


@route(api, "GET", "/invoices/<invoice_id>", responses(200, InvoiceDoc, "The invoice", 404), "invoices")
def get_invoice(invoice_id: PathId) -> Response:
    """One invoice"""
    return json_response(service.get_invoice(invoice_id))


@route(
    api,
    "POST",
    "/invoices/<invoice_id>/void",
    responses(201, Voided, "The credit note and the invoice it voided", 400, 404, 409, 422, 503),
    "invoices",
    role=Role.ADMIN,
)
def void_invoice(invoice_id: PathId, body: VoidIn) -> Response:
    """Void an invoice by a credit note (R14; group billing-admins)"""
    body_sent = api.current_event.json_body
    by = actor(api)
    return idempotent(api, body_sent, lambda token: (voids.void_invoice(invoice_id, body, token, by=by), 201))


@route(api, "GET", "/ledger/trial-balance", responses(200, TrialBalanceDoc, "The trial balance"), "ledger")
def get_trial_balance() -> Response:
    """Balances per account and currency"""
    return json_response(service.trial_balance())


@route(api, "GET", "/settings", responses(200, SettingsDoc, "The settings"), "settings")
def get_settings() -> Response:
    """Settings"""
    return json_response(service.get_settings().to_api())


@route(
    api,
    "PUT",
    "/settings",
    responses(200, SettingsDoc, "The settings as saved", 400, 409, 422, 503),
    "settings",
    role=Role.ADMIN,
)
def put_settings(body: SettingsIn) -> Response:
    """Change settings (group billing-admins; a stale version is 409 CONFLICT)"""
    return json_response(service.put_settings(body, actor(api)).to_api())


# ---- registers and exports (R18, functions/api) --------------------------------------------------

# Dates in the query as in bodies: YYYY-MM-DD (a real date, else 422 naming the parameter).
QueryDate = Annotated[str | None, Query(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", examples=["2026-12-01"])]
FromDate = Annotated[str | None, Query(alias="from", pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", examples=["2026-12-01"])]
Token = Annotated[str | None, Query(max_length=NEXT_TOKEN_MAX)]


@route(
    api,
    "GET",
    "/invoices",
    responses(200, InvoicePage, "One page of invoices, by invoice date then number, and the next page's token", 400,
              422),
    "invoices",
)  # fmt: skip
def list_invoice_register(
    from_: FromDate = None,
    to: QueryDate = None,
    type: Annotated[Literal["deposit", "shipment", "final", "credit_note"] | None, Query()] = None,
    status: Annotated[Literal["issued", "voided"] | None, Query()] = None,
    customer_id: Annotated[str | None, Query(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Token = None,
) -> Response:
    """The invoice register across jobs: by invoice date (from, to), type, status, customer (R18)"""
    return json_response(
        registers.invoice_register(
            from_, to, InvoiceType(type) if type else None, InvoiceStatus(status) if status else None, customer_id,
            limit, next_token,
        )
    )  # fmt: skip


_ENTRIES_200: OpenAPIResponse = {
    "description": "One page of journal entries, by date then entry id: JSON, or CSV (format=csv or Accept: "
    "text/csv) with one row per entry line and the next page's token in the Next-Token header",
    "content": {
        "application/json": {"model": EntryPage},
        "text/csv": {"schema": {"type": "string", "example": ",".join(registers.CSV_COLUMNS) + "\r\n"}},
    },
    "headers": {
        "Next-Token": {
            "description": "CSV only: the next page's token (absent on the last page); send it as next_token",
            "schema": {"type": "string"},
        }
    },
}


@route(api, "GET", "/ledger/entries", {**responses(200, EntryPage, "", 400, 422), 200: _ENTRIES_200}, "ledger")
def list_ledger_entries(
    from_: FromDate = None,
    to: QueryDate = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    next_token: Token = None,
    format: Annotated[Literal["json", "csv"] | None, Query()] = None,
) -> Response:
    """The journal across jobs, by date (from, to), as JSON or CSV (R18)"""
    page = registers.journal(from_, to, limit, next_token)
    if not registers.wants_csv(format, api.current_event.headers.get("accept")):
        return json_response(page)
    headers = {"Next-Token": page["next_token"]} if page["next_token"] else None
    return Response(200, "text/csv; charset=utf-8", registers.journal_csv(page["items"]), headers)


@route(api, "GET", "/automation/runs", responses(200, RunPage, "One page of runs, newest first", 400), "automation")
def list_automation_runs(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    next_token: Token = None,
) -> Response:
    """The automation's recent runs, newest first (R18)"""
    return json_response(registers.automation_runs(limit, next_token))


# ---- the invoice document (functions/invoice_pdf) -----------------------------------------------

PDF_TYPE = "application/pdf"
# Draws the PDF of an invoice and its issuer. The drawing (a PDF writer and its fonts) is
# functions/invoice_pdf's own (no other function loads it), so that function passes its drawing
# function to this route, per request, as the router's context: ``app.append_context(render=...)``.
Render = Callable[[InvoiceDoc, CompanyDoc], bytes]


def _pdf_responses() -> dict[int, OpenAPIResponse]:
    pdf: OpenAPIResponse = {
        "description": "The invoice as a PDF document (docs/documents.md)",
        "headers": {
            "Content-Disposition": {"description": 'inline; filename="<number>.pdf"', "schema": {"type": "string"}}
        },
        "content": {PDF_TYPE: {"schema": {"type": "string", "format": "binary"}}},
    }
    return {200: pdf, **{code: _error_response(code) for code in (401, 404, 500)}}


@route(document, "GET", "/invoices/<invoice_id>/pdf", _pdf_responses(), "invoices")
def get_invoice_pdf(invoice_id: PathId) -> Response:
    """One invoice as a PDF document (R18)"""
    invoice, company = service.invoice_document(invoice_id)
    render: Render = document.context["render"]
    answer = Response(
        status_code=200,
        content_type=PDF_TYPE,
        body=base64.b64encode(render(invoice, company)).decode(),
        headers={"Content-Disposition": f'inline; filename="{invoice["number"]}.pdf"'},
    )
    answer.base64_encoded = True  # API Gateway decodes it for the client (isBase64Encoded)
    return answer
