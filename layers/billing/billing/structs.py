"""``@struct``: a dataclass whose methods are not compiled when its module is imported.

``dataclasses.dataclass`` writes a class's ``__init__``, ``__repr__`` and ``__eq__`` (frozen: also
``__setattr__`` and ``__delattr__``) as source text and compiles it at import: about half a millisecond
a class, 13 ms of every cold start for the layer's classes, the largest part of importing the package
(docs/benchmarks.md). ``struct`` lets ``dataclasses`` find the fields, so ``dataclasses.fields``,
``replace`` and ``asdict`` work as on any dataclass, and gives the class methods made once here that
read the fields: the same behaviour as ``@dataclass`` / ``@dataclass(frozen=True)`` with its defaults
(positional or keyword arguments, ``field(default=..., default_factory=..., compare=..., repr=...)``,
a field without a default refused after one with, equality within the same class by the tuple of the
compared fields (as through Python 3.12; 3.13's field-by-field ``==`` differs only for a value not
equal to itself, a NaN), frozen instances hashed by them, unfrozen ones unhashable). A method the class
defines itself is kept, as ``dataclass`` keeps it. Not supported, as the package uses none:
``__post_init__``, ``InitVar``, ``ClassVar``, ``kw_only``, ``order``, ``slots``.
"""

from __future__ import annotations

import dataclasses
import reprlib
from collections.abc import Callable
from dataclasses import MISSING, FrozenInstanceError, field
from typing import Any, TypeVar, dataclass_transform, overload

__all__ = ["field", "struct"]

T = TypeVar("T")


@overload
def struct(cls: type[T], /) -> type[T]: ...


@overload
def struct(*, frozen: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(field_specifiers=(field,))
def struct(cls: type[T] | None = None, /, *, frozen: bool = False) -> type[T] | Callable[[type[T]], type[T]]:
    def make(cls: type[T]) -> type[T]:
        if hasattr(cls, "__post_init__"):
            raise TypeError(f"{cls.__qualname__}: @struct does not support __post_init__")
        # the fields only: with no method to write, dataclasses compiles nothing worth the name
        made = dataclasses.dataclass(init=False, repr=False, eq=False)(cls)
        for name, method in _methods(made, frozen).items():
            if name not in made.__dict__:  # the class's own (defining __eq__ also puts __hash__ = None there)
                setattr(made, name, method)
        return made

    return make if cls is None else make(cls)


def _methods(cls: type, frozen: bool) -> dict[str, Any]:
    fields = dataclasses.fields(cls)
    known = frozenset(f.name for f in fields)
    missing = object()
    # per field: its default, or a factory that makes it (the default's value itself when it has one)
    defaults = tuple(
        (f.name, f.default_factory if f.default_factory is not MISSING else None, f.default) for f in fields
    )
    defaulted = False
    for name, factory, default in defaults:
        if factory is not None or default is not MISSING:
            defaulted = True
        elif defaulted:
            raise TypeError(f"{cls.__qualname__}: non-default argument {name!r} follows default argument")
    qualname = cls.__qualname__
    assign: Callable[[Any, str, Any], None] = object.__setattr__ if frozen else setattr

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(defaults):
            raise TypeError(
                f"{qualname}.__init__() takes {len(defaults) + 1} positional arguments but {len(args) + 1} were given"
            )
        for key in kwargs:
            if key not in known:
                raise TypeError(f"{qualname}.__init__() got an unexpected keyword argument '{key}'")
        for i, (name, factory, default) in enumerate(defaults):
            if i < len(args):
                if name in kwargs:
                    raise TypeError(f"{qualname}.__init__() got multiple values for argument '{name}'")
                value = args[i]
            elif (value := kwargs.get(name, missing)) is missing:
                if factory is not None:
                    value = factory()
                elif default is MISSING:
                    raise TypeError(f"{qualname}.__init__() missing 1 required argument: '{name}'")
                else:
                    value = default
            assign(self, name, value)

    shown = tuple(f.name for f in fields if f.repr)

    @reprlib.recursive_repr()
    def __repr__(self: Any) -> str:
        return f"{type(self).__qualname__}({', '.join(f'{n}={getattr(self, n)!r}' for n in shown)})"

    def values(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
        return lambda self: tuple(getattr(self, n) for n in names)

    compared = values(tuple(f.name for f in fields if f.compare))  # the tuple dataclasses' __eq__ compares

    def __eq__(self: Any, other: object) -> bool:
        if self is other:
            return True
        if other.__class__ is self.__class__:
            return bool(compared(self) == compared(other))
        return NotImplemented

    methods: dict[str, Any] = {"__init__": __init__, "__repr__": __repr__, "__eq__": __eq__}
    if frozen:
        owner: type[Any] = cls
        hashed = values(tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash)))

        def __hash__(self: Any) -> int:
            return hash(hashed(self))

        def __setattr__(self: Any, name: str, value: Any) -> None:
            if type(self) is cls or name in known:
                raise FrozenInstanceError(f"cannot assign to field {name!r}")
            super(owner, self).__setattr__(name, value)

        def __delattr__(self: Any, name: str) -> None:
            if type(self) is cls or name in known:
                raise FrozenInstanceError(f"cannot delete field {name!r}")
            super(owner, self).__delattr__(name)

        methods.update(__hash__=__hash__, __setattr__=__setattr__, __delattr__=__delattr__)
    else:
        methods["__hash__"] = None  # equal by value and mutable: unhashable, as dataclasses makes it
    for name, method in methods.items():
        if method is not None:
            method.__qualname__ = f"{qualname}.{name}"
    return methods
