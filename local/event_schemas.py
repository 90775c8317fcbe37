"""The JSON Schema (draft 2020-12) of each R17 event as a rule's target receives it, from the same
TypedDicts the API answers with: ``make openapi`` writes them to docs/events/<type>.schema.json and
``tests/unit/test_event_schemas.py`` fails when they drift. The tests validate every published event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "events"


def _documents() -> dict[str, Any]:
    from billing.documents import ChangeOrderDoc, InvoiceDoc, JobDoc, RecordDoc, ShipmentDoc

    return {"job": JobDoc, "record": RecordDoc, "invoice": InvoiceDoc, "change_order": ChangeOrderDoc,
            "shipment": ShipmentDoc}  # fmt: skip


def schema(event_type: str) -> dict[str, Any]:
    from pydantic import TypeAdapter

    from billing.events import DOCUMENT, SOURCE, EventType

    name = DOCUMENT[EventType(event_type)]
    full = TypeAdapter(_documents()[name]).json_schema()
    defs = full.pop("$defs", {})
    alternatives: list[dict[str, Any]] = [
        full,
        {  # too large for an event (docs/events.md): its short fields only; GET the whole document
            "type": "object",
            "title": f"{full['title']} (summary)",
            "required": ["truncated"],
            "properties": {"truncated": {"const": True}},
        },
    ]
    if event_type == EventType.PROGRESS_BILLING_CANCELLED:
        alternatives.append(
            {  # a pending record a final invoice cancelled: what the job holds of it
                "type": "object",
                "title": "Record cancelled by a final invoice",
                "required": [
                    "record_id",
                    "kind",
                    "job_id",
                    "status",
                    "updated_at",
                    "cancelled_by_invoice_id",
                    "partial",
                ],
                "properties": {"partial": {"const": True}, "status": {"const": "cancelled"}},
            }
        )
    detail = {
        "type": "object",
        "required": ["event_id", "kind", "job_id", "sequence", "occurred_at", "actor", name],
        "properties": {
            "event_id": {"type": "string", "description": "the same on every delivery: dedupe on it"},
            "kind": {"enum": ["order", "project"]},
            "job_id": {"type": "string"},
            "sequence": {"type": "integer", "minimum": 1, "description": "per job: 1, 2, 3... without gaps"},
            "occurred_at": {"type": "string", "description": "when the change committed (ISO 8601, UTC)"},
            "actor": {"$ref": "#/$defs/Actor"},
            name: {"anyOf": alternatives},
        },
    }
    defs.setdefault("Actor", TypeAdapter(_actor()).json_schema())
    return {
        "title": event_type,
        "description": f"The EventBridge event {event_type} (R17), as a rule's target receives it.",
        "type": "object",
        "required": ["source", "detail-type", "detail"],
        "properties": {"source": {"const": SOURCE}, "detail-type": {"const": event_type}, "detail": detail},
        "$defs": defs,
    }


def _actor() -> Any:
    from billing.documents import Actor

    return Actor


def rendered() -> dict[str, str]:
    """File name -> content of every schema."""
    from billing.events import EventType

    return {f"{t.value}.schema.json": json.dumps(schema(t.value), indent=2) + "\n" for t in EventType}


def write() -> None:
    OUT.mkdir(exist_ok=True)
    for name, text in rendered().items():
        (OUT / name).write_text(text)


if __name__ == "__main__":
    write()
