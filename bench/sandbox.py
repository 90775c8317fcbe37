"""Make the local stand-ins behave like the real thing where it matters for timing.

``lambda_site``: a directory of links to exactly the installed distributions a function has in
Lambda: the closure of ``layers/billing/requirements.txt`` (the layer) plus boto3's (the runtime's
SDK), and nothing else of this development venv (aws-sam-cli's awscrt and pyOpenSSL, moto's blinker
and certifi, which botocore or pynamodb would import when present). Cold-start children run with
``python -S`` and this directory on ``sys.path`` instead of site-packages.

``fast_moto_items``: moto's item class re-measures the whole item every time it sets one attribute
(quadratic in the item's size, the larger part of a put); this builds the attributes first and
checks the 400 KB item limit once (precisely only when the item's JSON is longer than that).

``cheap_moto_transactions``: moto's ``TransactWriteItems`` deep-copies every table it touches
before writing, so that it can roll back: its cost grows with the size of the table (seconds per
call at 100,000 items) and would swamp what the benchmark measures. This replaces the table copy
with a copy of just the items the transaction names, restored if the transaction fails: the same
all-or-nothing outcome, at a cost independent of the table.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

from .env import LAYER, TMP

RUNTIME_PACKAGES = ("boto3",)  # the Lambda Python runtime ships boto3 (and with it botocore)


def _requirement_names(lines: list[str]) -> list[str]:
    names = []
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.append(re.split(r"[\s\[<>=!~;(]", line, maxsplit=1)[0])
    return names


def distribution_closure(roots: list[str]) -> list[str]:
    """Installed distributions needed by ``roots``, following requirements whose markers hold
    (extras never requested)."""
    from packaging.requirements import Requirement

    seen: dict[str, str] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen[key] = dist.metadata["Name"]
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return sorted(seen.values())


def layer_distributions() -> list[str]:
    return distribution_closure(_requirement_names((LAYER / "requirements.txt").read_text().splitlines()))


def lambda_site() -> Path:
    """``bench/tmp/lambda-site``: links to the top-level modules of the layer's and the runtime's
    distributions (rebuilt on every call: cheap, and never stale)."""
    site = TMP / "lambda-site"
    if site.exists():
        shutil.rmtree(site)
    site.mkdir(parents=True)
    _link_distributions(site, sorted(set(layer_distributions()) | set(distribution_closure(list(RUNTIME_PACKAGES)))))
    return site


def _top_level(name: str) -> set[str]:
    """The top-level modules and packages a distribution installed."""
    tops = set()
    for f in metadata.distribution(name).files or []:
        first = f.parts[0]
        if first.endswith((".dist-info", ".data")) or first in ("..", "__pycache__", "bin"):
            continue
        tops.add(first)
    return tops


def _link_distributions(site: Path, names: list[str]) -> None:
    for name in names:
        dist = metadata.distribution(name)
        for top in _top_level(name):
            src = Path(str(dist.locate_file(top)))
            if src.exists() and not (site / top).exists():
                (site / top).symlink_to(src)


def _copy_tree(src: Path, dst: Path) -> None:
    if src.is_dir():
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), symlinks=False)
    else:
        shutil.copy2(src, dst)


def layer_as_built(function_dirs: list[Path]) -> dict[str, Path]:
    """The layer as ``sam build`` makes it today, for a cold start without bytecode.

    ``bench/tmp/as-built/layer``: copies (no ``__pycache__``) of the layer's distributions, botocore
    and its dependencies included (pynamodb requires botocore, so pip puts it in the layer), and of
    ``billing``; ``.../functions/<x>/app.py``; ``.../runtime``: links to boto3's distributions (the
    runtime's, compiled). Lambda puts the layer before the runtime on ``sys.path``, so the layer's
    botocore is the one imported, and /opt is read-only: nothing it imports can be cached as bytecode.
    """
    root = TMP / "as-built"
    if root.exists():
        shutil.rmtree(root)
    layer, runtime, functions = root / "layer", root / "runtime", root / "functions"
    for d in (layer, runtime, functions):
        d.mkdir(parents=True)
    for name in layer_distributions():
        for top in _top_level(name):
            src = Path(str(metadata.distribution(name).locate_file(top)))
            if src.exists() and not (layer / top).exists():
                _copy_tree(src, layer / top)
    _copy_tree(LAYER / "billing", layer / "billing")
    _link_distributions(runtime, distribution_closure(list(RUNTIME_PACKAGES)))
    for fdir in function_dirs:
        (functions / fdir.name).mkdir()
        shutil.copy2(fdir / "app.py", functions / fdir.name / "app.py")
    return {"layer": layer, "runtime": runtime, "functions": functions}


def cheap_moto_transactions() -> None:
    """Patch moto (in this process) so that a transaction copies only the items it names."""
    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table as table_class

    backend = models.DynamoDBBackend
    if getattr(backend.transact_write_items, "_bench", False):
        return
    original = backend.transact_write_items

    class _CopyWithoutTables:
        """The ``copy`` module as moto's backend sees it: a table "copy" is the table itself."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, table_class) else copy.deepcopy(value, memo)

    models.copy = _CopyWithoutTables()  # type: ignore[attr-defined,assignment]

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        saved = []
        for entry in transact_items:
            _, op = next(iter(entry.items()))
            table = self.get_table(op["TableName"])
            attrs = op.get("Key") or op["Item"]
            hash_key = DynamoType(attrs[table.hash_key_attr])
            range_key = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
            saved.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
        try:
            return original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, before in reversed(saved):
                if before is None:
                    if table.get_item(hash_key, range_key) is not None:
                        table.delete_item(hash_key, range_key)
                elif range_key is not None:
                    table.items[hash_key][range_key] = before
                else:
                    table.items[hash_key] = before
            raise

    transact_write_items._bench = True  # type: ignore[attr-defined]
    backend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def fast_moto_items() -> None:
    """Patch moto's ``Item`` (in this process): the item size limit checked once per item."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models import dynamo_type
    from moto.dynamodb.models.utilities import bytesize

    item_class = dynamo_type.Item
    if getattr(item_class.__init__, "_bench", False):
        return

    def __init__(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        values = {key: dynamo_type.DynamoType(value) for key, value in attrs.items()}
        # The item's JSON is longer than its DynamoDB size (quotes, type keys, escapes): measure
        # precisely only when that cheap upper bound is over the limit.
        if len(json.dumps(attrs, default=str)) > 405000 and sum(
                bytesize(key) + value.size() for key, value in values.items()) > 405000:
            raise ItemSizeTooLarge
        self.attrs = dynamo_type.LimitedSizeDict()
        dict.update(self.attrs, values)

    __init__._bench = True  # type: ignore[attr-defined]
    item_class.__init__ = __init__  # type: ignore[method-assign]


def fast_moto() -> None:
    cheap_moto_transactions()
    fast_moto_items()
