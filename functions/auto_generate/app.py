"""EventBridge schedule: the Auto-Generate Progress Billing Invoices automation (R4, R5, R6)."""

from typing import Any

from billing import loading

with loading():  # the collector off while importing (billing.loading)
    from billing import automation
    from billing.observability import logger, metrics


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return automation.run(event, context)
