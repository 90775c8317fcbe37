"""The OpenAPI document of the HTTP API, built by Powertools from the routers' declarations
(request models, response models, error responses) and committed as docs/openapi.json."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from ..limits import IDEMPOTENCY_KEY_MAX
from .resolver import make_app

TITLE = "Progress billing API"
VERSION = "1.0.0"
DESCRIPTION = (
    "Bill long projects and large orders in milestones: progress billing records, deposit invoices, "
    "final revenue-recognition invoices and their journal entries. Rules: docs/rules.md. Every "
    "request needs a Cognito JWT (Authorization: Bearer <token>); errors have the ErrorBody shape."
)
_REF = "#/components/schemas/"


def openapi_document() -> dict[str, Any]:
    """The document for every route of every HTTP function."""
    from .. import routes

    routers = (routes.progress, routes.final, routes.document, routes.api)
    # include_router points each router at the new resolver; point them back at the functions' ones.
    saved = [r.api_resolver for r in routers]
    try:
        app = make_app(*routers)
        text = app.get_openapi_json_schema(
            title=TITLE,
            version=VERSION,
            description=DESCRIPTION,
            security_schemes={"cognitoJwt": HTTPBearer(bearerFormat="JWT", description="Cognito ID token")},
            security=[{"cognitoJwt": []}],
        )
    finally:
        for router, resolver in zip(routers, saved, strict=True):
            router.api_resolver = resolver
    doc: dict[str, Any] = json.loads(text)
    _own_validation_errors(doc)
    _idempotency_keys(doc)
    _prune(doc)
    return doc


def _idempotency_keys(doc: dict[str, Any]) -> None:
    """Every POST honours an optional ``Idempotency-Key`` header (R11), read by ``http.idempotency``
    from the request rather than declared as a route parameter; the document says so."""
    header = {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "Makes a resend return the first response and change nothing (docs/api.md, R11)",
        "schema": {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX, "pattern": "^[!-~]+$"},
    }
    for operations in doc["paths"].values():
        if "post" in operations:
            operations["post"].setdefault("parameters", []).append(header)


def _own_validation_errors(doc: dict[str, Any]) -> None:
    """Powertools lists a 422 of its own shape on every operation; this API answers 422 with ErrorBody."""
    for operations in doc["paths"].values():
        for operation in operations.values():
            answer = operation["responses"].get("422")
            if answer and "HTTPValidationError" in json.dumps(answer):
                operation["responses"]["422"] = {
                    "description": "Invalid fields, each named in details (VALIDATION_ERROR)",
                    "content": {"application/json": {"schema": {"$ref": f"{_REF}ErrorBody"}}},
                }


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].removeprefix(_REF)} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def _prune(doc: dict[str, Any]) -> None:
    """Drop the component schemas no operation refers to (directly or through another schema)."""
    schemas = doc.get("components", {}).get("schemas", {})
    used, todo = set(), _refs(doc["paths"])
    while todo:
        name = todo.pop()
        if name not in used and name in schemas:
            used.add(name)
            todo |= _refs(schemas[name])
    for name in set(schemas) - used:
        del schemas[name]


def openapi_json() -> str:
    """The document as committed: indented, keys in a stable order, a final newline."""
    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"
