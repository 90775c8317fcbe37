"""DynamoDB Streams the way Lambda's event source mapping uses them, and an EventBridge bus to watch.

``StreamPlayer`` reads the billing table's stream through the Streams API (DynamoDB Local's, or
moto's), keeps only the records the template's ``FilterCriteria`` match, hands them in batches of the
template's ``BatchSize`` to the function as a DynamoDB stream event and, like Lambda with
``ReportBatchItemFailures``, retries from the first record the function reports failed, up to
``MaximumRetryAttempts`` times; then that record goes to the on-failure queue and the shard moves on.

``EventTap`` creates the template's event buses (in moto) with a rule that copies every event to a
queue, and keeps what it drains from there: ``GET /_local/events`` and the tests read it.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from . import cfn

LOCAL_BUS = "progress-billing-local"
TAP_QUEUE = "local-events-tap"


@dataclass(frozen=True)
class StreamTrigger:
    function: str  # logical id of the function
    code_uri: str
    batch_size: int
    max_retries: int
    patterns: tuple[dict[str, Any], ...]
    on_failure: str | None  # logical id of the on-failure queue


def stream_triggers() -> list[StreamTrigger]:
    out = []
    for logical_id, props, p in cfn.function_events("DynamoDB"):
        filters = (p.get("FilterCriteria") or {}).get("Filters") or []
        failure = ((p.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        out.append(
            StreamTrigger(
                logical_id,
                props["CodeUri"],
                int(p.get("BatchSize", 100)),
                int(p.get("MaximumRetryAttempts", -1)),
                tuple(json.loads(f["Pattern"]) for f in filters),
                failure["Fn::GetAtt"][0] if failure else None,
            )
        )
    return out


def matches(pattern: Any, value: Any) -> bool:
    """EventBridge-style matching, the subset filter criteria use here: a list of allowed values, or
    an object whose every key must match."""
    if isinstance(pattern, list):
        return value in pattern
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and matches(p, value[k]) for k, p in pattern.items())
    return bool(pattern == value)


def _as_lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as Lambda delivers it (the stream's ARN added, times as epoch seconds)."""
    out: dict[str, Any] = json.loads(json.dumps(record, default=_epoch))
    out["eventSourceARN"] = stream_arn
    return out


def _epoch(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return int(value.timestamp())
    raise TypeError(type(value).__name__)


@dataclass
class StreamPlayer:
    dynamodb: Any  # boto3 clients of the engine that holds the table
    streams: Any
    table: str
    trigger: StreamTrigger
    handler: Any  # (event, context) -> the function's answer
    context: Any = None
    send_failure: Any = None  # (records) -> None: the on-failure destination
    _positions: dict[str, str] = field(default_factory=dict)  # shard -> last sequence number handled
    _lock: threading.Lock = field(default_factory=threading.Lock)
    delivered: int = 0
    failed: int = 0

    def stream_arn(self) -> str:
        return str(self.dynamodb.describe_table(TableName=self.table)["Table"]["LatestStreamArn"])

    def pump(self) -> int:
        """Deliver every record written since the last pump; returns how many reached the function."""
        with self._lock:
            arn = self.stream_arn()
            shards = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
            before = self.delivered
            for shard in shards:  # parents come before their children in DescribeStream's answer
                records = self._read(arn, shard["ShardId"])
                if records:
                    self._deliver(arn, shard["ShardId"], records)
            return self.delivered - before

    def skip_existing(self) -> None:
        """Start after what the stream already holds (published by an earlier run of the local stack,
        whose checkpoint, unlike Lambda's, is not kept)."""
        with self._lock:
            arn = self.stream_arn()
            for shard in self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
                records = self._read(arn, shard["ShardId"])
                if records:
                    self._positions[shard["ShardId"]] = records[-1]["dynamodb"]["SequenceNumber"]

    def _read(self, arn: str, shard_id: str) -> list[dict[str, Any]]:
        last = self._positions.get(shard_id)
        kwargs: dict[str, Any] = {"StreamArn": arn, "ShardId": shard_id}
        if last is None:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=last)
        iterator = self.streams.get_shard_iterator(**kwargs).get("ShardIterator")
        out: list[dict[str, Any]] = []
        while iterator:
            page = self.streams.get_records(ShardIterator=iterator, Limit=1000)
            if not page["Records"]:
                break
            out.extend(page["Records"])
            iterator = page.get("NextShardIterator")
        return out

    def _deliver(self, arn: str, shard_id: str, records: list[dict[str, Any]]) -> None:
        patterns = self.trigger.patterns  # a record the filter drops is dropped for good, as Lambda does
        wanted = [r for r in records if not patterns or any(matches(p, r) for p in patterns)]
        i, attempts = 0, 0
        while i < len(wanted):
            batch = wanted[i : i + self.trigger.batch_size]
            numbers = [r["dynamodb"]["SequenceNumber"] for r in batch]
            try:
                answer = self.handler({"Records": [_as_lambda_record(r, arn) for r in batch]}, self.context) or {}
                failures = [f["itemIdentifier"] for f in answer.get("batchItemFailures") or []]
            except Exception:  # the function failed: the whole batch is retried, as by Lambda
                failures = numbers[:1]
            done = min((numbers.index(f) for f in failures if f in numbers), default=len(batch))
            self.delivered += done
            i += done
            attempts = 0 if done else attempts + 1
            if done == len(batch):
                continue
            # retry from the failed record; past the retries it goes to the on-failure queue
            if self.trigger.max_retries >= 0 and attempts > self.trigger.max_retries:
                self.failed += 1
                if self.send_failure is not None:
                    self.send_failure([wanted[i]])
                i, attempts = i + 1, 0
        self._positions[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]


