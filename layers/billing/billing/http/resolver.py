"""The resolver factory, and the one place where errors become the error shape of docs/rules.md.

Each HTTP function builds its resolver with ``make_app`` from the routers it serves
(``billing.routes``), so all three share the same error mapping, authentication and idempotency.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from ..config import ConfigurationError
from ..errors import (
    BadRequest,
    BillingError,
    Busy,
    Conflict,
    InternalError,
    NotFound,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
)
from ..limits import BODY_CHARS_MAX, JSON_DEPTH_MAX, JSON_NUMBER_MAX
from ..observability import logger
from .identity import authorize, claims_of


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body, separators=(",", ":")),
        headers=headers,
    )


def error_response(err: BillingError, headers: dict[str, str] | None = None) -> Response[str]:
    return json_response(err.body(), err.status, headers)


def _field(loc: Any) -> str:
    parts = [p for p in (loc or ()) if p not in ("body", "query", "path", "header")]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "body"


def _validation_error(exc: RequestValidationError) -> Response[str]:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(BadRequest("the request body is not valid JSON"))
    details = [
        {"field": _field(e.get("loc")), "message": str(e.get("msg", "")).removeprefix("Value error, ")} for e in errors
    ]
    message = "; ".join(f"{d['field']}: {d['message']}" for d in details)
    return error_response(ValidationFailed(message, details))


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

    @app.exception_handler(RequestUnsupportedContentType)
    def _not_json(exc: RequestUnsupportedContentType) -> Response[str]:  # ``handle`` refuses these first
        return error_response(UnsupportedMediaType("the request body must be JSON (Content-Type: application/json)"))

    @app.exception_handler(Conflict)
    def _busy(exc: Conflict) -> Response[str]:
        logger.warning("gave up after concurrent changes", extra={"reason": str(exc)})
        return error_response(Busy("the job is being changed by other requests; retry shortly"), {"Retry-After": "1"})

    @app.exception_handler(ConfigurationError)
    def _misconfigured(exc: ConfigurationError) -> Response[str]:
        # The deployment is broken, not the request: no retry will help until it is fixed.
        logger.critical("the function is misconfigured", extra={"reason": str(exc)})
        return error_response(InternalError("the service is misconfigured; the request changed nothing"))

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[str]:
        # A fault of ours or of AWS, never of the request: logged with its trace, nothing half-written
        # (every change is one transaction), safe to retry.
        logger.exception("unexpected error")
        return error_response(InternalError("internal error; the request changed nothing and can be retried"))

    @app.not_found
    def _not_found(exc: Exception) -> Response[str]:
        return error_response(NotFound(f"no route {app.current_event.http_method} {app.current_event.path}"))

    return app


def handle(app: APIGatewayHttpResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Resolve one HTTP API event, after the checks that come before any route's own validation, in
    the contract's order: 401 (no claims), 403 (the route's role, R20), then what the body is (415 not
    JSON, 400 nested deeper than any body of the contract); then the route validates its parameters and
    body (400/422)."""
    refused = refusal(event)
    if refused is not None:
        return {
            "statusCode": refused.status,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(refused.body(), separators=(",", ":")),
            "isBase64Encoded": False,
        }
    return app.resolve(event, context)


def refusal(event: dict[str, Any]) -> BillingError | None:
    """Why the request is refused before it reaches its route, if it is: 401, then 403 (R20: the
    route's role, from the event's ``routeKey``), then what the body is."""
    claims = claims_of(event)
    if claims is None:
        return Unauthorized("a valid bearer token is required")
    return authorize(event, claims) or _body_refusal(event)


_JSON_TYPE = re.compile(r"^application/(?:[\w.+-]+\+)?json$")
# One token per match, without backtracking: a string (an unclosed one runs to the end), a bracket, or
# a run of number characters.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]|[-+.0-9eE]+')


def _body_refusal(event: dict[str, Any]) -> BillingError | None:
    body = event.get("body")
    if not body:
        return None
    headers = event.get("headers") or {}
    media, _, params = str(headers.get("content-type", "")).partition(";")
    charset = re.search(r"charset\s*=\s*\"?([\w-]+)", params, re.IGNORECASE)
    if (
        event.get("isBase64Encoded")
        or not _JSON_TYPE.match(media.strip().lower())
        or (charset and charset.group(1).lower() not in ("utf-8", "utf8"))
    ):
        return UnsupportedMediaType(
            "the request body must be JSON sent as Content-Type: application/json",
            [{"field": "Content-Type", "message": "must be application/json"}],
        )
    # Powertools reads a body only under exactly "application/json": say it so (APPLICATION/JSON,
    # application/vnd.api+json and a charset are the same JSON).
    headers["content-type"] = "application/json"
    problem = body_problem(str(body))
    if problem is not None:
        message, limit = problem
        return BadRequest(f"the request body has {message}", [{"field": "body", "message": message, "limit": limit}])
    return None


def body_problem(text: str) -> tuple[str, int] | None:
    """What makes a JSON body too much to parse, if anything: more characters than any request needs,
    nesting deeper than any request needs (parsing is recursive), or a number longer than any request
    needs (Python refuses integers over 4,300 digits with a plain ValueError). Found in one linear pass
    before anything parses it; returns the problem and its limit."""
    if len(text) > BODY_CHARS_MAX:
        return f"more than {BODY_CHARS_MAX:,} characters", BODY_CHARS_MAX
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token[0] == '"':
            continue
        if token in ("[", "{"):
            depth += 1
            if depth > JSON_DEPTH_MAX:
                return f"more than {JSON_DEPTH_MAX} levels of nesting", JSON_DEPTH_MAX
        elif token in ("]", "}"):
            depth -= 1
        elif len(token) > JSON_NUMBER_MAX:
            return f"a number longer than {JSON_NUMBER_MAX} characters", JSON_NUMBER_MAX
    return None
