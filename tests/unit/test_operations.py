"""The dashboard and alarms in template.yaml watch what the stack holds and what the code emits.

A custom metric is a Powertools metric in the ``apimeter`` namespace whose one dimension is
``service``, the emitting function's POWERTOOLS_SERVICE_NAME; so it is a (name, service) pair. The
code's pairs are read with ``ast``: the handler an ``add_metric`` call runs in names the function,
and the function its service. The template's pairs are read from the dashboard body (JSON whose
``${...}`` placeholders sit inside strings, so it parses before CloudFormation substitutes them)
and from the alarms.
"""

from __future__ import annotations

import ast
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from offline.template import REGION, Stack, load

ROOT = Path(__file__).resolve().parent.parent.parent
NAMESPACE = "apimeter"
DASHBOARD = "OperationsDashboard"
# Each would give a metric dimensions beyond ``service``: a different metric from the dashboard's line.
DIMENSION_CALLS = frozenset({"add_dimension", "set_default_dimensions", "single_metric"})

Metric = tuple[str, str, dict[str, Any]]  # namespace, name, dimensions
Pair = tuple[str, str]  # a custom metric: name, service


# ---- what the code emits ----


def _calls(tree: ast.AST, names: Iterable[str]) -> Iterator[ast.Call]:
    wanted = frozenset(names)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called in wanted:
                yield node


def _metric_name(call: ast.Call, module: Path) -> str:
    name = next((k.value for k in call.keywords if k.arg == "name"), call.args[0] if call.args else None)
    if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
        raise AssertionError(f"{module}:{call.lineno}: a metric's name must be a string literal to be checked")
    return name.value


def emitted_by(module: Path, handlers: dict[str, set[str]]) -> set[Pair]:
    """The (name, service) of every ``add_metric`` in a handler module. ``handlers`` maps the
    module's entry points named in the template to the services of the functions using them."""
    tree = ast.parse(module.read_text(), str(module))
    found = set()
    for statement in tree.body:
        owner = getattr(statement, "name", None)
        for call in _calls(statement, {"add_metric"}):
            if owner in handlers:
                services = handlers[owner]
            elif len(handlers) == 1:
                (services,) = handlers.values()
            else:
                raise AssertionError(
                    f"{module}:{call.lineno}: add_metric outside the handlers of a module that has several: "
                    "which function emits it?"
                )
            found |= {(_metric_name(call, module), service) for service in services}
    return found


