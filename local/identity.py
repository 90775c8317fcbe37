"""Who a loopback request is, in place of the template's Cognito JWT authorizer: the claims of a
bearer JWT (not verified), or the local identities of docs/local.md."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from .fixtures import LOCAL_ADMIN, LOCAL_USER_GROUPS


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
    Otherwise the local administrator, or ``X-Local-User: <name>`` as a clerk (group billing-clerks);
    ``X-Local-Groups: a b`` replaces the groups of either.
    """
    if "authorization" in headers:
        return jwt_claims(headers["authorization"])
    user = headers.get("x-local-user", "").strip()
    claims = (
        dict(LOCAL_ADMIN) if not user else {"sub": user, "cognito:username": user, "cognito:groups": LOCAL_USER_GROUPS}
    )
    if "x-local-groups" in headers:
        groups = [g for g in re.split(r"\s+", headers["x-local-groups"].strip().strip("[]")) if g]
        claims["cognito:groups"] = "[" + " ".join(groups) + "]"
    return claims
