"""R17: the table's stream (outbox items only, by the event source mapping's filter) -> the event bus."""

import os
from typing import Any

from billing import loading

with loading():  # the collector off while importing (billing.loading)
    import boto3

    from billing.observability import logger
    from billing.publisher import publish

    events = boto3.client("events")


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return publish(event, events.put_events, os.environ["EVENT_BUS_NAME"], context.get_remaining_time_in_millis)
