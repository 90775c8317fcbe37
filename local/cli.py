"""Talk to a running local stack (``make run``): send a shipment, run the automation, show status.

python -m local.cli ship '{"shipment_id": "SH-1", "order_id": "SO-1001", ...}' [--port 3000]
python -m local.cli ship @shipment.json        (or - for standard input)
python -m local.cli automation [--date 2026-12-01]
python -m local.cli status
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path


def call(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, str]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=body, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=330) as response:  # noqa: S310 - loopback only
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _message(arg: str) -> bytes:
    if arg == "-":
        return sys.stdin.buffer.read()
    if arg.startswith("@"):
        return Path(arg[1:]).read_bytes()
    return arg.encode()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m local.cli", description="Talk to a running local stack (make run).")
    p.add_argument("--port", type=int, default=3000, help="the local stack's port (default 3000)")
    port = argparse.ArgumentParser(add_help=False)  # --port after the command too
    port.add_argument("--port", type=int, default=argparse.SUPPRESS, help="the local stack's port (default 3000)")
    sub = p.add_subparsers(dest="command", required=True)
    ship = sub.add_parser("ship", parents=[port], help="send a shipment message to the template's shipment queue")
    ship.add_argument("message", help="the message JSON, @file, or - for standard input")
    auto = sub.add_parser("automation", parents=[port], help="run the auto-generate automation now")
    auto.add_argument("--date", help="business date YYYY-MM-DD (default: today in BusinessTimezone)")
    sub.add_parser("status", parents=[port], help="where everything is, queue depths")
    args = p.parse_args(argv)

    try:
        if args.command == "ship":
            status, text = call(args.port, "POST", "/_local/shipments", _message(args.message))
        elif args.command == "automation":
            body = json.dumps({"business_date": args.date} if args.date else {}).encode()
            status, text = call(args.port, "POST", "/_local/automation", body)
        else:
            status, text = call(args.port, "GET", "/_local/status")
    except OSError as exc:
        print(f"no local stack on 127.0.0.1:{args.port} ({exc}); start it with: make run", file=sys.stderr)
        return 2
    print(text)
    return 0 if status < 400 else 1


if __name__ == "__main__":
    sys.exit(main())
