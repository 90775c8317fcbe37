"""R19: docs/limits.md is the limits the code enforces, and bodies nested too deep are measured
without being parsed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from billing import limits as L
from billing.http.openapi import pydantic_model
from billing.http.resolver import body_problem
from billing.inputs import JobIn, LineIn, RecordIn

DOC = Path(__file__).resolve().parents[2] / "docs" / "limits.md"


def table() -> dict[str, str]:
    rows = [ln for ln in DOC.read_text().splitlines() if ln.startswith("| ") and not ln.startswith("| what")]
    return {cells[0]: cells[1] for cells in ([c.strip() for c in r.strip("|").split("|")] for r in rows)}


def number(n: object) -> str:
    return f"{n:,}"


@pytest.mark.parametrize(
    ("row", "says"),
    [
        ("lines per job", f"1-{L.LINES_PER_JOB}"),
        ("lines per shipment", f"1-{L.LINES_PER_SHIPMENT}"),
        ("deposit invoices per job", f"{L.DEPOSITS_PER_JOB}"),
        ("pending scheduled records per job", f"{L.PENDING_PER_JOB}"),
        ("`customer_name`", f"1-{L.CUSTOMER_NAME_MAX} characters"),
        ("a line's `item_code`", f"1-{L.ITEM_CODE_MAX} characters"),
        ("a line's `description`", f"at most {L.LINE_DESCRIPTION_MAX} characters"),
        ("`title`, `item_description`", f"at most {L.TEXT_MAX} characters"),
        ("`description` of a record or a final invoice", f"at most {number(L.LONG_TEXT_MAX)} characters"),
        ("`Idempotency-Key`", f"1-{L.IDEMPOTENCY_KEY_MAX} visible ASCII characters"),
        ("`next_token`", f"at most {number(L.NEXT_TOKEN_MAX)} characters"),
        ("quantity", f"below {number(int(L.MAX_QUANTITY))}"),
        ("unit price", f"below {number(int(L.MAX_UNIT_PRICE))}"),
        ("percent", "at most 100"),
        ("JSON nesting", f"{L.JSON_DEPTH_MAX} levels"),
        ("a JSON number", f"at most {L.JSON_NUMBER_MAX} characters"),
        ("body size", f"at most {number(L.BODY_CHARS_MAX)} characters"),
    ],
)
def test_the_limits_page_states_each_limit_the_code_enforces(row, says):
    assert says in table()[row], (row, table().get(row))


def test_ids_in_the_page_are_the_pattern_the_code_checks():
    cell = next(v for k, v in table().items() if k.startswith("ids:"))
    assert f"1-{L.ID_MAX} characters" in cell
    assert re.fullmatch(L.ID_PATTERN, "SO-1001_a.b") and not re.fullmatch(L.ID_PATTERN, "SO 1/2")


def test_any_amount_row_names_the_amount_limit():
    cell = next(v for k, v in table().items() if k.startswith("any amount"))
    assert f"below {number(int(L.MAX_AMOUNT))}" in cell


def test_the_request_models_carry_the_limits():
    # as the OpenAPI document shows them, which is where a client reads them
    job = pydantic_model(JobIn).model_json_schema()
    assert job["properties"]["lines"]["maxItems"] == L.LINES_PER_JOB
    assert job["properties"]["customer_name"]["maxLength"] == L.CUSTOMER_NAME_MAX
    line = pydantic_model(LineIn).model_json_schema()["properties"]
    assert (line["description"]["maxLength"], line["item_code"]["maxLength"]) == (
        L.LINE_DESCRIPTION_MAX,
        L.ITEM_CODE_MAX,
    )
    rec = pydantic_model(RecordIn).model_json_schema()["properties"]
    assert (rec["title"]["maxLength"], rec["description"]["maxLength"]) == (L.TEXT_MAX, L.LONG_TEXT_MAX)


@pytest.mark.parametrize(
    ("text", "deeper"),
    [
        ('{"lines": [{"line_id": "1"}]}', False),
        ("[[[[[1]]]]]", False),
        ("[[[[[[1]]]]]]", True),
        ('{"a": "[[[[[[[[[[[[", "b": "\\"[[[[[[[["}', False),  # brackets in strings do not count
        ('{"amount": "1.00", "x": ' + "[" * 1000 + "]" * 1000 + "}", True),
        ("[" * 100_000, True),  # unbalanced, and far past any recursion limit: measured, not parsed
        ('["' + '\\"' * 200_000, False),  # an unclosed string of escaped quotes: one token, not one per quote
    ],
)
def test_nesting_is_measured_linearly_strings_excluded(text, deeper):
    assert (body_problem(text) is not None) is deeper
