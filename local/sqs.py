"""SQS the way Lambda's event source mapping uses it: queues created from ``template.yaml`` (with
their redrive policies), batches received and handed to the function as an SQS event, the
messages the function did not report as failed deleted, the failed ones left to reappear after
their visibility timeout and, past ``maxReceiveCount``, moved to the dead-letter queue."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from . import cfn
from .fixtures import sqs_event


def create_queues(sqs: Any, visibility_timeout: int | None = None) -> dict[str, str]:
    """Create every queue of the template; returns logical id -> queue URL.

    ``visibility_timeout`` overrides the template's (the local runner shortens it so that a failed
    message is retried in seconds, not minutes); everything else, the redrive policy included,
    comes from the template.
    """
    queues = cfn.resources("AWS::SQS::Queue")
    urls: dict[str, str] = {}
    # dead-letter queues first: a redrive policy names its target's ARN
    order = sorted(queues, key=lambda q: "RedrivePolicy" in (queues[q].get("Properties") or {}))
    for logical_id in order:
        props = queues[logical_id].get("Properties") or {}
        attributes: dict[str, str] = {}
        timeout = visibility_timeout if visibility_timeout is not None else props.get("VisibilityTimeout")
        if timeout is not None:
            attributes["VisibilityTimeout"] = str(timeout)
        if "MessageRetentionPeriod" in props:
            attributes["MessageRetentionPeriod"] = str(props["MessageRetentionPeriod"])
        redrive = props.get("RedrivePolicy")
        if redrive:
            target = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
            target_arn = sqs.get_queue_attributes(QueueUrl=urls[target], AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": target_arn, "maxReceiveCount": str(redrive["maxReceiveCount"])}
            )
        urls[logical_id] = sqs.create_queue(QueueName=logical_id, Attributes=attributes)["QueueUrl"]
    return urls


@dataclass(frozen=True)
class SqsTrigger:
    function: str  # logical id of the function
    code_uri: str
    queue: str  # logical id of the queue
    batch_size: int
    report_failures: bool


def sqs_triggers() -> list[SqsTrigger]:
    return [
        SqsTrigger(
            logical_id,
            props["CodeUri"],
            p["Queue"]["Fn::GetAtt"][0],
            int(p.get("BatchSize", 10)),
            "ReportBatchItemFailures" in (p.get("FunctionResponseTypes") or []),
        )
        for logical_id, props, p in cfn.function_events("SQS")
    ]


@dataclass
class Delivery:
    received: int
    failed: list[str]


def deliver_once(sqs: Any, queue_url: str, trigger: SqsTrigger, context: Any) -> Delivery:
    """Receive one batch, invoke the function, delete what succeeded (partial failures honoured)."""
    got = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=min(trigger.batch_size, 10),
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
        WaitTimeSeconds=0,
    )
    messages = got.get("Messages", [])
    if not messages:
        return Delivery(0, [])
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    module = cfn.load_handler_module(trigger.code_uri)
    try:
        response = module.lambda_handler(sqs_event(messages, arn), context)
        failed = [f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])]
    except Exception:  # the whole invocation failed: every message is retried
        failed = [m["MessageId"] for m in messages]
    if not trigger.report_failures and failed:
        failed = [m["MessageId"] for m in messages]
    done = [m for m in messages if m["MessageId"] not in failed]
    if done:
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
        )
    return Delivery(len(messages), failed)


def queue_depth(sqs: Any, queue_url: str) -> dict[str, int]:
    """Approximate message counts of one queue: waiting, being processed, delayed."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return {
        "visible": int(attributes.get("ApproximateNumberOfMessages", 0)),
        "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        "delayed": int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
    }
