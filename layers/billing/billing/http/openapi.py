"""The OpenAPI document of the HTTP API, built by Powertools from the routers' declarations
(request models, response models, error responses) and committed as docs/openapi.json.

Powertools' event handler and pydantic are used here only, at build time: each route of
``billing.http.router`` is registered on a Powertools resolver with the same summary, responses and
parameters, its ``Path``, ``Query`` and ``Body`` turned into Powertools' own with the same constraints,
and each request model of ``billing.validate`` into the pydantic model it stands for (``pydantic_model``).
"""

from __future__ import annotations

import inspect
import json
import types
import typing
from typing import Any, Union

import pydantic
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi import params
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from .. import validate
from ..limits import IDEMPOTENCY_KEY_MAX
from .router import Param, Route, Router

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

    app = powertools_app(routes.progress, routes.final, routes.document, routes.api)
    text = app.get_openapi_json_schema(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        security_schemes={"cognitoJwt": HTTPBearer(bearerFormat="JWT", description="Cognito ID token")},
        security=[{"cognitoJwt": []}],
    )
    doc: dict[str, Any] = json.loads(text)
    _own_validation_errors(doc)
    _idempotency_keys(doc)
    _prune(doc)
    return doc


def powertools_app(*routers: Router) -> APIGatewayHttpResolver:
    """A Powertools resolver declaring the routers' routes, for its OpenAPI document (never resolving)."""
    app = APIGatewayHttpResolver(enable_validation=True)
    for router in routers:
        for route in router.routes:
            app.route(route.path, route.method, summary=route.summary, operation_id=route.operation_id,
                      tags=route.tags, responses=route.responses)(_declared(route))  # fmt: skip
    return app


_POWERTOOLS = {"path": params.Path, "query": params.Query, "body": params.Body}


def _declared(route: Route) -> Any:
    """A stand-in for the route's function whose signature Powertools reads: the same parameters, each
    ``billing.http.router`` parameter (``Path``, ``Query``, ``Body``) as Powertools' own."""

    def powertools(hint: Any) -> Any:
        if typing.get_origin(hint) is not typing.Annotated:
            return pydantic_type(hint)
        base, *meta = typing.get_args(hint)
        ours = [_POWERTOOLS[m.where](**m.keywords()) for m in meta if isinstance(m, Param)]
        return typing.Annotated[pydantic_type(base), *[m for m in meta if not isinstance(m, Param)], *ours]

    hints = typing.get_type_hints(route.fn, include_extras=True)
    signature = inspect.signature(route.fn)
    declared = [p.replace(annotation=powertools(hints[p.name])) for p in signature.parameters.values()]

    def stand_in(**kwargs: Any) -> Any:
        return route.fn(**kwargs)

    stand_in.__name__, stand_in.__doc__ = route.fn.__name__, route.fn.__doc__
    stand_in.__signature__ = inspect.Signature(declared, return_annotation=Response[str])  # type: ignore[attr-defined]
    return stand_in


_MODELS: dict[type, type[pydantic.BaseModel]] = {}


def pydantic_model(model: type[validate.Model]) -> type[pydantic.BaseModel]:
    """The pydantic model a request model stands for: the same name, description, configuration and
    fields, each with the same constraints and schema keywords (its checks are ``billing.validate``'s)."""
    if model in _MODELS:
        return _MODELS[model]
    fields: dict[str, Any] = {
        name: (pydantic_type(hint), ... if default is validate.REQUIRED else default)
        for name, (hint, default) in model.model_fields().items()
    }
    made: type[pydantic.BaseModel] = pydantic.create_model(  # type: ignore[call-overload]
        model.__name__,
        __config__=pydantic.ConfigDict(**model.model_config),  # type: ignore[typeddict-item]
        __doc__=model.__doc__,
        __module__=model.__module__,
        **fields,
    )
    _MODELS[model] = made
    return made


def pydantic_type(hint: Any) -> Any:
    """An annotation of ``billing.validate`` as pydantic reads it: ``Field`` as pydantic's, models as
    ``pydantic_model``'s; an ``AfterValidator`` says nothing the schema shows and is left out."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        kept = [pydantic.Field(**m.keywords) for m in args[1:] if isinstance(m, validate.Field)]
        return typing.Annotated[pydantic_type(args[0]), *kept] if kept else pydantic_type(args[0])
    if origin in (Union, types.UnionType):
        return Union[tuple(pydantic_type(a) for a in args)]  # noqa: UP007 - built from a tuple
    if origin is list:
        return list[pydantic_type(args[0])]  # type: ignore[misc]
    if origin is dict:
        return dict[pydantic_type(args[0]), pydantic_type(args[1])]  # type: ignore[misc]
    if isinstance(hint, type) and issubclass(hint, validate.Model):
        return pydantic_model(hint)
    return hint


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
