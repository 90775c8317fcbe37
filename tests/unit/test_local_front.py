"""The local front's request checks (local.front): cross-origin writes, strict UTF-8 bodies."""

from __future__ import annotations

import json

import pytest

from local.front import Server, cross_origin_refusal, decode_body, own_origins

PORT = 3617


def refused(method: str, **headers: str) -> bool:
    reply = cross_origin_refusal(method, {k.replace("_", "-"): v for k, v in headers.items()}, PORT)
    if reply is None:
        return False
    body = json.loads(reply.body)
    assert reply.status == 403 and body["error"]["code"] == "FORBIDDEN" and body["error"]["details"] == []
    return True


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_another_origin_may_not_change_state(method: str) -> None:
    assert refused(method, origin="http://evil.example")
    assert refused(method, origin="null")  # a sandboxed frame, a file:// page
    assert refused(method, origin=f"http://127.0.0.1:{PORT + 1}")  # another local server
    assert refused(method, origin=f"https://127.0.0.1:{PORT}")
    assert refused(method, origin=f"http://127.0.0.1:{PORT},http://evil.example")  # repeated header
    assert refused(method, sec_fetch_site="cross-site")
    assert refused(method, sec_fetch_site="same-site")  # localhost on another port
    assert refused(method, origin=f"http://127.0.0.1:{PORT}", sec_fetch_site="cross-site")


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_own_pages_and_clients_without_origin_pass(method: str) -> None:
    assert not refused(method)  # curl, scripts, tests
    for origin in own_origins(PORT):
        assert not refused(method, origin=origin, sec_fetch_site="same-origin")
    assert not refused(method, origin=f"HTTP://LOCALHOST:{PORT}/")
    assert not refused(method, sec_fetch_site="none")  # typed by the user


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_reads_are_not_checked(method: str) -> None:
    assert not refused(method, origin="http://evil.example", sec_fetch_site="cross-site")


def test_bodies_are_decoded_strictly() -> None:
    assert decode_body(b"") is None
    assert decode_body("Zürich".encode()) == "Zürich"
    for raw in (b"\xff", b'{"a": "\xc3"}', "é".encode("latin-1")):
        with pytest.raises(UnicodeDecodeError):
            decode_body(raw)


def test_the_listen_backlog_takes_many_parallel_clients() -> None:
    assert Server.request_queue_size >= 128
