"""Who is calling: the JWT claims API Gateway's authorizer put in the event (docs/rules.md, R20)."""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.api_gateway import Router

from ..documents import KIND_OF_SEGMENT, Kind
from ..errors import Forbidden, NotFound

ADMIN_GROUP = "billing-admins"
Resolver = APIGatewayHttpResolver | Router


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


def caller(app: Resolver) -> str:
    claims = claims_of(app.current_event.raw_event) or {}
    return str(claims.get("cognito:username") or claims.get("username") or claims.get("sub") or "unknown")


def require_admin(app: Resolver) -> None:
    claims = claims_of(app.current_event.raw_event) or {}
    if ADMIN_GROUP not in groups_of(claims):
        raise Forbidden(f"this needs membership of the {ADMIN_GROUP} group")


def kind_of(app: Resolver) -> Kind:
    """``order`` or ``project``, from the first path segment the route was matched on."""
    for segment in app.current_event.path.split("/"):
        if segment in KIND_OF_SEGMENT:
            return KIND_OF_SEGMENT[segment]
    raise NotFound("unknown resource")
