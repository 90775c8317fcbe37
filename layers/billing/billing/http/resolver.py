"""The resolver factory, and the one place where errors become the error shape of docs/rules.md.

Each HTTP function builds its resolver with ``make_app`` from the routers it serves
(``billing.routes``), so all three share the same error mapping, authentication and idempotency.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from ..config import ConfigurationError
from ..documents import ErrorBody
from ..errors import BillingError, Conflict, NotFound, Unauthorized
from ..observability import logger
from .identity import claims_of


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body, separators=(",", ":")),
        headers=headers,
    )


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> ErrorBody:
    return {"error": {"code": code, "message": message, "details": details or []}}


def error_response(err: BillingError) -> Response[str]:
    return json_response(error_body(err.code, err.message, err.details), err.status)


def _field(loc: Any) -> str:
    parts = [p for p in (loc or ()) if p not in ("body", "query", "path", "header")]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "body"


def _validation_error(exc: RequestValidationError) -> Response[str]:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return json_response(error_body("BAD_REQUEST", "the request body is not valid JSON"), 400)
    details = [
        {"field": _field(e.get("loc")), "message": str(e.get("msg", "")).removeprefix("Value error, ")} for e in errors
    ]
    message = "; ".join(f"{d['field']}: {d['message']}" for d in details)
    return json_response(error_body("VALIDATION_ERROR", message, details), 422)


def make_app(*routers: Router) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True)
    for router in routers:
        app.include_router(router)

    @app.exception_handler(BillingError)
    def _billing_error(exc: BillingError) -> Response[str]:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response[str]:
        return _validation_error(exc)

    @app.exception_handler(Conflict)
    def _busy(exc: Conflict) -> Response[str]:
        logger.warning("gave up after concurrent changes", extra={"reason": str(exc)})
        return json_response(
            error_body("BUSY", "the job is being changed by other requests; retry shortly"), 503, {"Retry-After": "1"}
        )

    @app.exception_handler(ConfigurationError)
    def _misconfigured(exc: ConfigurationError) -> Response[str]:
        # The deployment is broken, not the request: no retry will help until it is fixed.
        logger.critical("the function is misconfigured", extra={"reason": str(exc)})
        return json_response(
            error_body("INTERNAL_ERROR", "the service is misconfigured; the request changed nothing"), 500
        )

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[str]:
        # A fault of ours or of AWS, never of the request: logged with its trace, nothing half-written
        # (every change is one transaction), safe to retry.
        logger.exception("unexpected error")
        return json_response(
            error_body("INTERNAL_ERROR", "internal error; the request changed nothing and can be retried"), 500
        )

    @app.not_found
    def _not_found(exc: Exception) -> Response[str]:
        return error_response(NotFound(f"no route {app.current_event.http_method} {app.current_event.path}"))

    return app


def handle(app: APIGatewayHttpResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Resolve one HTTP API event: 401 before anything else when the request carries no claims.

    Every body this API accepts is JSON, whatever Content-Type the client sent (``curl -d`` says
    ``application/x-www-form-urlencoded``): the body is read as JSON, and is 400 if it is not.
    """
    if claims_of(event) is None:
        err = Unauthorized("a valid bearer token is required")
        return {
            "statusCode": err.status,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(err.body(), separators=(",", ":")),
            "isBase64Encoded": False,
        }
    headers = event.get("headers") or {}
    if event.get("body") and not str(headers.get("content-type", "")).startswith("application/json"):
        event = {**event, "headers": {**headers, "content-type": "application/json"}}
    return app.resolve(event, context)
