"""SQS: shipment messages from the warehouse (R8), with partial batch failure reporting."""

from typing import Any

from billing import loading

with loading():  # the collector off while importing (billing.loading)
    from billing import shipments
    from billing.documents import MessageOutcome
    from billing.observability import logger, metrics


def count(outcome: MessageOutcome) -> None:
    metrics.add_metric(name=f"Shipments_{outcome}", unit="Count", value=1)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return shipments.process_batch(event, count)
