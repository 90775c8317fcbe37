"""The local runner's HTTP front: one loopback server for the API routes of ``template.yaml``
(``local.gateway``, with ``local.identity``'s claims), Lambda's Invoke API (``local.lambda_api``),
the served files (``local.static``) and the ``/_local/*`` operations."""

from __future__ import annotations

import datetime as dt
import json
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from . import cfn, static
from . import sqs as local_sqs
from .base import HOST, JSON_TYPE, Reply, error, log
from .gateway import invoke
from .identity import local_claims
from .lambda_api import INVOKE_PATH
from .scheduler import event_at

if TYPE_CHECKING:
    from .stack import Stack


UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ROUTE_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
NOT_UTF8 = "the request body is not valid UTF-8"
LOCAL_OPERATIONS = (("GET", "/_local/status"), ("POST", "/_local/shipments"), ("POST", "/_local/automation"))


def own_origins(port: int) -> frozenset[str]:
    """The origins of the stack's own pages (the portal, Swagger UI)."""
    return frozenset({f"http://{HOST}:{port}", f"http://localhost:{port}"})


def cross_origin_refusal(method: str, headers: dict[str, str], port: int) -> Reply | None:
    """403 for a state-changing request sent by another origin's page, else None.

    On the local stack no header means the local administrator, so without this any web page the
    user visits could POST to the stack. Browsers name the page's origin in ``Origin`` on every
    POST/PUT/PATCH/DELETE, and ``Sec-Fetch-Site`` says ``cross-site`` or ``same-site`` (another port
    of localhost) for another origin; curl, scripts and tests send neither and pass."""
    if method not in UNSAFE_METHODS:
        return None
    origin = headers.get("origin")
    if origin is not None and origin.strip().rstrip("/").lower() not in own_origins(port):
        why = f"its Origin {origin.strip()!r} is not this stack's"
    elif headers.get("sec-fetch-site", "").strip().lower() in ("cross-site", "same-site"):
        why = f"Sec-Fetch-Site says {headers['sec-fetch-site'].strip()}"
    else:
        return None
    return error(
        403,
        "FORBIDDEN",
        f"cross-origin {method} refused: {why} (http://{HOST}:{port}); the local stack takes state-changing "
        "requests only from its own pages and from clients that send no Origin (curl, scripts)",
    )


def decode_body(raw: bytes) -> str | None:
    """The body as text, strictly (``UnicodeDecodeError`` if it is not UTF-8); None if empty."""
    return raw.decode("utf-8") if raw else None


def allowed_methods(stack: Stack, path: str) -> list[str]:
    """What ``Allow`` lists for ``path``: the methods something answers there (empty: nothing does)."""
    if path == "*":
        return [*ROUTE_METHODS, "HEAD", "OPTIONS"]
    found: list[str] = []
    if path.startswith("/_local/"):
        found = [m for m, p in LOCAL_OPERATIONS if p == path.rstrip("/")]
    elif INVOKE_PATH.match(path):
        found = ["POST"]
    else:
        served = static.serve(path, stack.openapi, stack.swagger)
        if served is not None and served.status == 200:
            found.append("GET")
        found += [m for m in ROUTE_METHODS if m not in found and cfn.find_route(m, path) is not None]
    if not found:
        return []
    if "GET" in found:
        found.insert(found.index("GET") + 1, "HEAD")
    return [*found, "OPTIONS"]


def options(stack: Stack, path: str) -> Reply:
    """204 with ``Allow``; no CORS headers: the local stack is same-origin and grants no other origin."""
    allowed = allowed_methods(stack, path)
    if not allowed:
        return error(404, "NOT_FOUND", f"nothing is served at {path}")
    return Reply(204, b"", headers={"Allow": ", ".join(allowed)})


def dispatch(stack: Stack, method: str, path: str, query: str, headers: dict[str, str], body: str | None) -> Reply:
    """The reply to one request; ``headers`` keys are lower case."""
    if path.startswith("/_local/"):
        return local_operation(stack, method, path, body)
    m = INVOKE_PATH.match(path)
    if m and method == "POST":
        return stack.functions.lambda_invoke(unquote(m.group("name")), headers, body)
    if method == "GET":
        served = static.serve(path, stack.openapi, stack.swagger)
        if served is not None:
            return served
    found = cfn.find_route(method, path)
    claims = local_claims(headers)
    if found is None:
        result = invoke(method, path, query, headers, body, claims, json_by_default=False)  # the gateway's 404
    else:
        with stack.functions.locks[found[0].function]:
            result = invoke(method, path, query, headers, body, claims, json_by_default=False)
    extra = {k: v for k, v in result.headers.items() if k != "content-type"}
    return Reply(result.status, result.content, result.headers.get("content-type", JSON_TYPE), extra, result.function)