class EventTap:
    """The template's event bus in moto, with a rule copying its events to one queue."""

    def __init__(self, events: Any, sqs: Any) -> None:
        self.events, self.sqs = events, sqs
        self.seen: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.queue_url = sqs.create_queue(QueueName=TAP_QUEUE)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        if not _has_bus():
            return
        if LOCAL_BUS not in {b["Name"] for b in events.list_event_buses()["EventBuses"]}:
            events.create_event_bus(Name=LOCAL_BUS)
        pattern = json.dumps({"source": ["progress-billing"]})
        events.put_rule(Name="local-tap", EventBusName=LOCAL_BUS, EventPattern=pattern)
        events.put_targets(Rule="local-tap", EventBusName=LOCAL_BUS, Targets=[{"Id": "tap", "Arn": queue_arn}])

    def drain(self) -> list[dict[str, Any]]:
        """Everything published since the start, in arrival order, as a rule's target gets it."""
        with self._lock:
            while True:
                got = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
                messages = got.get("Messages") or []
                if not messages:
                    break
                for m in messages:
                    self.seen.append(json.loads(m["Body"]))
                    self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
            return list(self.seen)


def _has_bus() -> bool:
    """The template has the event bus (named ``LOCAL_BUS`` here: its stack-prefixed name needs a stack)."""
    return bool(cfn.resources("AWS::Events::EventBus"))


def bus_environment() -> dict[str, str]:
    """The functions' ``EVENT_BUS_NAME`` (the template's Ref of the bus) as the local stack names it."""
    return {"EVENT_BUS_NAME": LOCAL_BUS} if _has_bus() else {}


def _queue_url(sqs: Any, name: str) -> str:
    """The queue ``name`` (the local stack creates the template's queues), created if it is not there."""
    try:
        return str(sqs.get_queue_url(QueueName=name)["QueueUrl"])
    except sqs.exceptions.QueueDoesNotExist:
        return str(sqs.create_queue(QueueName=name)["QueueUrl"])


class Events:
    """R17's path end to end, for the local stack and the tests: the table's stream -> the publisher
    function (by the template's event source mapping) -> the bus (moto) -> ``EventTap``."""

    def __init__(self, dynamodb: Any, streams: Any, sqs: Any, events: Any, table: str, invoke: Any) -> None:
        import os

        os.environ.update(bus_environment())
        self.sqs = sqs
        self.tap = EventTap(events, sqs)
        self.players = []
        for trigger in stream_triggers():
            failure_url = _queue_url(sqs, trigger.on_failure) if trigger.on_failure else None
            self.players.append(
                StreamPlayer(
                    dynamodb,
                    streams,
                    table,
                    trigger,
                    lambda event, _ctx, fn=trigger.function: invoke(fn, event),
                    send_failure=(lambda records, url=failure_url: self._dead_letter(url, records))
                    if failure_url
                    else None,
                )
            )

    def _dead_letter(self, url: str, records: list[dict[str, Any]]) -> None:
        """What Lambda sends to a stream mapping's on-failure destination: the batch's place in the stream."""
        first, last = records[0]["dynamodb"]["SequenceNumber"], records[-1]["dynamodb"]["SequenceNumber"]
        body = {
            "requestContext": {"condition": "RetryAttemptsExhausted"},
            "DDBStreamBatchInfo": {"startSequenceNumber": first, "endSequenceNumber": last, "batchSize": len(records)},
        }
        self.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))

    def pump(self) -> int:
        return sum(p.pump() for p in self.players)

    def published(self) -> list[dict[str, Any]]:
        """Deliver what the stream holds, then every event the bus received so far, in order."""
        self.pump()
        return self.tap.drain()
