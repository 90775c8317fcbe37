"""POST /{kind}/{id}/progress-billings: create a progress billing record (R1, R2, R4, R6)."""

from typing import Any

from billing import loading

with loading():  # the collector off while importing (billing.loading)
    from billing.http import handle, make_app
    from billing.observability import logger
    from billing.routes import progress

    app = make_app(progress)


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(app, event, context)
