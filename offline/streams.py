"""Delivers a table's DynamoDB stream to its function the way Lambda's event source mapping does.

Batches of up to ``BatchSize`` records, gathered for up to ``MaximumBatchingWindowInSeconds``, in
Lambda's record format. On a function error the batch is retried, split in halves first when
``BisectBatchOnFunctionError`` is on; with ``ReportBatchItemFailures`` a reported sequence number
retries from that record (records before it are done). After ``MaximumRetryAttempts`` retries the
batch's description goes to the ``OnFailure`` queue and the pump moves on, as Lambda does.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from offline.lambdas import Lambda
from offline.template import REGION, StreamMapping

if TYPE_CHECKING:
    from offline.faults import Faults

log = logging.getLogger("offline.streams")

POLL_SECONDS = 0.1
RETRY_BACKOFF_SECONDS = 0.05


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as Lambda delivers it (creation time as epoch seconds, source ARN)."""
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", REGION),
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }


class StreamPump:
    def __init__(
        self,
        mapping: StreamMapping,
        function: Lambda,
        streams: Any,
        stream_arn: str,
        sqs: Any,
        queue_url: str | None,
        start_at_latest: bool,
        faults: Faults | None = None,
    ) -> None:
        self.mapping = mapping
        self.function = function
        self.streams = streams
        self.stream_arn = stream_arn
        self.sqs = sqs
        self.queue_url = queue_url
        self._iterators: dict[str, str] = {}
        self._start = "LATEST" if start_at_latest else mapping.starting_position
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"stream-{mapping.function}", daemon=True)
        self.faults = faults  # offline/faults.py: redelivery and reordering, when asked for
        self.delivered = 0
        self.failed_batches = 0
        self.retried_batches = 0

    def start(self) -> None:
        self._open_shards()
        self._thread.start()

    def _open_shards(self) -> None:
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            if shard["ShardId"] not in self._iterators:
                self._iterators[shard["ShardId"]] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType=self._start
                )["ShardIterator"]

    def _fetch(self, shard: str, limit: int) -> list[dict[str, Any]]:
        response = self.streams.get_records(ShardIterator=self._iterators[shard], Limit=limit)
        self._iterators[shard] = response.get("NextShardIterator") or self._iterators[shard]
        return [lambda_record(r, self.stream_arn) for r in response.get("Records", [])]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delivered = self.poll_once()
            except Exception:
                log.exception("stream pump error")
                delivered = 0
            if not delivered:
                self._idle.set()
                self._stop.wait(POLL_SECONDS)

    def poll_once(self) -> int:
        """Gather one batch per shard (within the batching window) and deliver it."""
        total = 0
        for shard in list(self._iterators):
            batch = self._fetch(shard, self.mapping.batch_size)
            if not batch:
                continue
            self._idle.clear()
            deadline = time.monotonic() + self.mapping.window_seconds
            while len(batch) < self.mapping.batch_size and time.monotonic() < deadline:
                more = self._fetch(shard, self.mapping.batch_size - len(batch))
                if more:
                    batch.extend(more)
                else:
                    time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
            for part in self.faults.deliveries(batch) if self.faults else [batch]:
                self._deliver(shard, part, self.mapping.max_retries)
            total += len(batch)
        return total

    def _deliver(self, shard: str, batch: list[dict[str, Any]], retries_left: int) -> None:
        try:
            response = self.function.invoke({"Records": batch})
        except Exception:
            log.exception("%s failed on a batch of %d", self.mapping.function, len(batch))
            self._retry(shard, batch, retries_left, split=self.mapping.bisect)
            return
        remaining = self._unfinished(batch, response)
        if remaining:
            self._retry(shard, remaining, retries_left, split=False)
            return
        self.delivered += len(batch)
        if self.faults and self.faults.redeliver():
            self._redeliver(batch)

    def _redeliver(self, batch: list[dict[str, Any]]) -> None:
        """The same batch again, as when Lambda did not get a finished invocation's answer; what it
        does is counted, never retried further."""
        try:
            self.function.invoke({"Records": batch})
        except Exception:
            log.warning("%s failed on a redelivered batch of %d", self.mapping.function, len(batch))

    def _unfinished(self, batch: list[dict[str, Any]], response: Any) -> list[dict[str, Any]]:
        if not self.mapping.partial_failures or not isinstance(response, dict):
            return []
        failures = response.get("batchItemFailures") or []
        if not failures:
            return []
        sequences = [r["dynamodb"]["SequenceNumber"] for r in batch]
        wanted = [f.get("itemIdentifier") for f in failures]
        positions = [sequences.index(s) for s in wanted if s in sequences]
        if len(positions) != len(wanted):
            return batch  # an unknown identifier fails the whole batch, as on AWS
        first = min(positions)
        self.delivered += first
        return batch[first:]

    def _retry(self, shard: str, batch: list[dict[str, Any]], retries_left: int, split: bool) -> None:
        if retries_left == 0:
            self._give_up(shard, batch)
            return
        time.sleep(RETRY_BACKOFF_SECONDS)
        self.retried_batches += 1
        next_left = retries_left - 1 if retries_left > 0 else -1
        if split and len(batch) > 1:
            middle = len(batch) // 2
            self._deliver(shard, batch[:middle], next_left)
            self._deliver(shard, batch[middle:], next_left)
        else:
            self._deliver(shard, batch, next_left)

    def _give_up(self, shard: str, batch: list[dict[str, Any]]) -> None:
        self.failed_batches += 1
        info = {
            "requestContext": {
                "requestId": batch[0]["eventID"],
                "functionArn": self.function.function.logical_id,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": self.mapping.max_retries + 1,
            },
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "DDBStreamBatchInfo": {
                "shardId": shard,
                "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
                "batchSize": len(batch),
                "streamArn": self.stream_arn,
            },
        }
        log.error("batch of %d records sent to the on-failure destination", len(batch))
        if self.queue_url:
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(info))

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until the pump has found the stream empty once more; ``False`` on timeout."""
        self._idle.clear()
        return self._idle.wait(timeout)

    def drain_all(self, stall_seconds: float = 10.0) -> bool:
        """Wait until the stream is empty however long it takes while the pump makes progress;
        ``False`` once it has delivered nothing for ``stall_seconds``."""
        while True:
            before = self.delivered + self.failed_batches
            if self.drain(stall_seconds):
                return True
            if self.delivered + self.failed_batches == before:
                return False

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
