"""One cold start in a fresh interpreter: ``python -S bench/coldstart_child.py SPEC_JSON OUT.json`` (bench.coldstart).
Before the clock, only the standard-library modules below are imported. Timed: a function's import and first event
(the Lambda context is made between the two, off the clock), or the floor's ``import boto3``, client and ``GetItem``."""

import importlib.util
import json
import os
import sys
import time

# Each clock reading is paired with os.getppid(), a system call nothing else here makes: under callgrind
# (bench.coldstart.count_instructions) ``--dump-before=os_getppid`` cuts the count at those marks.
mark = os.getppid


def main() -> None:
    del sys.path[0]  # this script's directory: bench/ must not shadow anything the handler imports
    spec = json.loads(sys.argv[1])
    sys.path[:0] = spec["sys_path"]
    before = set(sys.modules)
    off_clock = off_cpu = 0.0
    context_modules: list[str] = []
    mark()
    c0, t0 = time.process_time(), time.perf_counter()
    if spec["target"] == "floor":
        import boto3

        t1 = time.perf_counter()
        mark(), mark()  # no off-clock part
        client = boto3.client("dynamodb", endpoint_url=spec["endpoint_url"])
        item = client.get_item(TableName=spec["table"], Key=spec["key"], ConsistentRead=True)
        result: object = {"found": "Item" in item}
    else:
        found = importlib.util.spec_from_file_location("app", spec["handler_path"])
        assert found is not None and found.loader is not None
        module = importlib.util.module_from_spec(found)
        sys.modules["app"] = module
        found.loader.exec_module(module)
        t1, c1 = time.perf_counter(), time.process_time()
        mark()
        loaded, path = set(sys.modules), list(sys.path)
        sys.path += spec["context_path"]  # local/ and what it needs (PyYAML), for this import only
        from local.fixtures import lambda_context

        context = lambda_context(spec["function"], spec["timeout_ms"])
        sys.path[:] = path
        context_modules = sorted(set(sys.modules) - loaded)
        off_clock, off_cpu = time.perf_counter() - t1, time.process_time() - c1
        mark()
        result = module.lambda_handler(spec["event"], context)
    t2, cpu = time.perf_counter(), time.process_time() - c0 - off_cpu
    mark()
    out = {
        "total_ms": (t2 - t0 - off_clock) * 1000,
        "import_ms": (t1 - t0) * 1000,
        "first_event_ms": (t2 - t1 - off_clock) * 1000,
        "cpu_ms": cpu * 1000,
        "result": result,
        "modules": len(set(sys.modules) - before - set(context_modules)),
        "context_modules": context_modules,
        "python": sys.version.split()[0],
    }
    with open(sys.argv[2], "w") as f:
        json.dump(out, f, default=str)


if __name__ == "__main__":
    main()
