"""The resolver, and the one place where errors become the error shape of docs/rules.md.

Each HTTP function builds its resolver with ``make_app`` from the routers it serves
(``billing.routes``), so all of them share the same error mapping, authentication and idempotency.
"""

from __future__ import annotations

import json
import re
from typing import Any

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
from .router import Invalid, Request, Response, Route, Router, arguments


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, "application/json", json.dumps(body, separators=(",", ":")), headers)


def error_response(err: BillingError, headers: dict[str, str] | None = None) -> Response:
    return json_response(err.body(), err.status, headers)


def _field(loc: Any) -> str:
    parts = [p for p in (loc or ()) if p not in ("body", "query", "path", "header")]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "body"


def validation_error(errors: list[dict[str, Any]]) -> Response:
    """422 ``VALIDATION_ERROR``, each problem naming its field (``lines[0].quantity``, ``limit``)."""
    details = [{"field": _field(e.get("loc")), "message": str(e.get("msg", "")).removeprefix("Value error, ")}
               for e in errors]  # fmt: skip
    message = "; ".join(f"{d['field']}: {d['message']}" for d in details)
    return error_response(ValidationFailed(message, details))


def _answer_error(exc: Exception) -> Response:
    if isinstance(exc, Invalid):
        return validation_error(exc.errors)
    if isinstance(exc, Conflict):
        logger.warning("gave up after concurrent changes", extra={"reason": str(exc)})
        return error_response(Busy("the job is being changed by other requests; retry shortly"), {"Retry-After": "1"})
    if isinstance(exc, BillingError):
        return error_response(exc)
    if isinstance(exc, ConfigurationError):
        # The deployment is broken, not the request: no retry will help until it is fixed.
        logger.critical("the function is misconfigured", extra={"reason": str(exc)})
        return error_response(InternalError("the service is misconfigured; the request changed nothing"))
    # A fault of ours or of AWS, never of the request: logged with its trace, nothing half-written
    # (every change is one transaction), safe to retry.
    logger.exception("unexpected error")
    return error_response(InternalError("internal error; the request changed nothing and can be retried"))


class App:
    """The resolver of one HTTP function: the routes of its routers, answered one request at a time."""

    def __init__(self, *routers: Router) -> None:
        self._owner: list[tuple[Route, Router]] = [(r, router) for router in routers for r in router.routes]
        self.context: dict[str, Any] = {}

    def append_context(self, **values: Any) -> None:
        """What the routes read as ``router.context`` during the next request (cleared after it)."""
        self.context.update(values)

    def resolve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            return self._answer(Request(event), context).event()
        finally:
            self.context = {}

    def _answer(self, request: Request, context: Any) -> Response:
        for route, router in self._owner:
            match = route.regex.match(request.path) if route.method == request.http_method else None
            if match is None:
                continue
            router.current_event, router.lambda_context, router.context = request, context, self.context
            try:
                return route.fn(**arguments(route, request, match.groupdict()))
            except Exception as exc:  # every error of a request is answered in the error shape
                return _answer_error(exc)
        return error_response(NotFound(f"no route {request.http_method} {request.path}"))


def make_app(*routers: Router) -> App:
    return App(*routers)


def handle(app: App, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Resolve one HTTP API event, after the checks that come before any route's own validation, in
    the contract's order: 401 (no claims), 403 (the route's role, R20), then what the body is (415 not
    JSON, 400 nested deeper than any body of the contract); then the route validates its parameters and
    body (400/422)."""
    refused = refusal(event)
    if refused is not None:
        return error_response(refused).event()
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