def _handler_modules(stack: Stack) -> dict[Path, dict[str, set[str]]]:
    modules: dict[Path, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for function in stack.functions.values():
        module, _, handler = function.handler.partition(".")
        modules[function.code_dir / f"{module}.py"][handler].add(function.environment["POWERTOOLS_SERVICE_NAME"])
    return modules


def code_metrics(stack: Stack) -> set[Pair]:
    return set().union(*(emitted_by(path, handlers) for path, handlers in _handler_modules(stack).items()))


def _sources() -> list[Path]:
    return sorted([*(ROOT / "functions").rglob("*.py"), *(ROOT / "layers").rglob("*.py")])


# ---- what the template watches ----


def _dashboard(stack: Stack) -> dict[str, Any]:
    body = stack.resources[DASHBOARD]["Properties"]["DashboardBody"]["Fn::Sub"]
    assert isinstance(body, str), "the dashboard body is one !Sub string"
    dashboard: dict[str, Any] = json.loads(body)
    return dashboard


def _widgets(stack: Stack, kind: str) -> list[dict[str, Any]]:
    return [w["properties"] for w in _dashboard(stack)["widgets"] if w["type"] == kind]


def dashboard_lines(stack: Stack) -> list[tuple[Metric, str | None]]:
    """Every metric line on the dashboard, with its statistic."""
    lines = []
    for widget in _widgets(stack, "metric"):
        for row in widget["metrics"]:
            options = row[-1] if isinstance(row[-1], dict) else {}
            parts = row[:-1] if options else row
            if not parts:
                continue  # a math expression over other lines
            assert not {".", "..."} & set(parts), f"write each line in full (no shorthand): {row}"
            namespace, name, *dimensions = parts
            metric = (namespace, name, dict(zip(dimensions[::2], dimensions[1::2], strict=True)))
            lines.append((metric, options.get("stat", widget.get("stat"))))
    return lines


def alarm_metrics(props: dict[str, Any]) -> Iterator[Metric]:
    def dimensions(metric: dict[str, Any]) -> dict[str, Any]:
        return {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}

    if "MetricName" in props:
        yield props["Namespace"], props["MetricName"], dimensions(props)
    for query in props.get("Metrics", []):
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            yield metric["Namespace"], metric["MetricName"], dimensions(metric)


def _alarms(stack: Stack) -> dict[str, dict[str, Any]]:
    return {name: alarm["Properties"] for name, alarm in stack.of_type("AWS::CloudWatch::Alarm").items()}


def _custom(metrics: Iterable[Metric]) -> set[Pair]:
    pairs = set()
    for namespace, name, dimensions in metrics:
        if namespace == NAMESPACE:
            assert list(dimensions) == ["service"], f"{name}: Powertools emits it with the service dimension only"
            pairs.add((name, dimensions["service"]))
    return pairs


def _queue_of(arn: Any, stack: Stack) -> str:
    assert isinstance(arn, dict), f"a dead-letter queue named by !GetAtt, not {arn!r}"
    queue, attribute = arn["Fn::GetAtt"]
    assert attribute == "Arn", arn
    assert stack.resources[queue]["Type"] == "AWS::SQS::Queue", arn
    return str(queue)


def dead_letter_queues(stack: Stack) -> set[str]:
    """Every queue where failed work lands: redrive targets, stream and invocation on-failure
    destinations, schedules' and functions' dead-letter queues."""
    found: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item)
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            if key == "deadLetterTargetArn":
                found.add(_queue_of(value, stack))
            elif key == "OnFailure" and value.get("Type", "SQS") == "SQS" and "Destination" in value:
                found.add(_queue_of(value["Destination"], stack))
            elif key == "DeadLetterConfig":
                assert "Arn" in value, "a dead-letter queue SAM creates cannot be named on the dashboard: declare it"
                found.add(_queue_of(value["Arn"], stack))
            elif key == "DeadLetterQueue" and value.get("Type") == "SQS":
                found.add(_queue_of(value["TargetArn"], stack))
            visit(value)

    visit(stack.resources)
    return found


# ---- the scan itself ----


def test_the_scan_finds_metrics_per_handler(stack: Stack) -> None:
    assert {
        ("EventsAccepted", "ingest"),
        ("AggregationLag", "aggregate"),
        ("BudgetAlertsFired", "budget-watch"),
        ("BudgetAlertsFired", "pipeline-budgets"),
        ("AnomaliesFound", "pipeline-anomalies"),
        ("PipelineProjects", "pipeline-plan"),
    } <= code_metrics(stack)


def test_the_scan_refuses_what_it_cannot_attribute(tmp_path: Path) -> None:
    module = tmp_path / "app.py"
    module.write_text(
        "def plan(event, context):\n"
        "    metrics.add_metric(name='Planned', unit='Count', value=1)\n"
        "def helper():\n"
        "    metrics.add_metric(name='Helped', unit='Count', value=1)\n"
    )
    with pytest.raises(AssertionError, match="which function emits it"):
        emitted_by(module, {"plan": {"pipeline-plan"}, "budgets": {"pipeline-budgets"}})
    assert emitted_by(module, {"plan": {"pipeline-plan"}}) == {
        ("Planned", "pipeline-plan"),
        ("Helped", "pipeline-plan"),
    }
    module.write_text("def plan(event, context):\n    metrics.add_metric(name=NAME, unit='Count', value=1)\n")
    with pytest.raises(AssertionError, match="string literal"):
        emitted_by(module, {"plan": {"pipeline-plan"}})


