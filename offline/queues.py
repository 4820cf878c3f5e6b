"""Delivers an SQS queue to its function the way Lambda's SQS event source mapping does.

Up to ``BatchSize`` messages per invocation in Lambda's record format. Messages of a successful
invocation are deleted; with ``ReportBatchItemFailures`` only the reported ones stay. What stays is
received again once its visibility timeout passes, and after the queue's ``maxReceiveCount`` SQS
moves it to the dead-letter queue.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from offline.lambdas import Lambda
from offline.template import REGION, QueueMapping

log = logging.getLogger("offline.queues")

POLL_SECONDS = 0.2


def lambda_record(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


class QueuePump:
    def __init__(self, mapping: QueueMapping, function: Lambda, sqs: Any, queue_url: str, queue_arn: str) -> None:
        self.mapping, self.function, self.sqs = mapping, function, sqs
        self.queue_url, self.queue_arn = queue_url, queue_arn
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"queue-{mapping.function}", daemon=True)
        self.delivered = 0

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delivered = self.poll_once()
            except Exception:
                log.exception("queue pump error")
                delivered = 0
            if not delivered:
                self._stop.wait(POLL_SECONDS)

    def poll_once(self) -> int:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(10, self.mapping.batch_size),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        records = [lambda_record(m, self.queue_arn) for m in messages]
        try:
            result = self.function.invoke({"Records": records})
        except Exception:
            log.exception("%s failed on %d messages; they return after their visibility timeout",
                          self.mapping.function, len(records))  # fmt: skip
            return len(records)
        failed: set[str] = set()
        if self.mapping.partial_failures and isinstance(result, dict):
            failed = {f.get("itemIdentifier") for f in result.get("batchItemFailures") or []}
        for record in records:
            if record["messageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=record["receiptHandle"])
                self.delivered += 1
        return len(records)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
