"""Logger, Tracer and Metrics: one instance each, named per function by POWERTOOLS_SERVICE_NAME."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="apimeter")

__all__ = ["MetricUnit", "logger", "metrics", "tracer"]
