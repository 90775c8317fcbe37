"""Who is calling: the JWT claims API Gateway's authorizer put in the event (docs/rules.md, R20)."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from ..documents import KIND_OF_SEGMENT, Actor, Kind
from ..errors import Forbidden, NotFound
from .router import Router

ADMIN_GROUP = "billing-admins"
CLERK_GROUP = "billing-clerks"


class Role(StrEnum):
    """What a route needs (R20): any signed-in user, a billing clerk (or admin), or a billing admin."""

    READER = "reader"
    CLERK = "clerk"
    ADMIN = "admin"


# The groups that hold each role; an admin may do everything.
ROLE_GROUPS: dict[Role, frozenset[str]] = {
    Role.READER: frozenset(),  # no group needed
    Role.CLERK: frozenset({CLERK_GROUP, ADMIN_GROUP}),
    Role.ADMIN: frozenset({ADMIN_GROUP}),
}
# API Gateway route key (``"POST /orders/{job_id}/progress-billings"``) -> the role it needs. Filled by
# ``billing.routes`` where each route is registered; checked by ``authorize`` before the route runs.
ROUTE_ROLES: dict[str, Role] = {}


def claims_of(event: dict[str, Any]) -> dict[str, Any] | None:
    """The JWT claims API Gateway put in the event, or None (no token, no authorizer)."""
    claims = (((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt") or {}).get("claims")
    return claims if isinstance(claims, dict) and claims else None


def groups_of(claims: dict[str, Any]) -> set[str]:
    """The caller's groups from ``cognito:groups``, in the two forms it can take and no other:

    - HTTP APIs send a string, the groups space-separated in brackets: ``"[billing-admins clerks]"``;
    - a JSON list (``["billing-admins", "clerks"]``, as a list or its JSON text), as local tools may send.

    Groups are split on whitespace only, never on commas (``"[x,billing-admins]"`` is the one group
    ``x,billing-admins``); anything else (a bare string, a number) is no group at all.
    """
    raw = claims.get("cognito:groups")
    if isinstance(raw, str):
        text = raw.strip()
        if not (text.startswith("[") and text.endswith("]")):
            return set()
        if '"' in text:  # a JSON list as text
            try:
                raw = json.loads(text)
            except ValueError:
                return set()
        else:
            return set(text[1:-1].split())
    if isinstance(raw, list):
        return {g for g in raw if isinstance(g, str) and g}
    return set()


def caller(app: Router) -> str:
    """The caller's name, for scoping idempotency keys (R11)."""
    claims = claims_of(app.current_event.raw_event) or {}
    return str(claims.get("cognito:username") or claims.get("username") or claims.get("sub") or "unknown")


def actor_of(claims: dict[str, Any]) -> Actor:
    """R20: who the claims name: the JWT ``sub`` and ``cognito:username`` (access tokens: ``username``)."""
    sub = str(claims.get("sub") or "unknown")
    return {"sub": sub, "username": str(claims.get("cognito:username") or claims.get("username") or sub)}


def actor(app: Router) -> Actor:
    """The author (``created_by``) of what the current request creates."""
    return actor_of(claims_of(app.current_event.raw_event) or {})


def route_key(method: str, path: str) -> str:
    """API Gateway's route key of a route: ``/orders/<job_id>`` -> ``GET /orders/{job_id}``."""
    return f"{method.upper()} {path.replace('<', '{').replace('>', '}')}"


def declare_role(method: str, path: str, role: Role) -> None:
    ROUTE_ROLES[route_key(method, path)] = role


def allowed(role: Role, groups: set[str]) -> bool:
    return role == Role.READER or bool(ROLE_GROUPS[role] & groups)


def authorize(event: dict[str, Any], claims: dict[str, Any]) -> Forbidden | None:
    """R20, before the route validates anything: why the caller may not call the event's route, if so.

    The route is the event's ``routeKey``; one this function does not serve (it cannot happen behind
    API Gateway, which sends only the template's routes) needs ``billing-admins``, so that a route
    without a declared role is closed, not open.
    """
    role = ROUTE_ROLES.get(str(event.get("routeKey") or ""), Role.ADMIN)
    if allowed(role, groups_of(claims)):
        return None
    needs = " or ".join(sorted(ROLE_GROUPS[role]))
    return Forbidden(
        f"this needs membership of the {needs} group", [{"field": "cognito:groups", "message": f"needs {needs}"}]
    )


def kind_of(app: Router) -> Kind:
    """``order`` or ``project``, from the first path segment the route was matched on."""
    for segment in app.current_event.path.split("/"):
        if segment in KIND_OF_SEGMENT:
            return KIND_OF_SEGMENT[segment]
    raise NotFound("unknown resource")
