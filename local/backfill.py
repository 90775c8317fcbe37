"""Put invoices and journal entries written before R18 in the registers (``billing.store.backfill``).

python -m local.backfill --table <BillingTableName output> [--region eu-west-1] [--endpoint-url URL]

Against a deployed stack it uses your AWS credentials (the usual AWS_PROFILE, ...); it needs Scan on
the table and UpdateItem on its items. Safe to stop and run again, and while the stack is in use.
"""

from __future__ import annotations

import argparse
import os
import sys

from .stack import _add_layers_to_path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m local.backfill", description=__doc__.splitlines()[0])
    p.add_argument("--table", required=True, help="the billing table (the stack's BillingTableName output)")
    p.add_argument("--region", help="its region (default: AWS_REGION or AWS_DEFAULT_REGION)")
    p.add_argument("--endpoint-url", help="another DynamoDB endpoint, e.g. DynamoDB Local's")
    args = p.parse_args(argv)
    os.environ["TABLE_NAME"] = args.table
    os.environ.setdefault("IDEMPOTENCY_TABLE_NAME", "unused-by-the-backfill")
    if args.region:
        os.environ["AWS_REGION"] = args.region
    if args.endpoint_url:
        os.environ["DYNAMODB_ENDPOINT_URL"] = args.endpoint_url
    _add_layers_to_path()
    from billing import config
    from billing.store.backfill import Backfilled, backfill

    config.reset()

    def progress(done: Backfilled) -> None:
        print(f"... {done.invoices} invoices, {done.entries} entries, {done.skipped} skipped", file=sys.stderr)

    done = backfill(progress)
    print(f"indexed {done.invoices} invoices and {done.entries} journal entries ({done.skipped} skipped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
