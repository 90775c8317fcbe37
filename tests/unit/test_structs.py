"""``billing.structs.struct`` behaves as ``dataclasses.dataclass`` does for every use the package makes of it
(the same class declared both ways, compared call by call), and ``billing.loading`` leaves the collector as
it promises. What they are for, a faster cold start, is measured by the benchmark (docs/benchmarks.md)."""

from __future__ import annotations

import ast
import dataclasses
import gc
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing import loading
from billing.structs import field, struct
from local import cfn


def _pair(frozen: bool) -> tuple[type, type]:
    """One class declared with ``dataclass`` and with ``struct``: required fields, fields not compared, a default
    and a default factory."""

    def body() -> dict[str, Any]:
        return {
            "__annotations__": {"code": "str", "name": "str", "rate": "Decimal", "tags": "list[str]", "n": "int"},
            "name": field(compare=False),
            "tags": field(default_factory=list, compare=False),  # not compared: a frozen line stays hashable
            "n": 0,
            "__module__": __name__,
        }

    made: list[type] = [
        (dataclasses.dataclass(frozen=frozen) if std else struct(frozen=frozen))(type("Line", (), body()))
        for std in (True, False)
    ]
    return made[0], made[1]


CALLS: st.SearchStrategy[tuple[tuple[Any, ...], dict[str, Any]]] = st.one_of(
    st.tuples(st.text(max_size=3), st.text(max_size=3), st.decimals(allow_nan=False, places=2)).map(lambda a: (a, {})),
    st.fixed_dictionaries(
        {"code": st.text(max_size=2), "name": st.text(max_size=2), "rate": st.sampled_from([Decimal(1), Decimal(2)])},
        optional={"tags": st.lists(st.text(max_size=1), max_size=2), "n": st.integers(-2, 2)},
    ).map(lambda kw: ((), kw)),
    # wrong calls: too many, too few, unknown or repeated arguments
    st.sampled_from(
        [
            (("a", "b", Decimal(1), [], 1, "extra"), {}),
            (("a",), {}),
            ((), {"code": "a", "name": "b"}),
            (("a", "b", Decimal(1)), {"colour": "red"}),
            (("a", "b", Decimal(1)), {"code": "again"}),
        ]
    ),
)


def _outcome(cls: type, call: tuple[tuple[Any, ...], dict[str, Any]]) -> Any:
    args, kwargs = call
    try:
        return cls(*args, **kwargs)
    except TypeError:
        return TypeError  # refused alike (the messages' wording may differ)


@pytest.mark.parametrize("frozen", [False, True])
@given(a=CALLS, b=CALLS)
def test_a_struct_is_made_compared_shown_and_hashed_as_the_same_dataclass(frozen, a, b):
    std, ours = _pair(frozen)
    std_a, std_b, our_a, our_b = _outcome(std, a), _outcome(std, b), _outcome(ours, a), _outcome(ours, b)
    assert (std_a is TypeError, std_b is TypeError) == (our_a is TypeError, our_b is TypeError)
    if std_a is TypeError or std_b is TypeError:
        return
    assert dataclasses.astuple(our_a) == dataclasses.astuple(std_a)
    assert repr(our_a) == repr(std_a)
    assert (our_a == our_b) == (std_a == std_b)  # ``name`` and ``tags`` are not compared
    assert our_a != std_a and our_a != dataclasses.astuple(our_a)  # another class: never equal
    if frozen:
        assert hash(our_a) == hash(std_a) and ((hash(our_a) == hash(our_b)) or our_a != our_b)
        assert hash(our_a) == hash(dataclasses.replace(our_a, name="renamed"))
    else:
        with pytest.raises(TypeError, match="unhashable"):
            hash(our_a)


def test_a_frozen_struct_refuses_changes_and_dataclasses_helpers_work_on_it():
    _, line = _pair(frozen=True)
    x = line("a", "b", Decimal("1.50"))
    for change in (lambda: setattr(x, "code", "z"), lambda: delattr(x, "code"), lambda: setattr(x, "new", 1)):
        with pytest.raises(dataclasses.FrozenInstanceError):
            change()
    y = dataclasses.replace(x, rate=Decimal(2))
    assert (y.code, y.rate, x.rate) == ("a", Decimal(2), Decimal("1.50"))
    assert dataclasses.asdict(x) == {"code": "a", "name": "b", "rate": Decimal("1.50"), "tags": [], "n": 0}
    assert [f.name for f in dataclasses.fields(line)] == ["code", "name", "rate", "tags", "n"]
    assert line("a", "b", Decimal(1)).tags is not line("a", "b", Decimal(1)).tags  # a new list each time


def test_a_method_the_class_defines_is_kept_and_unsupported_features_are_refused():
    @struct
    class Shown:
        x: int

        def __repr__(self) -> str:
            return f"<{self.x}>"

    assert repr(Shown(1)) == "<1>" and Shown(1) == Shown(1) and Shown(1) != Shown(2)
    with pytest.raises(TypeError, match="non-default argument 'y' follows default argument"):

        @struct
        class Misordered:  # mypy refuses it too
            x: int = 0
            y: int  # type: ignore[misc]

    with pytest.raises(TypeError, match="__post_init__"):

        @struct
        class Checked:
            x: int

            def __post_init__(self) -> None: ...


def test_loading_holds_the_collector_off_then_in_lambda_freezes_what_was_loaded(monkeypatch):
    assert gc.isenabled()
    monkeypatch.delenv("AWS_LAMBDA_RUNTIME_API", raising=False)
    frozen = gc.get_freeze_count()
    with loading():
        assert not gc.isenabled()
        kept: list[list[int]] = [[] for _ in range(100)]
    assert gc.isenabled() and gc.get_freeze_count() == frozen  # not in Lambda: nothing frozen
    monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")
    try:
        with loading():
            kept += [[] for _ in range(100)]
        assert gc.isenabled() and gc.get_freeze_count() >= frozen + len(kept)
        with pytest.raises(RuntimeError), loading():
            raise RuntimeError("an import failed")
        assert gc.isenabled()  # back on even so
        gc.disable()
        with loading():
            pass
        assert not gc.isenabled()  # someone else's choice: left as it was
    finally:
        gc.enable()
        gc.unfreeze()  # what this test froze (nothing else is frozen outside Lambda)


def test_every_function_imports_its_modules_with_the_collector_off():
    root = Path(cfn.__file__).resolve().parent.parent
    for name, resource in cfn.resources("AWS::Serverless::Function").items():
        tree = ast.parse((root / resource["Properties"]["CodeUri"] / "app.py").read_text())
        imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        loaded = {
            alias.name if isinstance(node, ast.Import) else node.module for node in imports for alias in node.names
        }
        assert loaded <= {"os", "typing", "billing"}, name  # only what is loaded already, and billing.loading
        withs = [n for n in tree.body if isinstance(n, ast.With)]
        assert len(withs) == 1 and ast.unparse(withs[0].items[0].context_expr) == "loading()", name
        assert any(
            isinstance(n, ast.ImportFrom) and (n.module or "").startswith("billing.") for n in ast.walk(withs[0])
        )
