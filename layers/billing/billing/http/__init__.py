"""The HTTP side: caller identity (``identity``), idempotency (``idempotency``), the resolver factory
and error mapping (``resolver``), and the OpenAPI document (``openapi``)."""

from .idempotency import idempotent
from .identity import ADMIN_GROUP, caller, claims_of, groups_of, kind_of, require_admin
from .resolver import error_body, error_response, handle, json_response, make_app

__all__ = [
    "ADMIN_GROUP",
    "caller",
    "claims_of",
    "error_body",
    "error_response",
    "groups_of",
    "handle",
    "idempotent",
    "json_response",
    "kind_of",
    "make_app",
    "require_admin",
]
