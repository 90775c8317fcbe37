"""POST /{kind}/{id}/final-invoice: the revenue-recognition invoice that closes a job (R7)."""

from typing import Any

from billing import loading

with loading():  # the collector off while importing (billing.loading)
    from billing.http import handle, make_app
    from billing.observability import logger
    from billing.routes import final

    app = make_app(final)


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(app, event, context)
