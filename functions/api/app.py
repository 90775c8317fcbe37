"""The read and admin API: jobs, records (list, cancel), invoices, ledger, settings."""

from typing import Any

from billing import loading

with loading():  # the collector off while importing (billing.loading)
    from billing.http import handle, make_app
    from billing.observability import logger
    from billing.routes import api

    app = make_app(api)


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(app, event, context)
