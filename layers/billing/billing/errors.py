"""Domain errors. Each carries the HTTP status and error code of the error shape in docs/rules.md.

The HTTP layer maps them to responses in one place (``billing.http``); the other entry points
(SQS, EventBridge) use the codes to decide what to record.
"""

from __future__ import annotations

from typing import Any

from .documents import ErrorBody


class BillingError(Exception):
    status = 400
    code = "BAD_REQUEST"

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def body(self) -> ErrorBody:
        """The error shape of docs/rules.md: the one place it is built."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(BillingError):
    status, code = 400, "BAD_REQUEST"


class ValidationFailed(BillingError):
    status, code = 422, "VALIDATION_ERROR"

    @classmethod
    def field(cls, field: str, message: str) -> ValidationFailed:
        return cls(f"{field}: {message}", [{"field": field, "message": message}])


class UnsupportedMediaType(BillingError):
    status, code = 415, "UNSUPPORTED_MEDIA_TYPE"


class Unauthorized(BillingError):
    status, code = 401, "UNAUTHORIZED"


class Forbidden(BillingError):
    status, code = 403, "FORBIDDEN"


class NotFound(BillingError):
    status, code = 404, "NOT_FOUND"


class AlreadyExists(BillingError):
    status, code = 409, "ALREADY_EXISTS"


class RecordExists(AlreadyExists):
    """A record id that an earlier request (same Idempotency-Key) already wrote."""

    def __init__(self, record_id: str) -> None:
        super().__init__(f"record {record_id} already exists")
        self.record_id = record_id


class JobFinalized(BillingError):
    status, code = 409, "JOB_FINALIZED"


class NotPending(BillingError):
    status, code = 409, "NOT_PENDING"


class NotVoidable(BillingError):
    """R14: a credit note cannot be voided."""

    status, code = 409, "NOT_VOIDABLE"


class AlreadyVoided(BillingError):
    status, code = 409, "ALREADY_VOIDED"


class IdempotencyConflict(BillingError):
    status, code = 409, "IDEMPOTENCY_CONFLICT"


class StaleVersion(BillingError):
    """R20: a ``PUT /settings`` whose ``version`` is not the stored one (another admin saved first)."""

    status, code = 409, "CONFLICT"


class Overbilling(BillingError):
    status, code = 422, "OVERBILLING"


class Busy(BillingError):
    """Too many concurrent changes to the job: our retries ran out (``Conflict`` escaped)."""

    status, code = 503, "BUSY"


class InternalError(BillingError):
    """A fault of the service or of AWS, never of the request."""

    status, code = 500, "INTERNAL_ERROR"


class Conflict(Exception):
    """A conditional write lost a race (the job or the invoice counter changed since it was read).

    Not a client error: the service re-reads and retries; it only escapes after the retries run out.
    """
