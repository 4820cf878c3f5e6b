"""Purge queue consumer: removes a deleted project's data, resuming itself when time runs short."""

from __future__ import annotations

import json

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from apimeter.api.jobs import queue_handler
from apimeter.logic import purge
from apimeter.observability import MetricUnit, logger, metrics
from apimeter.settings import require

require("ENTITIES_TABLE", "EVENTS_TABLE", "ROLLUPS_TABLE", "EXPORTS_BUCKET", "PURGE_QUEUE_URL")


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


lambda_handler = queue_handler(_purge_one)
