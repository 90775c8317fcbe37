"""One cold start, in a fresh interpreter: ``python bench/coldstart_child.py SPEC.json OUT.json``.

Run only by ``bench.coldstart``. Before the clock starts this script has imported nothing but the
standard library modules below (and Python's own startup). It then times, with ``perf_counter``:

- a function: importing ``functions/<x>/app.py`` (with the layer's source on ``sys.path``) and
  calling ``lambda_handler`` with the first event, which the parent wrote into SPEC;
- the floor: ``import boto3``, ``boto3.client("dynamodb")`` and one ``GetItem`` of a job item.

Both talk to the same moto server (started by the parent, tables already created and seeded), so
both pay the same kind of round trip. The parent runs this script with ``python -S`` (no
site-packages) and puts on ``sys.path`` what Lambda would: the function's directory, the layer, and
a directory holding only the layer's and the runtime's distributions (``bench.sandbox``), so that
packages this development venv has and Lambda has not (awscrt, pyOpenSSL: botocore imports them
when present) cannot change the import path.
"""

import importlib.util
import json
import sys
import time

# Modules whose presence after the first event the report shows (what each function pays for).
NOTABLE = (
    "boto3",
    "botocore",
    "pynamodb",
    "pydantic",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.event_handler.openapi",
    "aws_lambda_powertools.utilities.idempotency",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.metrics",
    "aws_xray_sdk",
    "billing.http",
    "billing.requests",
)


class _Context:
    """What Powertools and the handlers read from the Lambda context."""

    def __init__(self, function_name: str, timeout_ms: int) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = "bench-cold-start"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "bench"
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main() -> None:
    del sys.path[0]  # this script's directory: bench/ must not shadow anything the handler imports
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    sys.path[:0] = spec["sys_path"]
    before = set(sys.modules)
    context = _Context(spec["function"], spec["timeout_ms"])

    c0 = time.process_time()
    t0 = time.perf_counter()
    if spec["target"] == "floor":
        import boto3

        t1 = time.perf_counter()
        client = boto3.client("dynamodb", endpoint_url=spec["endpoint_url"])
        response = client.get_item(TableName=spec["table"], Key=spec["key"], ConsistentRead=True)
        t2 = time.perf_counter()
        ok = "Item" in response
        result: object = {"found": ok}
    else:
        loader = importlib.util.spec_from_file_location("app", spec["handler_path"])
        assert loader is not None and loader.loader is not None
        module = importlib.util.module_from_spec(loader)
        sys.modules["app"] = module
        loader.loader.exec_module(module)
        t1 = time.perf_counter()
        result = module.lambda_handler(spec["event"], context)
        t2 = time.perf_counter()
        ok = True
    cpu = time.process_time() - c0
    loaded = set(sys.modules) - before
    out = {
        "target": spec["target"],
        "total_ms": (t2 - t0) * 1000,
        "import_ms": (t1 - t0) * 1000,
        "first_call_ms": (t2 - t1) * 1000,
        "cpu_ms": cpu * 1000,
        "ok": ok,
        "result": result,
        "modules": len(loaded),
        "notable": [m for m in NOTABLE if m in sys.modules],
    }
    with open(sys.argv[2], "w") as f:
        json.dump(out, f, default=str)


if __name__ == "__main__":
    main()
