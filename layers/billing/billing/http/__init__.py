"""The HTTP side: caller identity (``identity``), idempotency (``idempotency``), the resolver factory
and error mapping (``resolver``), and the OpenAPI document (``openapi``)."""

from .idempotency import idempotent
from .identity import (
    ADMIN_GROUP,
    CLERK_GROUP,
    ROUTE_ROLES,
    Role,
    actor,
    actor_of,
    authorize,
    caller,
    claims_of,
    declare_role,
    groups_of,
    kind_of,
)
from .resolver import error_response, handle, json_response, make_app

__all__ = [
    "ADMIN_GROUP",
    "CLERK_GROUP",
    "ROUTE_ROLES",
    "Role",
    "actor",
    "actor_of",
    "authorize",
    "caller",
    "claims_of",
    "declare_role",
    "error_response",
    "groups_of",
    "handle",
    "idempotent",
    "json_response",
    "kind_of",
    "make_app",
]
