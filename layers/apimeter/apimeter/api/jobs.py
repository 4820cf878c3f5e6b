"""The entry point of a queue-driven function: one message at a time, failures reported per message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from apimeter.observability import logger, metrics, tracer

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def queue_handler(work: Callable[[SQSRecord, LambdaContext], None]) -> Handler:
    """A Lambda handler that runs ``work`` per message; a message whose work raises is reported as
    a batch item failure (not as a function error), so it alone returns to the queue."""
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    @logger.inject_lambda_context
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        response = process_partial_response(
            event=event,
            record_handler=lambda record: work(record, context),
            processor=processor,
            context=context,
        )
        return dict(response)

    return lambda_handler
