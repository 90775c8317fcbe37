"""An in-process stand-in for API Gateway HTTP API (payload 2.0): it matches a request to a route
of ``template.yaml``, builds the event the real gateway would send (JWT claims included) and calls
that function's handler. Used by the integration tests and by the local runner.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from . import cfn
from .fixtures import lambda_context


def http_event(
    method: str,
    path: str,
    route_key: str,
    path_params: dict[str, str],
    query: str = "",
    headers: dict[str, str] | None = None,
    body: str | None = None,
    claims: dict[str, Any] | None = None,
    *,
    json_by_default: bool = True,
) -> dict[str, Any]:
    """The event API Gateway sends for one request. ``json_by_default``: a body without a Content-Type
    is labelled ``application/json`` (tests and sample events, which always mean JSON); the local front
    passes the client's headers as they came, as API Gateway does (no Content-Type: 415)."""
    now = time.time()
    hdrs = {k.lower(): v for k, v in (headers or {}).items()}
    if body is not None and json_by_default:
        hdrs.setdefault("content-type", "application/json")
    query_params: dict[str, str] = {}
    for k, v in parse_qsl(query, keep_blank_values=True):
        query_params[k] = f"{query_params[k]},{v}" if k in query_params else v
    request_context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "local",
        "domainName": "127.0.0.1",
        "http": {
            "method": method.upper(),
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": hdrs.get("user-agent", "local"),
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": route_key,
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    if claims is not None:
        request_context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": hdrs,
        "requestContext": request_context,
        "isBase64Encoded": False,
    }
    if query_params:
        event["queryStringParameters"] = query_params
    if path_params:
        event["pathParameters"] = path_params
    if body is not None:
        event["body"] = body
    return event


@dataclass
class HttpResult:
    """One answer as a client receives it: a base64-encoded function response (``isBase64Encoded``,
    the invoice PDF) decoded, as API Gateway decodes it. ``content``: the bytes; ``body``: as text."""

    status: int
    headers: dict[str, str]
    body: str
    function: str | None
    content: bytes = b""

    def __post_init__(self) -> None:
        self.content = self.content or self.body.encode()

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


NOT_FOUND = json.dumps({"error": {"code": "NOT_FOUND", "message": "no such route", "details": []}})


def invoke(
    method: str,
    path: str,
    query: str = "",
    headers: dict[str, str] | None = None,
    body: str | None = None,
    claims: dict[str, Any] | None = None,
    *,
    json_by_default: bool = True,
) -> HttpResult:
    """Route one request as API Gateway would and run the function in this process."""
    found = cfn.find_route(method, path)
    if found is None:
        return HttpResult(404, {"content-type": "application/json"}, NOT_FOUND, None)
    route, params = found
    event = http_event(method, path, route.route_key, params, query, headers, body, claims,
                       json_by_default=json_by_default)  # fmt: skip
    module = cfn.load_handler_module(route.code_uri)
    response = module.lambda_handler(event, lambda_context(route.function))
    resp_headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        content = base64.b64decode(body, validate=True)
        return HttpResult(int(response["statusCode"]), resp_headers, content.decode(errors="replace"), route.function,
                          content)  # fmt: skip
    return HttpResult(int(response["statusCode"]), resp_headers, body, route.function)