def local_operation(stack: Stack, method: str, path: str, body: str | None) -> Reply:
    op = (method, path.rstrip("/"))
    if op == ("GET", "/_local/status"):
        return Reply.json(stack.status())
    if op == ("POST", "/_local/shipments"):
        if not body:
            return error(400, "BAD_REQUEST", "send the shipment message (JSON) as the request body")
        queue = local_sqs.sqs_triggers()[0].queue
        sent = stack.sqs.send_message(QueueUrl=stack.queue_urls[queue], MessageBody=body)
        return Reply.json({"message_id": sent["MessageId"], "queue": queue, "queue_url": stack.queue_urls[queue]}, 202)
    if op == ("POST", "/_local/automation"):
        return run_automation(stack, body)
    return error(404, "NOT_FOUND", f"no local operation {method} {path}; see GET /_local/status")


def run_automation(stack: Stack, body: str | None) -> Reply:
    """The scheduled function, now: its scheduled event (time: now) with the body's overrides."""
    try:
        options = json.loads(body) if body and body.strip() else {}
    except ValueError:
        return error(400, "BAD_REQUEST", 'the body must be JSON, e.g. {"business_date": "2026-12-01"}')
    if not isinstance(options, dict):
        return error(400, "BAD_REQUEST", "the body must be a JSON object")
    if not stack.scheduler.entries:
        return error(404, "NOT_FOUND", "template.yaml has no scheduled function")
    entry = stack.scheduler.entries[0]
    event = event_at(dt.datetime.now(dt.UTC), entry["rule"])
    for key in ("business_date", "time"):  # R5: overrides, for reruns and backfills
        if key in options:
            event[key] = options[key]
    return stack.functions.invoke_reply(entry["function"], event, "automation")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the listen backlog (socketserver's 5 resets connections at 30 parallel clients)

    def __init__(self, address: tuple[str, int], stack: Stack) -> None:
        super().__init__(address, _Handler)
        self.stack = stack


class _Handler(BaseHTTPRequestHandler):
    server: Server
    server_version = "progress-billing-local"

    def log_message(self, format: str, *args: Any) -> None:
        """Replaced by one line per request in ``_handle``."""

    def _handle(self) -> None:
        started = time.monotonic()
        url = urlsplit(self.path)
        headers: dict[str, str] = {}
        for key, value in self.headers.items():
            k = key.lower()
            headers[k] = f"{headers[k]},{value}" if k in headers else value
        declared = self.headers.get("Content-Length", "0").strip()
        length = int(declared) if declared.isdigit() else 0
        raw = self.rfile.read(length) if length > 0 else b""
        reply = self._reply(url.path, url.query, headers, raw)
        self.send_response(reply.status)
        if reply.status != 204:
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
        for key, value in (reply.headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD" and reply.status != 204:
            self.wfile.write(reply.body)
        ms = (time.monotonic() - started) * 1000
        log(f"{self.command} {self.path} {reply.status} {ms:.0f}ms {reply.function or '-'}")

    def _reply(self, path: str, query: str, headers: dict[str, str], raw: bytes) -> Reply:
        stack = self.server.stack
        refused = cross_origin_refusal(self.command, headers, stack.port)  # before anything else
        if refused is not None:
            return refused
        try:
            body = decode_body(raw)
        except UnicodeDecodeError:
            return error(400, "BAD_REQUEST", NOT_UTF8)
        try:
            if self.command == "OPTIONS":
                return options(stack, path)
            method = "GET" if self.command == "HEAD" else self.command  # HEAD: GET's headers, no body
            return dispatch(stack, method, path, query, headers, body)
        except Exception:
            log(f"{self.command} {path} failed:\n{traceback.format_exc().rstrip()}")
            return error(500, "INTERNAL_ERROR", "the local runner failed on this request; see its log")

    do_GET = do_HEAD = do_OPTIONS = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    def __getattr__(self, name: str) -> Any:
        """Any other method (TRACE, QUERY...) is routed too, and answered as API Gateway would: a
        route key the API does not have is 404 in the API's error shape, never http.server's 501 page."""
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)
