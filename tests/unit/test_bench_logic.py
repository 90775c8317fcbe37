"""The benchmark's own logic (bench/): floors and verdicts, statistics, import-time parsing, the
Lambda-like package set, and the report. Pure and fast: no AWS, no subprocess."""

from __future__ import annotations

import pytest

from bench import env, report, roundtrips, sandbox
from bench.coldstart import FLOOR, FUNCTIONS, import_breakdown, paired_ratio
from bench.roundtrips import FLOORS, KEYED, Floor, Measured, verdict, with_idempotency_key


def test_verdict_at_floor_and_above_it():
    floor = Floor(2, 3, "read once, write once")
    assert verdict(Measured(2, 3, ("BatchGetItem", "TransactWriteItems")), floor) == "at floor"
    assert verdict(Measured(1, 0, ("GetItem",)), floor) == "at floor"  # under the floor is fine too
    assert verdict(Measured(3, 3, ()), floor) == "above floor (+1 calls)"
    assert verdict(Measured(3, 5, ()), floor) == "above floor (+1 calls, +2 items)"


def test_an_idempotency_key_adds_exactly_the_two_powertools_calls():
    keyed = with_idempotency_key(FLOORS["create now (amount)"])
    assert (keyed.calls, keyed.items_read) == (4, 3)
    assert "Powertools" in keyed.why


def test_every_operation_has_a_floor_with_a_reason():
    assert set(KEYED) <= set(FLOORS)
    for name, floor in FLOORS.items():
        assert floor.calls >= 1 and floor.items_read >= 0 and len(floor.why) > 20, name
    # the floors the issue names
    assert FLOORS["create now (amount)"].calls == 2
    assert FLOORS["automation, one due record"].calls == 3
    assert FLOORS["get job"].calls == 1


def test_summary_is_the_median_and_ratio_guards_the_floor():
    s = env.summary([5.0, 1.0, 3.0, 100.0, 2.0])
    assert (s["median"], s["min"], s["max"], s["n"]) == (3.0, 1.0, 100.0, 5)
    assert env.summary([1.0, 2.0])["median"] == 1.5
    assert env.ratio(300.0, 200.0) == 1.5
    with pytest.raises(ValueError):
        env.ratio(1.0, 0.0)
    with pytest.raises(ValueError):
        env.summary([])


def test_the_ratio_to_the_floor_pairs_each_round_with_its_own_floor():
    # the machine slows down in round 3: both the function and the floor take twice as long
    functions = [300.0, 330.0, 600.0, 310.0, 290.0]
    floors = [200.0, 200.0, 400.0, 200.0, 200.0]
    assert paired_ratio(functions, floors) == 1.5
    assert env.summary(functions)["median"] / env.summary(floors)["median"] == 1.55  # carries the slow round
    with pytest.raises(ValueError):
        paired_ratio([1.0], [1.0, 2.0])


def test_import_breakdown_sums_self_time_per_group():
    stderr = "\n".join([
        "import time: self [us] | cumulative | imported package",
        "import time:      1000 |       1000 |     botocore.compat",
        "import time:      2000 |       3000 |   botocore",
        "import time:       500 |        500 |   pydantic_core",
        "import time:       250 |        250 |   billing.store",
        "import time:      4000 |       4000 | json",
        "not an import line",
    ])
    out = import_breakdown(stderr)
    assert out["SDK (botocore, boto3 and their dependencies)"] == pytest.approx(3.0)
    assert out["pydantic"] == pytest.approx(0.5)
    assert out["billing (the layer's own code)"] == pytest.approx(0.25)
    assert out["standard library and other"] == pytest.approx(4.0)


def test_the_layers_distributions_are_its_requirements_closure():
    names = {n.lower() for n in sandbox.layer_distributions()}
    # pynamodb requires botocore: that is how botocore ends up in the built layer
    assert {"pynamodb", "pydantic", "aws_lambda_powertools", "botocore"} <= {n.replace("-", "_") for n in names}
    assert "boto3" not in names  # nothing in the layer requires it; the runtime ships it
    assert "moto" not in names and "awscrt" not in names


def test_requirement_names_ignore_comments_pins_and_options():
    lines = ["# a comment", "pydantic==2.1  # pinned", "-r other.txt", "", "pynamodb[signals]>=6 ; python_version>'3'"]
    assert sandbox._requirement_names(lines) == ["pydantic", "pynamodb"]


