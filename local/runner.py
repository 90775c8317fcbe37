"""The whole stack on one machine, with one command (``make run``): no AWS account, no Docker.

- HTTP API: a loopback HTTP server (``local.front``) routes each request to its function by
  ``template.yaml``'s routes (``local.gateway``), with local identities in place of the Cognito JWT
  authorizer (``local.identity``).
- DynamoDB: AWS's DynamoDB Local (data kept in ``.local/ddb``), or moto in memory when Java or
  npm is missing. SQS: a moto server with the template's queues and redrive policy, polled like
  Lambda's event source mapping (``local.sqs``). EventBridge: the template's schedules
  (``local.scheduler``, expressions by ``local.cron``). Lambda's Invoke API is answered here too,
  for the automation's continuations (``local.lambda_api``). All started and stopped by
  ``local.stack``.
- Also served: the portal (``portal/``), the OpenAPI document, Swagger UI (``local.static``), and
  ``/_local/*`` operations (send a shipment, run the automation now, status).

``python -m local.runner --help``; docs/local.md explains it all.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from types import FrameType

from . import cron
from .base import log
from .stack import DEFAULT_DATA_DIR, Interrupted, Stack, StartupError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m local.runner", description="Run the whole stack locally.")
    p.add_argument("--port", type=int, default=3000, help="HTTP port on 127.0.0.1 (default 3000)")
    p.add_argument(
        "--data-dir", default=str(DEFAULT_DATA_DIR), help="DynamoDB Local's data folder (default .local/ddb)"
    )
    p.add_argument(
        "--dynamodb",
        choices=("auto", "local", "moto"),
        default="auto",
        help="auto: DynamoDB Local, else moto in memory; local: DynamoDB Local or fail; moto",
    )
    p.add_argument(
        "--visibility-timeout",
        type=int,
        default=5,
        help="SQS visibility timeout in seconds (the template's 180 s is too slow to watch)",
    )
    p.add_argument("--schedule", help="override the template's schedule expression, e.g. 'rate(1 minute)'")
    p.add_argument("--no-schedule", action="store_true", help="do not fire the schedules")
    args = p.parse_args(argv)
    if args.schedule:
        try:
            cron.parse(args.schedule)
        except cron.ScheduleError as exc:
            p.error(str(exc))
    return args


class StopSignals:
    """SIGINT and SIGTERM set ``stopping``, however many arrive and whenever.

    The handler only writes the signal's number to a pipe (``os.write``: no lock) and a watcher
    thread sets the event. A handler that called ``Event.set()`` itself could hang the runner for
    good: it takes the event's lock, which the main thread may be holding at that very moment
    (inside ``Event.wait``, in ``Stack.stop``'s ``Event.set``, or in an earlier handler interrupted by
    the next signal, as when ``make`` and a process-group kill both deliver one)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, stopping: threading.Event) -> None:
        self.stopping = stopping
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.write_fd, False)  # a full pipe drops a byte, never blocks the handler
        threading.Thread(target=self._watch, name="signals", daemon=True).start()
        for signum in self.SIGNALS:
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(OSError):  # a full pipe: the stop is already on its way
            os.write(self.write_fd, bytes([signum]))

    def ignore(self) -> None:
        """Once stopped: a late signal must not kill the exiting interpreter (Python restores the
        default handlers, which end the process with the signal, as it shuts down; ignored ones stay)."""
        for signum in self.SIGNALS:
            signal.signal(signum, signal.SIG_IGN)

    def _watch(self) -> None:
        while os.read(self.read_fd, 64):
            self.stopping.set()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stack = Stack(args)
    signals = StopSignals(stack.stopping)
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
    signals.ignore()
    log("stopped")
    return code


if __name__ == "__main__":
    sys.exit(main())
