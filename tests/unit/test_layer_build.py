"""The BillingLayer's build (layers/billing/Makefile, BuildMethod makefile): for the functions' runtime and
architecture, without the runtime's SDK, compiled; and the runtime's SDK it is tested against is the one
the development venv runs. ``make build`` runs the build itself; these check what it is told to do."""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata

from bench.env import LAYER
from local import cfn

MAKEFILE = (LAYER / "Makefile").read_text()
RUNTIME_SDK = {"boto3", "botocore", "s3transfer"}


def _pins() -> dict[str, str]:
    lines = (line.split("#", 1)[0].strip() for line in (LAYER / "runtime-constraints.txt").read_text().splitlines())
    return dict(line.split("==") for line in lines if line)


def test_the_layer_is_built_by_its_makefile_for_the_functions_runtime_and_architecture():
    layer = cfn.template()["Resources"]["BillingLayer"]
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    function_globals = cfn.template()["Globals"]["Function"]
    assert (function_globals["Runtime"], function_globals["Architectures"]) == ("python3.13", ["arm64"])
    assert re.search(r"^build-BillingLayer:", MAKEFILE, re.MULTILINE)


def test_the_makefile_installs_arm64_cpython_313_wheels_and_compiles_them_unchecked():
    for flag in ("--only-binary=:all:", "--implementation cp", "--python-version 3.13", "--abi cp313"):
        assert flag in MAKEFILE
    assert "manylinux2014_aarch64" in MAKEFILE and "x86_64" not in MAKEFILE
    assert "-c runtime-constraints.txt" in MAKEFILE and "--no-compile" in MAKEFILE
    assert "compileall" in MAKEFILE and "--invalidation-mode unchecked-hash" in MAKEFILE


def test_the_runtime_sdk_is_left_out_of_the_layer_and_pinned_to_what_the_tests_run():
    requirements = (LAYER / "requirements.txt").read_text().lower()
    assert not any(re.search(rf"^{name}\b", requirements, re.MULTILINE) for name in RUNTIME_SDK)
    removed = re.search(r"^RUNTIME_DISTS\s*:=(.*)$", MAKEFILE, re.MULTILINE)
    assert removed and set(removed.group(1).split()) >= RUNTIME_SDK
    pins = _pins()
    assert set(pins) >= RUNTIME_SDK
    for name in ("boto3", "botocore"):
        assert metadata.version(name) == pins[name], f"the development venv runs {name} {metadata.version(name)}"


def test_the_pdf_function_ships_its_own_writer_of_the_standard_library_alone_compiled_like_the_layer():
    """R18: functions/invoice_pdf draws with its own modules (pdfdoc, truetype), which import only the
    standard library, ``billing`` and each other: no requirements to install, no PDF library in any
    cold start; its Makefile copies every module it ships and compiles them as the layer's does."""
    function = cfn.resources("AWS::Serverless::Function")["InvoicePdfFunction"]
    assert function["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    code = LAYER.parent.parent / function["Properties"]["CodeUri"]
    makefile = (code / "Makefile").read_text()
    assert re.search(r"^build-InvoicePdfFunction:", makefile, re.MULTILINE)
    assert "--invalidation-mode unchecked-hash" in makefile and "pip install" not in makefile
    own = {p.stem for p in code.glob("*.py")}
    shipped = re.search(r"^MODULES\s*:=(.*)$", makefile, re.MULTILINE)
    assert shipped and set(shipped.group(1).split()) == {f"{m}.py" for m in own}
    assert not (code / "requirements.txt").exists()
    imported = set()
    for path in code.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    assert imported - own - {"billing"} <= sys.stdlib_module_names, imported - own - sys.stdlib_module_names


# What the functions must not load (docs/development.md, "The layer build"): pydantic is not in the layer
# (the OpenAPI document is built with it, at build time), and Powertools' event handler would cost every
# HTTP cold start its OpenAPI classes, its event data classes and asyncio.
_BLOCKED_AT_RUN_TIME = ("pydantic", "pydantic_core", "aws_lambda_powertools.event_handler")
_IMPORT_EVERY_FUNCTION = """
import importlib.abc, importlib.util, json, sys
blocked = json.loads(sys.argv[1])
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in blocked):
            raise ImportError(f"{name} is loaded at run time")
        return None
sys.meta_path.insert(0, Block())
for name, path in json.loads(sys.argv[2]).items():
    sys.path.insert(0, path.rsplit("/", 1)[0])
    spec = importlib.util.spec_from_file_location(f"app_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.path.pop(0)
from billing.inputs import JobIn
from billing.shipments import ShipmentIn
JobIn.model_validate({"id": "J-1", "customer_id": "C", "customer_name": "C", "lines": [
    {"line_id": "1", "item_code": "X", "quantity": "1", "unit_price": "1.00"}]})
print(sorted(m for m in sys.modules if m.startswith(("billing", "app_"))))
"""


def test_no_function_loads_pydantic_or_the_powertools_event_handler():
    import json
    import subprocess
    import sys

    root = LAYER.parent.parent
    apps = {
        name: str(root / props["CodeUri"] / "app.py")
        for name, props in ((n, f["Properties"]) for n, f in cfn.resources("AWS::Serverless::Function").items())
    }
    assert len(apps) == 7
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_EVERY_FUNCTION, json.dumps(_BLOCKED_AT_RUN_TIME), json.dumps(apps)],
        capture_output=True, text=True, timeout=120, check=False, cwd=root,
        env={"PYTHONPATH": str(LAYER), "PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded = proc.stdout
    assert "billing.routes" in loaded and "billing.shipments" in loaded and "billing.automation" in loaded
