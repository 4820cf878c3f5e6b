"""Purge queue consumer: removes a deleted project's data, resuming itself when time runs short."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from apimeter.logic import purge
from apimeter.observability import MetricUnit, logger, metrics, tracer

# Report a lone failing message like any other (not as a function error), so it is retried alone.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _purge_one(record: SQSRecord, context: LambdaContext) -> None:
    request = json.loads(record.body)
    finished = purge.purge(
        request["tenant_id"], request["project_id"], lambda: context.get_remaining_time_in_millis() / 1000
    )
    if finished:
        metrics.add_metric(name="ProjectsPurged", unit=MetricUnit.Count, value=1)
        logger.info("project purged", extra=request)
    else:
        purge.resume(request["tenant_id"], request["project_id"])
        logger.info("purge continues in a new message", extra=request)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event,
        record_handler=lambda record: _purge_one(record, context),
        processor=processor,
        context=context,
    )
