"""The HTTP side: one resolver factory, caller identity, idempotency, and the one place where
errors become PRODUCT.md's error shape.

Each HTTP function builds its resolver with ``make_app`` from the routers it serves
(``billing.routes``), so all three share the same error mapping, authentication and idempotency.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from .config import config
from .errors import BillingError, Conflict, Forbidden, IdempotencyConflict, NotFound, Unauthorized, ValidationFailed
from .model import KINDS
from .observability import logger

ADMIN_GROUP = "billing-admins"
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(status_code=status, content_type="application/json",
                    body=json.dumps(body, separators=(",", ":")), headers=headers)


def error_response(err: BillingError) -> Response[str]:
    return json_response(err.body(), err.status)


# ---- identity -----------------------------------------------------------------------------------


def claims_of(event: dict[str, Any]) -> dict[str, Any] | None:
    """The JWT claims API Gateway put in the event, or None (no token, no authorizer)."""
    claims = (((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt") or {}).get("claims")
    return claims if isinstance(claims, dict) and claims else None


def groups_of(claims: dict[str, Any]) -> set[str]:
    """``cognito:groups`` arrives as ``"[billing-admins clerks]"`` from HTTP APIs, or as a list."""
    raw = claims.get("cognito:groups")
    if isinstance(raw, list):
        return {str(g) for g in raw}
    if isinstance(raw, str):
        return {g for g in re.split(r"[\s,]+", raw.strip().strip("[]")) if g}
    return set()


def caller(app: APIGatewayHttpResolver | Router) -> str:
    claims = claims_of(app.current_event.raw_event) or {}
    return str(claims.get("cognito:username") or claims.get("username") or claims.get("sub") or "unknown")


def require_admin(app: APIGatewayHttpResolver | Router) -> None:
    claims = claims_of(app.current_event.raw_event) or {}
    if ADMIN_GROUP not in groups_of(claims):
        raise Forbidden(f"this needs membership of the {ADMIN_GROUP} group")


def kind_of(app: APIGatewayHttpResolver | Router) -> str:
    """``order`` or ``project``, from the first path segment the route was matched on."""
    for segment in app.current_event.path.split("/"):
        if segment in KINDS:
            return KINDS[segment]
    raise NotFound("unknown resource")


# ---- idempotency (R11) --------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _persistence() -> Any:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    cfg = config()
    client = None
    if cfg.endpoint_url:
        import boto3

        client = boto3.client("dynamodb", region_name=cfg.region, endpoint_url=cfg.endpoint_url)
    return DynamoDBPersistenceLayer(table_name=cfg.idempotency_table_name, boto3_client=client)


def idempotent(app: APIGatewayHttpResolver | Router, body: Any,
               run: Callable[[str | None], tuple[dict[str, Any], int]]) -> Response[str]:
    """Run a POST once per ``Idempotency-Key``: a repeat gets the first response back, unchanged.

    The key is scoped to the caller and the route; the same key with another body is 409
    ``IDEMPOTENCY_CONFLICT``. A request that fails is not remembered, so it can be retried.

    Two layers: Powertools' idempotency table answers repeats without touching the books, and
    ``run`` gets a token derived from the key that the service writes into the change itself
    (record id, job), so even a resend after the cache expired, or after a crash between the
    commit and the response, cannot bill twice.
    """
    key = app.current_event.headers.get("idempotency-key")
    if key is None:
        payload, status = run(None)
        return json_response(payload, status)
    if not _IDEMPOTENCY_KEY.match(key):
        raise ValidationFailed("Idempotency-Key must be 1-255 visible ASCII characters",
                               [{"field": "Idempotency-Key", "message": "1-255 visible ASCII characters"}])
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    idem_config = IdempotencyConfig(
        event_key_jmespath="[caller, route, key]",
        payload_validation_jmespath="body",
        expires_after_seconds=config().idempotency_ttl_seconds,
        raise_on_no_idempotency_key=True,
    )
    if app.lambda_context is not None:
        idem_config.register_lambda_context(app.lambda_context)

    request = {"caller": caller(app), "route": f"{app.current_event.http_method} {app.current_event.path}",
               "key": key, "body": body}
    token = hashlib.sha256(json.dumps([request["caller"], request["route"], key]).encode()).hexdigest()

    @idempotent_function(data_keyword_argument="request", persistence_store=_persistence(), config=idem_config)
    def once(request: dict[str, Any]) -> dict[str, Any]:
        payload, status = run(token)
        return {"status": status, "body": payload}

    try:
        result = once(request=request)
    except IdempotencyValidationError:
        raise IdempotencyConflict("this Idempotency-Key was already used with a different request body") from None
    except IdempotencyAlreadyInProgressError:
        raise IdempotencyConflict("a request with this Idempotency-Key is still in progress") from None
    return json_response(result["body"], int(result["status"]), {"Idempotent-Replay": "false"})


# ---- the resolver -------------------------------------------------------------------------------


def _field(loc: Any) -> str:
    parts = [p for p in (loc or ()) if p not in ("body", "query", "path", "header")]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "body"


def _validation_error(exc: RequestValidationError) -> Response[str]:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return json_response({"error": {"code": "BAD_REQUEST", "message": "the request body is not valid JSON",
                                        "details": []}}, 400)
    details = [{"field": _field(e.get("loc")), "message": str(e.get("msg", "")).removeprefix("Value error, ")}
               for e in errors]
    message = "; ".join(f"{d['field']}: {d['message']}" for d in details)
    return json_response({"error": {"code": "VALIDATION_ERROR", "message": message, "details": details}}, 422)


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
        return json_response({"error": {"code": "BUSY", "message": "the job is being changed by other requests; "
                                         "retry shortly", "details": []}}, 503, {"Retry-After": "1"})

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[str]:
        # A fault of ours or of AWS, never of the request: logged with its trace, nothing half-written
        # (every change is one transaction), safe to retry.
        logger.exception("unexpected error")
        return json_response({"error": {"code": "INTERNAL_ERROR", "message": "internal error; the request "
                                        "changed nothing and can be retried", "details": []}}, 500)

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
        return {"statusCode": err.status, "headers": {"Content-Type": "application/json"},
                "body": json.dumps(err.body(), separators=(",", ":")), "isBase64Encoded": False}
    headers = event.get("headers") or {}
    if event.get("body") and not str(headers.get("content-type", "")).startswith("application/json"):
        event = {**event, "headers": {**headers, "content-type": "application/json"}}
    return app.resolve(event, context)
