"""The template's functions, invoked in this process, and Lambda's Invoke API for them (the
automation's continuations call ``AWS_ENDPOINT_URL_LAMBDA``, which is this runner).

One invocation at a time per function, as in one Lambda execution environment (the handlers'
module state is not shared across threads). The HTTP functions' routers keep the current request
in module state (``billing.routes``' routers are shared by the functions that import them), so the
HTTP functions take turns: one lock for all of them.
"""

from __future__ import annotations

import json
import re
import threading
import traceback
from collections.abc import Callable
from typing import Any

from . import cfn, fixtures
from .base import Reply, log

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")


class Functions:
    def __init__(self, spawn: Callable[..., None]) -> None:
        """``spawn(name, target, *args)`` runs ``target`` in a thread the stack waits for at stop."""
        self.spawn = spawn
        self.locks: dict[str, threading.Lock] = {
            f: threading.Lock() for f in cfn.resources("AWS::Serverless::Function")
        }
        http_lock = threading.Lock()
        for route in cfn.http_routes():
            self.locks[route.function] = http_lock

    def one_at_a_time(self) -> None:
        """One lock for every function (moto's tables are not thread-safe: tests/conftest.py's atomic_calls)."""
        shared = threading.Lock()
        self.locks = dict.fromkeys(self.locks, shared)

    def call(self, function: str, event: dict[str, Any]) -> Any:
        """Invoke ``function`` (a logical id) with ``event``, in its turn; exceptions propagate."""
        with self.locks[function]:
            return fixtures.invoke_function(function, event)

    def invoke(self, function: str, event: dict[str, Any], what: str) -> tuple[Any, Exception | None]:
        """``call``, with a failure logged (``what`` names the caller) and returned, not raised."""
        try:
            return self.call(function, event), None
        except Exception as exc:
            log(f"{what}: {function} failed:\n{traceback.format_exc().rstrip()}")
            return None, exc

    def invoke_reply(self, function: str, event: dict[str, Any], what: str) -> Reply:
        """The function's result as an HTTP reply: 200, the error's own status for a BillingError, else 500."""
        from billing.errors import BillingError

        result, exc = self.invoke(function, event, what)
        if exc is None:
            return Reply.json(result, 200, function)
        if isinstance(exc, BillingError):
            return Reply(exc.status, json.dumps(exc.body()).encode(), function=function)
        return Reply.json({"errorType": type(exc).__name__, "errorMessage": str(exc)}, 500, function)

    def lambda_invoke(self, name: str, headers: dict[str, str], body: str | None) -> Reply:
        """Lambda's Invoke API for this stack's functions (``arn:...:function:<logical id>``)."""
        function = name.rsplit("function:", 1)[-1].split(":", maxsplit=1)[0]
        if function not in self.locks:
            return Reply.json({"Type": "User", "message": f"Function not found: {name}"}, 404)
        event = json.loads(body) if body else {}
        kind = headers.get("x-amz-invocation-type", "RequestResponse")
        if kind == "DryRun":
            return Reply(204, b"", function=function)
        if kind == "Event":
            self.spawn(f"invoke-{function}", self.invoke, function, event, "async invoke")
            return Reply(202, b"", function=function)
        result, exc = self.invoke(function, event, "invoke")
        if exc is None:
            return Reply.json(result, 200, function)
        reply = Reply.json({"errorType": type(exc).__name__, "errorMessage": str(exc)}, 200, function)
        reply.headers = {"X-Amz-Function-Error": "Unhandled"}
        return reply