def test_metrics_are_emitted_only_in_handler_modules_with_the_service_dimension_alone(stack: Stack) -> None:
    from apimeter.observability import metrics

    handler_modules = set(_handler_modules(stack))
    for path in _sources():
        tree = ast.parse(path.read_text(), str(path))
        if next(_calls(tree, {"add_metric"}), None) is not None:
            assert path in handler_modules, f"{path.relative_to(ROOT)} emits a metric outside a handler module"
        call = next(_calls(tree, DIMENSION_CALLS), None)
        assert call is None, f"{path.relative_to(ROOT)}:{call.lineno} adds a dimension the dashboard does not have"
    assert metrics.namespace == NAMESPACE
    for function in stack.functions.values():
        assert function.environment["POWERTOOLS_METRICS_NAMESPACE"] == NAMESPACE, function.logical_id


# ---- custom metrics: the code and the template agree ----


def test_every_custom_metric_on_the_dashboard_is_emitted_and_every_emitted_one_is_on_it(stack: Stack) -> None:
    on_dashboard = _custom(metric for metric, _ in dashboard_lines(stack))
    emitted = code_metrics(stack)
    assert on_dashboard - emitted == set(), "on the dashboard, but no handler emits it under that service"
    assert emitted - on_dashboard == set(), "emitted, but not on the dashboard"


def test_every_custom_metric_an_alarm_watches_is_emitted(stack: Stack) -> None:
    emitted = code_metrics(stack)
    for name, alarm in _alarms(stack).items():
        assert _custom(alarm_metrics(alarm)) <= emitted, name


# ---- the stack's resources are all on the dashboard ----


def test_every_function_has_errors_throttles_and_p99_duration_lines(stack: Stack) -> None:
    functions = {f"${{{name}}}" for name in stack.functions}
    lines = dashboard_lines(stack)
    for metric_name, stat in (("Errors", "Sum"), ("Throttles", "Sum"), ("Duration", "p99")):
        watched = {
            dimensions["FunctionName"]
            for (namespace, name, dimensions), line_stat in lines
            if (namespace, name, line_stat) == ("AWS/Lambda", metric_name, stat)
            and list(dimensions) == ["FunctionName"]
        }
        assert watched == functions, metric_name


def test_every_table_has_read_and_write_throttle_lines(stack: Stack) -> None:
    tables = {f"${{{name}}}" for name in stack.of_type("AWS::DynamoDB::Table")}
    lines = dashboard_lines(stack)
    for metric_name in ("ReadThrottleEvents", "WriteThrottleEvents"):
        watched = {
            dimensions["TableName"]
            for (namespace, name, dimensions), _ in lines
            if (namespace, name) == ("AWS/DynamoDB", metric_name) and list(dimensions) == ["TableName"]
        }
        assert watched == tables, metric_name


