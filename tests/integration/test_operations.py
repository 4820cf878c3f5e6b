"""Operations offline: the dashboard and alarms are on moto's CloudWatch from the stack's start, and
the aggregate function reports how long events took from the API to the rollups."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Final

import boto3
import pytest
from moto import mock_aws

from apimeter.logic.aggregate import aggregate
from offline.stack import OfflineStack, Options
from offline.template import HTTP_API_ID, Stack
from tests.builders import invoke, sample

ROOT = Path(__file__).resolve().parent.parent.parent
# Final keeps each name a literal, as the typed boto3.client needs.
CLIENTS: Final = ("dynamodb", "secretsmanager", "sqs", "s3", "sns", "events", "cloudwatch")


def test_the_offline_stack_starts_with_the_dashboard_and_the_alarms(stack: Stack) -> None:
    with mock_aws():
        offline = OfflineStack(Options(root=ROOT))
        offline._clients = {name: boto3.client(name) for name in CLIENTS}
        offline._create_resources()
        cloudwatch = offline._clients["cloudwatch"]

        (listed,) = cloudwatch.list_dashboards()["DashboardEntries"]
        assert listed["DashboardName"] == "apimeter-dev"
        body = json.loads(cloudwatch.get_dashboard(DashboardName="apimeter-dev")["DashboardBody"])
        titles = {widget["properties"]["title"] for widget in body["widgets"]}
        assert {"Events per minute", "HTTP API requests and errors", "Function errors", "Alarms"} <= titles
        lines = [row[:4] for w in body["widgets"] if w["type"] == "metric" for row in w["properties"]["metrics"]]
        assert ["apimeter", "EventsAccepted", "service", "ingest"] in lines
        assert ["AWS/ApiGateway", "5xx", "ApiId", HTTP_API_ID] in lines  # the id the gateway's events carry
        assert ["AWS/Lambda", "Errors", "FunctionName", stack.physical_name("AggregateFunction")] in lines
        assert ["AWS/States", "ExecutionsFailed", "StateMachineArn", stack.arn("HourlyPipeline")] in lines

        alarms = cloudwatch.describe_alarms()["MetricAlarms"]
        expected = {stack.physical_name(name) for name in stack.of_type("AWS::CloudWatch::Alarm")}
        assert {alarm["AlarmName"] for alarm in alarms} == expected
        topic = stack.arn("OpsTopic")
        assert {t["TopicArn"] for t in offline._clients["sns"].list_topics()["Topics"]} >= {topic}
        for alarm in alarms:
            assert alarm["AlarmActions"] == [topic], alarm["AlarmName"]
        (alarm_widget,) = [w["properties"] for w in body["widgets"] if w["type"] == "alarm"]
        assert set(alarm_widget["alarms"]) == {alarm["AlarmArn"] for alarm in alarms}


def _record(received_ms: int, sequence: str) -> dict[str, Any]:
    record: dict[str, Any] = sample("aggregate")["Records"][0]
    record["dynamodb"]["NewImage"]["received"] = {"N": str(received_ms)}
    record["dynamodb"]["SequenceNumber"] = sequence
    return record


@pytest.mark.usefixtures("aws")
def test_aggregation_lag_is_the_age_of_the_batchs_oldest_event() -> None:
    now = int(time.time() * 1000)
    outcome = aggregate([_record(now - 2_000, "1"), _record(now - 5_000, "2")])
    assert 5_000 <= (outcome.lag_ms or 0) < 65_000
    removal = _record(now - 5_000, "3")
    removal["eventName"] = "REMOVE"
    assert aggregate([removal]).lag_ms is None  # no new event, no lag to report


@pytest.mark.usefixtures("aws")
def test_the_aggregate_function_emits_its_lag_as_the_dashboard_reads_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    invoke("aggregate", {"Records": [_record(int(time.time() * 1000) - 3_000, "1")]})
    (emf,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    (directive,) = emf["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "apimeter"
    assert directive["Dimensions"] == [["service"]]  # the dashboard's lines carry the service alone
    assert {"Name": "AggregationLag", "Unit": "Milliseconds"} in directive["Metrics"]
    (lag,) = emf["AggregationLag"]
    assert 3_000 <= lag < 63_000
