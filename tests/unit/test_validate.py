"""billing.validate: the request models' checks, as a client sees them in a 422 (each problem located
and worded as the contract's error details always have been), and as the OpenAPI document declares them
(``billing.http.openapi.pydantic_model``: the same constraints, checked by pydantic, must agree)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing import inputs, shipments
from billing.http.openapi import pydantic_model
from billing.inputs import ChangeOrderIn, JobIn, SettingsIn
from billing.limits import ID_PATTERN
from billing.shipments import ShipmentIn
from billing.validate import (
    ConfigDict,
    Field,
    Model,
    ValidationError,
    field_validator,
    model_validator,
    strict_pattern,
)
from local.fixtures import order_body


def errors(model: type[Model], body: Any) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(body)
    return [(e["loc"], e["msg"]) for e in info.value.errors()]


def test_every_problem_is_listed_with_its_location_in_declaration_order():
    body = order_body()
    body["lines"][0]["quantity"] = 10  # a JSON number (R10)
    body["lines"][0]["colour"] = "red"
    del body["customer_name"]
    assert errors(JobIn, body) == [
        (("customer_name",), "Field required"),
        (("lines", 0, "quantity"), "Input should be a valid string"),
        (("lines", 0, "colour"), "Extra inputs are not permitted"),
    ]


def test_a_tax_code_key_is_checked_as_a_key_and_its_value_under_the_key():
    body = {"tax_codes": {"bad code": {"name": "VAT", "rate": "x", "account": "2200"}, "VAT5": {"name": "V"}}}
    found = errors(SettingsIn, body)
    assert found[1] == (("tax_codes", "bad code", "rate"), 'Value error, rate must be a decimal string such as "12.50"')
    assert found[:1] + found[2:] == [
        (("tax_codes", "bad code", "[key]"), f"String should match pattern '{ID_PATTERN}'"),
        (("tax_codes", "VAT5", "rate"), "Field required"),
        (("tax_codes", "VAT5", "account"), "Field required"),
    ]


def test_a_list_over_its_limit_is_refused_whole_without_reading_its_items():
    body = {"reason": "r", "lines": [{"line_id": "1", "quantity": 5}] * 201}
    (only,) = errors(ChangeOrderIn, body)
    assert only[0] == ("lines",) and "at most" in only[1] and "not 201" in only[1]


def test_strict_types_a_number_is_not_a_string_nor_a_bool_an_integer():
    assert errors(SettingsIn, {"version": True, "tax_on_deposits": 1}) == [
        (("tax_on_deposits",), "Input should be a valid boolean"),
        (("version",), "Input should be a valid integer"),
    ]
    assert errors(SettingsIn, {"version": -1}) == [(("version",), "Input should be greater than or equal to 0")]
    assert errors(JobIn, [order_body()]) == [((), "Input should be a valid dictionary or instance of JobIn")]


def test_a_pattern_ends_at_the_end_of_the_text_not_before_a_final_newline():
    assert strict_pattern("^[A-Z]{3}$").search("USD") and not strict_pattern("^[A-Z]{3}$").search("USD\n")
    assert errors(ShipmentIn, {"shipment_id": "SH-1\n", "order_id": "SO-1", "ship_date": "2026-12-01",
                               "lines": [{"line_id": "1", "quantity": "1"}]})[0][0] == ("shipment_id",)  # fmt: skip


def test_a_validator_message_is_a_value_error_and_a_json_text_is_read_first():
    assert errors(JobIn, {**order_body(), "currency": "XXX"}) == [
        (("currency",), "Value error, unsupported currency; supported: " + ", ".join(sorted(_currencies())))
    ]
    with pytest.raises(ValidationError) as info:
        JobIn.model_validate_json('{"id": ')
    assert info.value.errors()[0]["type"] == "json_invalid"


def _currencies() -> list[str]:
    from billing.money import MINOR_UNITS

    return list(MINOR_UNITS)


def test_half_a_surrogate_pair_is_not_text():
    assert errors(JobIn, {**order_body(), "customer_name": "\ud800"}) == [
        (("customer_name",), "Input should be a valid string, unable to parse raw data as a unicode string")
    ]
    assert JobIn.model_validate({**order_body(), "customer_name": "Ünïcødé 株式会社 🏗"}).customer_name.startswith("Ü")


def _models(module: Any) -> list[type[Model]]:
    return [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, Model) and v is not Model]


@pytest.mark.parametrize("model", [*_models(inputs), *_models(shipments)], ids=lambda m: m.__name__)
def test_every_request_model_is_one_these_checks_can_read(model: type[Model]):
    """Its checks are built when first used: an annotation or a validator they cannot read fails here,
    not on a client's first request."""
    with pytest.raises(ValidationError):
        model.model_validate([])


def test_a_declaration_the_checks_cannot_honour_is_refused_when_written():
    with pytest.raises(TypeError, match="le"):
        Field(max_length=3, le=5)
    with pytest.raises(TypeError, match="after"):
        model_validator(mode="before")

    class Floaty(Model):
        x: float

    class Misnamed(Model):
        x: str

        @field_validator("y")
        @classmethod
        def _y(cls, v: str) -> str:
            return v

    for model in (Floaty, Misnamed):
        with pytest.raises(TypeError):
            model.model_validate({"x": "1"})


def test_a_subclass_replaces_its_bases_validator_and_default():
    class Base(Model):
        x: str = "base"

        @field_validator("x")
        @classmethod
        def _x(cls, v: str) -> str:
            raise ValueError("the base's")

    class Child(Base):
        x: str  # required again

        @field_validator("x")
        @classmethod
        def _x(cls, v: str) -> str:
            return v.upper()

    assert Child.model_validate({"x": "a"}).x == "A"
    assert errors(Child, {}) == [(("x",), "Field required")]
    assert errors(Base, {"x": "a"}) == [(("x",), "Value error, the base's")]


def test_what_was_sent_is_known_and_dumped_with_the_defaults():
    s = SettingsIn.model_validate({"accounts": {"revenue": "4100"}})
    assert s.model_fields_set == {"accounts"}
    assert s.accounts is not None and s.accounts.model_dump(exclude_none=True) == {"revenue": "4100"}
    assert s.model_dump()["company"] is None and s.model_dump(exclude_none=True) == {"accounts": {"revenue": "4100"}}
    assert "revenue='4100'" in repr(s.accounts)


class _Probe(Model):
    model_config = ConfigDict(extra="forbid", strict=True)  # as every request model's
    code: Annotated[str, Field(min_length=1, max_length=8, pattern=r"^[A-Z0-9-]+$")]
    count: Annotated[int, Field(ge=1)] = 1
    tags: Annotated[list[Annotated[str, Field(max_length=3)]], Field(min_length=1, max_length=3)] | None = None
    flag: bool = False


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 10) | st.text(max_size=10) | st.sampled_from(["AB-1", "X", "abc"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["code", "count", "x"]), inner),
    max_leaves=8,
)
_BODIES = st.dictionaries(st.sampled_from(["code", "count", "tags", "flag", "extra"]), _JSON, max_size=5)


@settings(max_examples=400, deadline=None)
@given(_BODIES)
def test_the_checks_agree_with_pydantic_reading_the_same_declarations(body: dict[str, Any]):
    """What the OpenAPI document declares (pydantic, strict) is what is enforced: the same bodies accepted,
    the same fields named for the rejected ones."""
    strict = pydantic_model(_Probe)
    try:
        expected = strict.model_validate_json(json.dumps(body), strict=True)
    except pydantic.ValidationError as e:
        theirs = {tuple(err["loc"]) for err in e.errors()}
        with pytest.raises(ValidationError) as info:
            _Probe.model_validate(body)
        assert {tuple(err["loc"]) for err in info.value.errors()} <= theirs
        return
    assert _Probe.model_validate(body).model_dump() == expected.model_dump()
