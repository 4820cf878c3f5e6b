"""Export queue consumer: writes an export's file, resuming itself when time runs short."""

from __future__ import annotations

import json

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from apimeter.api.jobs import queue_handler
from apimeter.logic import exports
from apimeter.observability import MetricUnit, logger, metrics
from apimeter.settings import require

require("ENTITIES_TABLE", "EVENTS_TABLE", "ROLLUPS_TABLE", "EXPORTS_BUCKET", "EXPORT_QUEUE_URL")


def _export_one(record: SQSRecord, context: LambdaContext) -> None:
    job = json.loads(record.body)
    ids = (job["tenant_id"], job["project_id"], job["export_id"])
    try:
        finished = exports.run(*ids, lambda: context.get_remaining_time_in_millis() / 1000)
    except Exception as exc:
        if int(record.attributes.approximate_receive_count) < exports.MAX_ATTEMPTS:
            raise  # retried by the queue
        logger.exception("export failed on its last attempt", extra=job)
        exports.fail(*ids, f"export failed: {type(exc).__name__}")
        metrics.add_metric(name="ExportsFailed", unit=MetricUnit.Count, value=1)
        return
    if finished:
        metrics.add_metric(name="ExportsWritten", unit=MetricUnit.Count, value=1)
        logger.info("export written", extra=job)
    else:
        exports.resume(*ids)
        logger.info("export continues in a new message", extra=job)


lambda_handler = queue_handler(_export_one)
