"""What the parts of the local runner share: the reply to one HTTP request and the log line."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

HOST = "127.0.0.1"  # loopback only: the local identities must never be reachable from elsewhere
JSON_TYPE = "application/json"
HTML_TYPE = "text/html; charset=utf-8"

_print_lock = threading.Lock()


def log(message: str) -> None:
    """One timestamped line on standard output (threads do not interleave their lines)."""
    say(f"{time.strftime('%H:%M:%S')} {message}")


def say(text: str) -> None:
    with _print_lock:
        print(text, flush=True)


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: dict[str, str] | None = None
    function: str | None = None  # the function that answered, for the request log

    @classmethod
    def json(cls, payload: Any, status: int = 200, function: str | None = None) -> Reply:
        return cls(status, json.dumps(payload, indent=1).encode(), function=function)


def error(status: int, code: str, message: str) -> Reply:
    """An error in the API's own shape (``{"error": {"code", "message", "details"}}``)."""
    return Reply.json({"error": {"code": code, "message": message, "details": []}}, status)
