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
from .base import JSON_TYPE, Reply, error, log
from .gateway import invoke
from .identity import local_claims
from .lambda_api import INVOKE_PATH
from .scheduler import event_at

if TYPE_CHECKING:
    from .stack import Stack


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
        result = invoke(method, path, query, headers, body, claims)  # the gateway's 404
    else:
        with stack.functions.locks[found[0].function]:
            result = invoke(method, path, query, headers, body, claims)
    extra = {k: v for k, v in result.headers.items() if k != "content-type"}
    return Reply(
        result.status, result.body.encode(), result.headers.get("content-type", JSON_TYPE), extra, result.function
    )


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
        body = raw.decode("utf-8", errors="replace") if raw else None
        try:
            reply = dispatch(self.server.stack, self.command, url.path, url.query, headers, body)
        except Exception:
            log(f"{self.command} {url.path} failed:\n{traceback.format_exc().rstrip()}")
            reply = error(500, "INTERNAL_ERROR", "the local runner failed on this request; see its log")
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for key, value in (reply.headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(reply.body)
        ms = (time.monotonic() - started) * 1000
        log(f"{self.command} {self.path} {reply.status} {ms:.0f}ms {reply.function or '-'}")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle
