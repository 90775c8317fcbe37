"""Request models without pydantic on the request path (docs/benchmarks.md: importing pydantic and
building its validators cost a cold start a third of the floor).

A model is declared as a pydantic model would be, and means the same: ``class LineIn(Model)`` with
annotated fields, ``Annotated[str, Field(max_length=64)]``, ``AfterValidator``, ``field_validator`` and
``model_validator``; every model is strict (a JSON number is not a string, ``1`` is not ``true``) and
forbids fields it does not declare. Validation collects every problem with pydantic's location and
message (``("lines", 0, "quantity")``, ``"Field required"``), so the 422 answer names each field as it
always has. ``billing.http.openapi`` turns the same declarations into pydantic models, at build time
only, for the OpenAPI document.
"""

from __future__ import annotations

import json
import re
import types
import typing
from collections.abc import Callable, Iterable, Sized
from functools import partial
from typing import Any, ClassVar, Union

REQUIRED: Any = object()  # the default of a field that has none
Loc = tuple[str | int, ...]
Check = Callable[[Any, Loc, list[dict[str, Any]]], Any]  # the value as validated, or _BAD (errors appended)
_BAD: Any = object()
# A model's configuration: read by the OpenAPI document (examples); the checks are strict and closed always.
ConfigDict = dict[str, Any]


class Field:
    """A field's constraints (``min_length``, ``max_length``, ``pattern``, ``ge``) and what the
    OpenAPI document says of it (``examples``, ``description``, ``json_schema_extra``)."""

    CONSTRAINTS = ("min_length", "max_length", "pattern", "ge")
    SCHEMA = ("examples", "description", "json_schema_extra")

    def __init__(self, **keywords: Any) -> None:
        unknown = set(keywords) - {*self.CONSTRAINTS, *self.SCHEMA}
        if unknown:  # a constraint this module does not check must not reach the document either
            raise TypeError(f"Field does not take {', '.join(sorted(unknown))}")
        self.keywords = keywords
        self.constraints = {k: keywords[k] for k in self.CONSTRAINTS if keywords.get(k) is not None}


class AfterValidator:
    """A check run on a value that passed its type and constraints: returns the value, or raises
    ``ValueError`` with the message."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn


class _FieldCheck:
    def __init__(self, names: tuple[str, ...], method: Any) -> None:
        self.names, self.fn = names, method.__func__ if isinstance(method, classmethod) else method


def field_validator(*names: str) -> Callable[[Any], Any]:
    """A check of the model's fields ``names`` (a classmethod ``(cls, value) -> value``), run after the
    field's own."""
    return lambda method: _FieldCheck(names, method)


class _ModelCheck:
    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn


def model_validator(*, mode: str) -> Callable[[Any], Any]:
    """A check of the whole model (``(self) -> self``), run when every field is valid."""
    if mode != "after":
        raise TypeError(f"model_validator(mode={mode!r}): only mode='after' is checked")
    return _ModelCheck


class ValidationError(ValueError):
    """Every problem found, as pydantic lists them: ``{"type", "loc", "msg"}``."""

    def __init__(self, title: str, errors: list[dict[str, Any]]) -> None:
        self.title, self._errors = title, errors
        super().__init__(f"{len(errors)} validation error(s) for {title}: " + "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))  # fmt: skip

    def errors(self) -> list[dict[str, Any]]:
        return list(self._errors)


def strict_pattern(pattern: str) -> re.Pattern[str]:
    """``pattern`` as JSON Schema and pydantic read it: a trailing ``$`` is the end of the text, never
    before a final newline (as Python's ``$`` would allow)."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


class Model:
    """A request model: ``Model.model_validate(data)`` or ``model_validate_json(text)``."""

    model_config: ClassVar[dict[str, Any]] = {}
    model_fields_set: set[str]

    def __init__(self, **values: Any) -> None:
        for name, value in values.items():
            setattr(self, name, value)
        self.model_fields_set = set(values)

    @classmethod
    def model_validate(cls, data: Any) -> typing.Self:
        errors: list[dict[str, Any]] = []
        value = _model_check(cls)(data, (), errors)
        if errors:
            raise ValidationError(cls.__name__, errors)
        return typing.cast(typing.Self, value)

    @classmethod
    def model_validate_json(cls, text: str | bytes) -> typing.Self:
        try:
            data = json.loads(text)
        except ValueError as e:
            raise ValidationError(
                cls.__name__, [{"type": "json_invalid", "loc": (), "msg": f"Invalid JSON: {e}"}]
            ) from None
        return cls.model_validate(data)

    @classmethod
    def model_fields(cls) -> dict[str, tuple[Any, Any]]:
        """Each field's annotation and default (``REQUIRED``: none), in declaration order (the base
        class's first)."""
        return {name: (hint, _default(cls, name)) for name, hint in _fields(cls).items()}

    def model_dump(self, *, exclude_none: bool = False) -> dict[str, Any]:
        out = {name: _dump(getattr(self, name), exclude_none) for name in _fields(type(self))}
        return {k: v for k, v in out.items() if v is not None} if exclude_none else out

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _fields(type(self)))
        return f"{type(self).__name__}({shown})"


def _dump(value: Any, exclude_none: bool) -> Any:
    if isinstance(value, Model):
        return value.model_dump(exclude_none=exclude_none)
    if isinstance(value, list):
        return [_dump(v, exclude_none) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v, exclude_none) for k, v in value.items()}
    return value


_FIELDS: dict[type, dict[str, Any]] = {}
_CHECKS: dict[type, Check] = {}


def _fields(cls: type[Model]) -> dict[str, Any]:
    if cls not in _FIELDS:
        hints = typing.get_type_hints(cls, include_extras=True)
        _FIELDS[cls] = {
            n: h for n, h in hints.items() if typing.get_origin(h) is not ClassVar and n != "model_fields_set"
        }
    return _FIELDS[cls]


def _members(cls: type, kind: type) -> Iterable[Any]:
    """The validators of ``kind`` the class has, by name: a subclass's replaces its base's."""
    found: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        found.update({k: v for k, v in vars(klass).items() if isinstance(v, kind)})
    return found.values()


def _default(cls: type, name: str) -> Any:
    """The default of the field ``name`` as the class that declares it last says (none: required)."""
    for klass in cls.__mro__:
        if name in vars(klass).get("__annotations__", {}):
            return vars(klass).get(name, REQUIRED)
    return REQUIRED


def _model_check(cls: type[Model]) -> Check:
    """The check of one model: its fields in order (each with its field validators), then the fields
    it does not declare, then its model validators (built when first needed)."""
    if cls not in _CHECKS:
        _CHECKS[cls] = _build_model_check(cls)
    return _CHECKS[cls]


def _build_model_check(cls: type[Model]) -> Check:
    fields = []
    declared = _fields(cls)
    field_validators = list(_members(cls, _FieldCheck))
    for named in field_validators:
        if set(named.names) - set(declared):
            raise TypeError(f"{cls.__name__}: a field validator names no field: {named.names}")
    for name, hint in declared.items():
        field_checks = [c.fn for c in field_validators if name in c.names]
        fields.append((name, _check(hint), _default(cls, name), field_checks))
    model_checks = [c.fn for c in _members(cls, _ModelCheck)]
    names = {name for name, *_ in fields}

    def check(data: Any, loc: Loc, errors: list[dict[str, Any]]) -> Any:
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            return _error(
                errors, "model_type", loc, f"Input should be a valid dictionary or instance of {cls.__name__}"
            )
        before = len(errors)
        values: dict[str, Any] = {}
        for name, field_check, default, validators in fields:
            if name not in data:
                if default is REQUIRED:
                    _error(errors, "missing", (*loc, name), "Field required")
                continue
            value = field_check(data[name], (*loc, name), errors)
            for validator in validators:
                value = value if value is _BAD else _run(partial(validator, cls), value, (*loc, name), errors)
            values[name] = value
        for extra in data:
            if extra not in names:
                _error(errors, "extra_forbidden", (*loc, extra), "Extra inputs are not permitted")
        if len(errors) > before:
            return _BAD
        model = cls(**values)
        for name, _, default, _ in fields:
            if name not in values:
                setattr(model, name, default)
        for validator in model_checks:
            model = _run(validator, model, loc, errors)
            if model is _BAD:
                return _BAD
        return model

    return check


def _error(errors: list[dict[str, Any]], kind: str, loc: Loc, msg: str) -> Any:
    errors.append({"type": kind, "loc": loc, "msg": msg})
    return _BAD


def _run(fn: Callable[[Any], Any], value: Any, loc: Loc, errors: list[dict[str, Any]]) -> Any:
    try:
        return fn(value)
    except ValueError as e:
        return _error(errors, "value_error", loc, f"Value error, {e}")
    except AssertionError as e:
        return _error(errors, "assertion_error", loc, f"Assertion failed, {e}")


_TYPES: dict[Any, tuple[Callable[[Any], bool], str, str]] = {
    str: (lambda v: type(v) is str, "string_type", "Input should be a valid string"),
    bool: (lambda v: type(v) is bool, "bool_type", "Input should be a valid boolean"),
    int: (lambda v: type(v) is int, "int_type", "Input should be a valid integer"),
}


def _check(hint: Any, constraints: dict[str, Any] | None = None) -> Check:
    """The check of one annotation: a str, bool or int (strict), ``X | None``, ``list[X]``,
    ``dict[K, V]``, a model, or any of these ``Annotated`` with ``Field`` and ``AfterValidator``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        merged = dict(constraints or {})
        for meta in args[1:]:
            if isinstance(meta, Field):
                merged.update(meta.constraints)
        inner = _check(args[0], merged)
        afters = [m.fn for m in args[1:] if isinstance(m, AfterValidator)]
        if not afters:
            return inner

        def after(value: Any, loc: Loc, errors: list[dict[str, Any]]) -> Any:
            value = inner(value, loc, errors)
            for fn in afters:
                value = value if value is _BAD else _run(fn, value, loc, errors)
            return value

        return after
    if origin in (Union, types.UnionType):
        present_types = [a for a in args if a is not type(None)]
        if len(present_types) != 1 or len(args) != 2:
            raise TypeError(f"billing.validate checks X | None only, not {hint!r}")
        (present,) = present_types
        some = _check(present, constraints)
        return lambda value, loc, errors: None if value is None else some(value, loc, errors)
    limits = constraints or {}
    if origin is list:
        return _sized(list, "list_type", "Input should be a valid list", "List", _list_items(_check(args[0])), limits)
    if origin is dict:
        return _sized(dict, "dict_type", "Input should be a valid dictionary", "Dictionary",
                      _dict_items(_check(args[0]), _check(args[1])), limits)  # fmt: skip
    if isinstance(hint, type) and issubclass(hint, Model):
        return _model_check(hint)
    if hint not in _TYPES:
        raise TypeError(f"billing.validate does not check {hint!r}")
    is_type, kind, message = _TYPES[hint]
    rules = scalar_rules(limits)
    text = hint is str

    def scalar(value: Any, loc: Loc, errors: list[dict[str, Any]]) -> Any:
        if not is_type(value):
            return _error(errors, kind, loc, message)
        if text and not value.isascii() and not _encodable(value):  # a lone surrogate ("\ud800")
            return _error(errors, "string_unicode", loc, _NOT_UNICODE)
        for rule in rules:
            problem = rule(value)
            if problem:
                return _error(errors, problem[0], loc, problem[1])
        return value

    return scalar


_NOT_UNICODE = "Input should be a valid string, unable to parse raw data as a unicode string"


def _encodable(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _plural(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


Rule = Callable[[Any], tuple[str, str] | None]  # a value's problem (its type, its message), or None


def scalar_rules(limits: dict[str, Any]) -> list[Rule]:
    """The checks of a string's or a number's constraints (``min_length``, ``max_length``, ``pattern``,
    ``ge``, ``le``), in that order, with pydantic's messages; also the query parameters' (``http.router``)."""
    rules: list[Rule] = []
    if "min_length" in limits:
        n = limits["min_length"]
        rules.append(lambda v: ("string_too_short", f"String should have at least {_plural(n, 'character')}")
                     if len(v) < n else None)  # fmt: skip
    if "max_length" in limits:
        m = limits["max_length"]
        rules.append(lambda v: ("string_too_long", f"String should have at most {_plural(m, 'character')}")
                     if len(v) > m else None)  # fmt: skip
    if "pattern" in limits:
        text, pattern = limits["pattern"], strict_pattern(limits["pattern"])
        rules.append(lambda v: None if pattern.search(v) else ("string_pattern_mismatch",
                                                               f"String should match pattern '{text}'"))  # fmt: skip
    if "ge" in limits:
        ge = limits["ge"]
        rules.append(lambda v: ("greater_than_equal", f"Input should be greater than or equal to {ge}")
                     if v < ge else None)  # fmt: skip
    if "le" in limits:
        le = limits["le"]
        rules.append(lambda v: ("less_than_equal", f"Input should be less than or equal to {le}")
                     if v > le else None)  # fmt: skip
    return rules


def _list_items(item: Check) -> Check:
    def items(value: list[Any], loc: Loc, errors: list[dict[str, Any]]) -> Any:
        out = [item(v, (*loc, i), errors) for i, v in enumerate(value)]
        return _BAD if any(v is _BAD for v in out) else out

    return items


def _dict_items(key: Check, item: Check) -> Check:
    def items(value: dict[Any, Any], loc: Loc, errors: list[dict[str, Any]]) -> Any:
        out = {}
        for k, v in value.items():
            checked = key(k, (*loc, k, "[key]"), errors)  # the key first, as its problems are listed
            out[checked] = item(v, (*loc, k), errors)
        return _BAD if _BAD in out or any(v is _BAD for v in out.values()) else out

    return items


def _sized(kind: type[Sized], type_error: str, message: str, noun: str, items: Check, limits: dict[str, Any]) -> Check:
    """A list or dict of at least ``min_length`` and at most ``max_length`` items; one too long is not
    read further (its size is the whole problem)."""
    low, high = limits.get("min_length"), limits.get("max_length")

    def sized(value: Any, loc: Loc, errors: list[dict[str, Any]]) -> Any:
        if not isinstance(value, kind):
            return _error(errors, type_error, loc, message)
        if high is not None and len(value) > high:
            return _error(
                errors,
                "too_long",
                loc,
                f"{noun} should have at most {_plural(high, 'item')} after validation, not {len(value)}",
            )
        if low is not None and len(value) < low:
            return _error(
                errors,
                "too_short",
                loc,
                f"{noun} should have at least {_plural(low, 'item')} after validation, not {len(value)}",
            )
        return items(value, loc, errors)

    return sized
