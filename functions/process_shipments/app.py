"""SQS: shipment messages from the warehouse (R8), with partial batch failure reporting."""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from billing import shipments
from billing.observability import logger, metrics

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> str:
    outcome = shipments.process(record.body, record.message_id)
    metrics.add_metric(name=f"Shipments_{outcome.status}", unit="Count", value=1)
    return outcome.status


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