def test_service_environment_comes_from_the_template():
    e = env.service_environment("http://127.0.0.1:1", log_level="ERROR")
    assert e["TABLE_NAME"] == env.TABLES["BillingTable"]
    assert e["IDEMPOTENCY_TABLE_NAME"] == env.TABLES["IdempotencyTable"]
    assert e["POWERTOOLS_SERVICE_NAME"] == "progress-billing"
    assert e["BUSINESS_TIMEZONE"] == "UTC"  # the parameter's default
    assert (e["POWERTOOLS_LOG_LEVEL"], e["DYNAMODB_ENDPOINT_URL"]) == ("ERROR", "http://127.0.0.1:1")
    assert "DYNAMODB_ENDPOINT_URL" not in env.service_environment(None)


def _fake_results() -> dict:
    timing = {"median": 100.0, "min": 90.0, "max": 120.0, "n": 7}
    row = {"first_event": "x", "total_ms": timing, "import_ms": timing, "first_call_ms": timing, "cpu_ms": timing,
           "ratio_to_floor": 1.2, "cpu_ratio_to_floor": 1.1, "modules_loaded": 300, "notable_modules": ["botocore"],
           "import_breakdown_ms": {"pydantic": 10.0}}
    rows = {t: dict(row) for t in (FLOOR, *FUNCTIONS)}
    rows["ApiFunction"] = {**row, "ratio_to_floor": 1.7}
    run = {"invoiced": 200, "invoiced_per_second": 40.0, "calls_per_record": 2.005, "items_read_per_record": 4.0,
           "calls_by_operation": {"BatchGetItem": 200, "Query": 1, "TransactWriteItems": 200},
           "ms_per_record": {"total": 25.0, "service (billing + pynamodb + Powertools)": 2.0,
                             "botocore (client side)": 3.0, "moto (the stand-in for DynamoDB)": 20.0},
           "maxrss_mb_after": 300.0}
    return {
        "machine": {"cpu_model": "Test CPU", "cores": 2, "memory_mb": 1024, "os": "Linux", "python": "3.11.7",
                    "python_implementation": "CPython", "date": "2026-11-27T00:00:00Z", "packages": {"moto": "5"}},
        "load_average_start": [0.5, 0, 0], "load_average_end": [0.7, 0, 0],
        "seconds": {"coldstart": 60.0, "total": 100.0},
        "coldstart": {"runs": 7, "floor_ms": 100.0, "floor_cpu_ms": 90.0, "scenarios": {"bytecode": rows},
                      "library_costs": [{"library": "pydantic (BaseModel)", "used_by": "shipments", "ms": timing},
                                        {"library": "pynamodb", "used_by": "all", "ms": timing}]},
        "roundtrips": {"operations": [
            {"operation": "get job", "idempotency_key": False, "calls": 1, "items_read": 1,
             "dynamodb_operations": ["GetItem"], "floor_calls": 1, "floor_items_read": 1, "floor_why": "one GetItem",
             "verdict": "at floor"}]},
        "scale": {"large": {"jobs": 20000, "maxrss_mb_after_seed": 250.0, "runs": [run],
                            "seed": {"items": 1000, "invoices_in_history": 10, "pending_not_yet_due": 5,
                                     "seconds": 3.0}}},
    }


def test_the_report_renders_every_section_and_names_what_is_over_the_floor():
    text = report.render(_fake_results())
    for heading in ("# Benchmarks", "## Machine", "## 1. Cold start", "## 2. Built artifacts",
                    "## 3. DynamoDB round trips", "## 4. Automation at scale", "## 5. The automation beyond",
                    "## 6. What was changed"):
        assert heading in text
    assert "Test CPU" in text and "CPython 3.11.7" in text
    assert "Above 1.5x the floor in this run: ApiFunction" in text
    assert "test_run_stops_before_the_timeout_and_continues" in text
    assert "1 of 1 at their floor" in text
    assert "| pydantic (BaseModel) | shipments | 100 | 1.00 |" in text  # the library costs


def test_the_report_shows_before_columns_from_a_baseline():
    results = _fake_results()
    baseline = _fake_results()
    baseline["commit"] = "abc1234"
    baseline["roundtrips"]["operations"][0].update(calls=3, items_read=2)
    text = report.render(results, baseline)
    assert "commit abc1234" in text
    assert "3 calls, 2 items" in text
    assert report._n(1, "item") == "1 item" and report._calls(1) == "1 call"


def test_roundtrip_keys_are_valid_idempotency_keys():
    import re

    keys = {roundtrips.idempotency_key(name, 1) for name in KEYED}
    assert len(keys) == len(KEYED)  # one per operation
    for key in keys:
        assert re.fullmatch(r"[\x21-\x7e]{1,255}", key), key
    assert roundtrips.IDEMPOTENCY_CALLS == 2