def test_every_dead_letter_queue_is_on_the_dashboard_and_raises_an_alarm(stack: Stack) -> None:
    queues = dead_letter_queues(stack)
    for name, queue in stack.of_type("AWS::SQS::Queue").items():  # nothing fails without landing somewhere
        assert name in queues or "RedrivePolicy" in queue.get("Properties", {}), name
    depth = ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    on_dashboard = {d["QueueName"] for (ns, metric, d), _ in dashboard_lines(stack) if (ns, metric) == depth}
    assert on_dashboard == {f"${{{queue}.QueueName}}" for queue in queues}
    alarmed = {
        dimensions["QueueName"]["Fn::GetAtt"][0]
        for alarm in _alarms(stack).values()
        if (alarm.get("Threshold"), alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
        for namespace, name, dimensions in alarm_metrics(alarm)
        if (namespace, name) == depth
    }
    assert alarmed == queues


def test_the_dashboard_watches_the_apis_the_streams_and_the_state_machines(stack: Stack) -> None:
    lines = {(ns, name, tuple(d.items()), stat) for (ns, name, d), stat in dashboard_lines(stack)}
    for api in stack.of_type("AWS::Serverless::HttpApi"):
        dimension = (("ApiId", f"${{{api}}}"),)
        for name, stat in (("4xx", "Sum"), ("5xx", "Sum"), ("Latency", "p99")):
            assert ("AWS/ApiGateway", name, dimension, stat) in lines, (api, name)
    for api, resource in stack.of_type("AWS::ApiGatewayV2::Api").items():
        if resource["Properties"].get("ProtocolType") == "WEBSOCKET":
            dimension = (("ApiId", f"${{{api}}}"),)
            for name in ("ConnectCount", "MessageCount"):
                assert ("AWS/ApiGateway", name, dimension, "Sum") in lines, (api, name)
    for mapping in stack.streams:
        assert ("AWS/Lambda", "IteratorAge", (("FunctionName", f"${{{mapping.function}}}"),), "Maximum") in lines
    for machine in stack.of_type("AWS::Serverless::StateMachine"):
        for name in ("ExecutionsFailed", "ExecutionsTimedOut"):
            assert ("AWS/States", name, (("StateMachineArn", f"${{{machine}}}"),), "Sum") in lines, (machine, name)


def test_the_dashboard_is_region_aware_and_resolves_to_json(stack: Stack) -> None:
    assert {widget["region"] for widget in _widgets(stack, "metric")} == {"${AWS::Region}"}
    resolved = json.loads(stack.resolve(stack.resources[DASHBOARD]["Properties"]["DashboardBody"]))
    assert {w["properties"]["region"] for w in resolved["widgets"] if w["type"] == "metric"} == {REGION}


# ---- alarms ----


def test_every_alarm_notifies_the_ops_topic_and_is_on_the_dashboard(stack: Stack) -> None:
    alarms = _alarms(stack)
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == [{"Ref": "OpsTopic"}], name
        assert alarm["OKActions"] == [{"Ref": "OpsTopic"}], name
        assert alarm["TreatMissingData"] == "notBreaching", name
    on_dashboard = {arn for widget in _widgets(stack, "alarm") for arn in widget["alarms"]}
    assert on_dashboard == {f"${{{name}.Arn}}" for name in alarms}
    assert load(ROOT / "template.yaml")["Outputs"]["OpsTopicArn"]["Value"] == {"Ref": "OpsTopic"}


def test_the_ops_topic_key_lets_alarms_publish(stack: Stack) -> None:
    # The AWS managed SNS key's policy cannot be changed to let CloudWatch alarms use it.
    key = stack.resources["OpsTopic"]["Properties"]["KmsMasterKeyId"]
    assert key == {"Ref": "OpsTopicKey"}
    statements = stack.resources["OpsTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    granted = {
        action
        for statement in statements
        if statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
        for action in statement["Action"]
    }
    assert granted >= {"kms:Decrypt", "kms:GenerateDataKey*"}


def _watching(stack: Stack, namespace: str, name: str, **dimensions: Any) -> list[dict[str, Any]]:
    return [
        alarm
        for alarm in _alarms(stack).values()
        if any(
            (ns, metric) == (namespace, name) and dimensions.items() <= watched.items()
            for ns, metric, watched in alarm_metrics(alarm)
        )
    ]


def test_alarms_watch_what_needs_a_person(stack: Stack) -> None:
    api = {"ApiId": {"Ref": "HttpApi"}}
    rates = [
        alarm
        for alarm in _watching(stack, "AWS/ApiGateway", "5xx", **api)
        if alarm in _watching(stack, "AWS/ApiGateway", "Count", **api)
        and any("/" in query.get("Expression", "") and query.get("ReturnData") for query in alarm["Metrics"])
    ]
    assert rates, "an alarm on the HTTP API's 5xx rate"
    latency = _watching(stack, "AWS/ApiGateway", "Latency", **api)
    assert [alarm for alarm in latency if alarm.get("ExtendedStatistic") == "p99"], "an alarm on p99 latency"
    for mapping in stack.streams:
        assert _watching(stack, "AWS/Lambda", "IteratorAge", FunctionName={"Ref": mapping.function}), mapping
    assert _watching(stack, "AWS/Lambda", "Throttles")
    for table in stack.of_type("AWS::DynamoDB::Table"):
        for name in ("ReadThrottleEvents", "WriteThrottleEvents"):
            assert _watching(stack, "AWS/DynamoDB", name, TableName={"Ref": table}), (table, name)
    for machine in stack.of_type("AWS::Serverless::StateMachine"):
        assert _watching(stack, "AWS/States", "ExecutionsFailed", StateMachineArn={"Ref": machine}), machine
