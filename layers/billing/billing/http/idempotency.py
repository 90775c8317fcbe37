"""R11: a POST runs once per ``Idempotency-Key``; a repeat gets the first response back, unchanged."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import zlib
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from ..config import config
from ..errors import IdempotencyConflict, ValidationFailed
from .identity import caller
from .resolver import json_response
from .router import Response, Router

_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
# The prefix of every stored idempotency record's id (``<prefix>#<hash>``). Powertools derives it from
# the decorated function's module path unless told; it is pinned to what the first release wrote
# (``billing/http.py``), so that moving the code never orphans the records of the last 24 hours.
KEY_SUFFIX = "billing.http.idempotent.<locals>.once"
# The largest packed answer the idempotency record keeps (its item is at most 400 KB, with the key,
# the payload hash and Powertools' JSON around it); a larger one is answered again by ``run``.
PACKED_MAX = 300_000


def key_prefix() -> str:
    return f"{os.environ.get('AWS_LAMBDA_FUNCTION_NAME', 'test-func')}.{KEY_SUFFIX}"


@lru_cache(maxsize=4)
def _persistence(table_name: str, region: str, endpoint_url: str | None) -> Any:
    """Powertools' persistence layer for one table (cached per configuration, built when first used)."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    client = None
    if endpoint_url:
        import boto3

        client = boto3.client("dynamodb", region_name=region, endpoint_url=endpoint_url)
    return DynamoDBPersistenceLayer(table_name=table_name, boto3_client=client)


def idempotent(app: Router, body: Any, run: Callable[[str | None], tuple[Any, int]]) -> Response:
    """Run a POST once per ``Idempotency-Key``: a repeat gets the first response back, unchanged.

    The key is scoped to the caller and the route; the same key with another body is 409
    ``IDEMPOTENCY_CONFLICT``. A request that fails is not remembered, so it can be retried.

    Two layers: Powertools' idempotency table answers repeats without touching the books, and
    ``run`` gets a token derived from the key that the service writes into the change itself
    (record id, job), so even a resend after the cache expired, or after a crash between the
    commit and the response, cannot bill twice.
    """
    key = app.current_event.headers.get("idempotency-key")
    if key is None:
        payload, status = run(None)
        return json_response(payload, status)
    if not _IDEMPOTENCY_KEY.match(key):
        raise ValidationFailed(
            "Idempotency-Key must be 1-255 visible ASCII characters",
            [{"field": "Idempotency-Key", "message": "1-255 visible ASCII characters"}],
        )
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    cfg = config()
    idem_config = IdempotencyConfig(
        event_key_jmespath="[caller, route, key]",
        payload_validation_jmespath="body",
        expires_after_seconds=cfg.idempotency_ttl_seconds,
        raise_on_no_idempotency_key=True,
    )
    if app.lambda_context is not None:
        idem_config.register_lambda_context(app.lambda_context)

    request = {
        "caller": caller(app),
        "route": f"{app.current_event.http_method} {app.current_event.path}",
        "key": key,
        "body": body,
    }
    token = hashlib.sha256(json.dumps([request["caller"], request["route"], key]).encode()).hexdigest()
    store = _persistence(cfg.idempotency_table_name, cfg.region, cfg.endpoint_url)

    ran: list[Any] = []  # the payload, when ``once`` ran (not a replay)

    @idempotent_function(
        data_keyword_argument="request", persistence_store=store, config=idem_config, key_prefix=key_prefix()
    )
    def once(request: dict[str, Any]) -> dict[str, Any]:
        payload, status = run(token)
        ran.append(payload)
        packed = pack(payload)
        if len(packed) > PACKED_MAX:  # too large for the record: a repeat runs again, with the same token
            return {"status": status, "rerun": True}
        return {"status": status, "zbody": packed}

    try:
        result = once(request=request)
    except IdempotencyValidationError:
        raise IdempotencyConflict("this Idempotency-Key was already used with a different request body") from None
    except IdempotencyAlreadyInProgressError:
        raise IdempotencyConflict("a request with this Idempotency-Key is still in progress") from None
    # A replay is answered from the stored record, without running the request: ``once`` did not run.
    if ran:
        body = ran[0]
    elif result.get("rerun"):
        # The answer was too large to keep: the service's own guard (the token it wrote into the
        # change: record id, job, final, void, change order) answers with what the first run wrote.
        body, _ = run(token)
    else:
        body = unpack(result["zbody"]) if "zbody" in result else result["body"]  # "body": before packing
    return json_response(body, int(result["status"]), {"Idempotent-Replay": "false" if ran else "true"})


def pack(payload: Any) -> str:
    """The response as the idempotency record keeps it: compressed. Powertools stores the record as
    ASCII JSON (6 to 12 bytes for a non-ASCII character), so the largest answer the limits allow (a final
    invoice of 200 lines and 200 deposits in 4-byte characters, ~300 KB in UTF-8) would not fit a
    400 KB item as it is; compressed UTF-8 in base64 does, with room to spare."""
    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return base64.b64encode(zlib.compress(raw, 6)).decode("ascii")


def unpack(packed: str) -> Any:
    return json.loads(zlib.decompress(base64.b64decode(packed)))
