"""template.yaml and the code agree: functions import, routes are served, streams and tables line up."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from offline.lambdas import Lambda
from offline.template import Stack
from tools.openapi import render

ROOT = Path(__file__).resolve().parent.parent.parent


def test_every_function_is_python313_arm64_with_the_layer(stack: Stack) -> None:
    assert stack.functions
    document = stack.resources
    for name, resource in stack.of_type("AWS::Serverless::Function").items():
        props = resource["Properties"]
        module, _, function = props["Handler"].partition(".")
        assert module == "app", name
        assert function == "lambda_handler" or props["CodeUri"] == "functions/pipeline", name  # a step each
        assert (ROOT / props["CodeUri"] / "app.py").is_file(), name
    from offline.template import load

    globals_ = load(ROOT / "template.yaml")["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.13"
    assert globals_["Architectures"] == ["arm64"]
    assert document["ApimeterLayer"]["Metadata"]["BuildMethod"] == "makefile"  # layers/apimeter/Makefile


def test_every_handler_imports(stack: Stack) -> None:
    for function in stack.functions.values():
        assert callable(Lambda(function).handler()), function.logical_id


def _code_routes(handler: object) -> set[str]:
    resolver = handler.resolver  # type: ignore[attr-defined]
    keys = set()
    for route in resolver._static_routes + resolver._dynamic_routes:
        path = re.sub(r"<(\w+)>", r"{\1}", route.path)
        keys.add(f"{route.method.upper()} {path}")
    return keys


def test_routes_in_the_template_are_served_by_their_handler_and_vice_versa(stack: Stack) -> None:
    for name, function in stack.functions.items():
        declared = {r.key for r in stack.routes if r.function == name and r.path != "$default"}
        handler = Lambda(function).handler()
        served = _code_routes(handler) if hasattr(handler, "resolver") else set()
        assert declared == served, name


def test_public_routes_match_the_routes_without_the_authorizer(stack: Stack) -> None:
    """A route without the authorizer is either public or judges its own credentials, and a route
    that judges them has no authorizer in front (whose context it would overwrite)."""
    for name, function in stack.functions.items():
        handler = Lambda(function).handler()
        template_public = {
            ("$default" if r.path == "$default" else r.key)
            for r in stack.routes
            if r.function == name and not r.authorized
        }
        public = set(getattr(handler, "public_routes", set()))
        own = set(getattr(handler, "self_authenticated_routes", set()))
        assert public | own == template_public, name
        assert not public & own, name


def test_authorizer_is_the_default_and_not_gateway_cached(stack: Stack) -> None:
    api = stack.of_type("AWS::Serverless::HttpApi")["HttpApi"]["Properties"]["Auth"]
    spec = api["Authorizers"][api["DefaultAuthorizer"]]
    assert spec["EnableSimpleResponses"] is True
    assert spec["AuthorizerPayloadFormatVersion"] == "2.0"
    assert spec["Identity"]["ReauthorizeEvery"] == 0  # see apimeter.logic.authorization
    assert stack.authorizer_function == "AuthorizerFunction"


def test_stream_mappings_have_lambdas_failure_rules(stack: Stack) -> None:
    consumers = {(m.function, m.table) for m in stack.streams}
    assert consumers == {("AggregateFunction", "EventsTable"), ("BudgetWatchFunction", "EventsTable")}
    for mapping in stack.streams:  # a DynamoDB stream serves at most two consumers without throttling
        assert mapping.partial_failures
        assert mapping.bisect
        assert 0 < mapping.max_retries <= 10
        assert 0 < mapping.max_age_seconds < 86_400  # before the stream forgets the records
        assert mapping.on_failure_queue == mapping.function.removesuffix("Function") + "FailureQueue"
        policies = stack.resources[mapping.function]["Properties"]["Policies"]
        send = {"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": [mapping.on_failure_queue, "QueueName"]}}}
        assert send in policies
    events = stack.resources["EventsTable"]["Properties"]
    assert events["StreamSpecification"]["StreamViewType"] in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES")


@pytest.mark.parametrize(
    ("table", "ttl"), [("EntitiesTable", "expires_at"), ("EventsTable", "expires_at"), ("RollupsTable", "expires_at")]
)
def test_tables_are_on_demand_with_ttl(stack: Stack, table: str, ttl: str) -> None:
    props = stack.resources[table]["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TimeToLiveSpecification"] == {"AttributeName": ttl, "Enabled": True}


def test_every_table_env_var_names_a_template_table(stack: Stack) -> None:
    tables = {stack.physical_name(t) for t in stack.of_type("AWS::DynamoDB::Table")}
    for function in stack.functions.values():
        for name, value in function.environment.items():
            if name.endswith("_TABLE"):
                assert value in tables, (function.logical_id, name)


def test_every_function_has_a_sample_event() -> None:
    for folder in (ROOT / "functions").iterdir():
        if folder.is_dir() and (folder / "app.py").exists():
            assert list((ROOT / "events").glob(f"{folder.name}*.json")), folder.name
    for sample in (ROOT / "events").glob("*.json"):
        json.loads(sample.read_text())


def test_checked_in_openapi_matches_the_code() -> None:
    checked_in = (ROOT / "docs" / "openapi.json").read_text()
    assert checked_in == render(), "docs/openapi.json is stale: run `make openapi`"


def test_every_bound_is_one_json_schema_knows() -> None:
    """pydantic writes a bound it cannot place as "ge"/"le", which JSON Schema ignores: the document
    would allow what the server refuses (a retention of 0 days did)."""
    leaked: list[str] = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            leaked.extend(f"{where}.{key}" for key in ("ge", "le", "gt", "lt") if key in node)
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}]")

    walk(json.loads(render()), "")
    assert leaked == []


def test_every_function_logs_to_its_own_group_with_retention(stack: Stack) -> None:
    groups = stack.of_type("AWS::Logs::LogGroup")
    for name, resource in stack.of_type("AWS::Serverless::Function").items():
        group = resource["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert group in groups, name
        assert groups[group]["Properties"]["RetentionInDays"], name


def test_failed_stream_batches_raise_an_alarm(stack: Stack) -> None:
    alarms = [a["Properties"] for a in stack.of_type("AWS::CloudWatch::Alarm").values()]
    for mapping in stack.streams:
        queue = {"Fn::GetAtt": [mapping.on_failure_queue, "QueueName"]}
        (alarm,) = [a for a in alarms if a.get("Dimensions", [{}])[0].get("Value") == queue]
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
        assert alarm["AlarmActions"] == [{"Ref": "OpsTopic"}]


def test_readme_roles_table_is_the_code_table() -> None:
    from apimeter.domain import permissions

    readme = (ROOT / "README.md").read_text()
    rows = {}
    for line in readme.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`") and "." in cells[0]:
            rows[cells[0].strip("`")] = [role for role, cell in zip(permissions.ROLES, cells[1:], strict=True) if cell]
    assert rows == {row["action"]: row["roles"] for row in permissions.table()}


def test_the_hourly_pipeline_is_scheduled_and_calls_only_template_functions(stack: Stack) -> None:
    machine = stack.resources["HourlyPipeline"]["Properties"]
    definition = json.loads((ROOT / machine["DefinitionUri"]).read_text())
    text = json.dumps(definition)
    assert set(re.findall(r"\$\{(\w+)\}", text)) == set(machine["DefinitionSubstitutions"])
    for name, value in machine["DefinitionSubstitutions"].items():
        if name.endswith("FunctionArn"):
            assert value["Fn::GetAtt"][0] in stack.functions, name
    states = definition["States"]
    order, at = [], definition["StartAt"]
    while at:
        order.append(at)
        at = states[at].get("Next")
    assert order == ["FinalizeRollups", "Plan", "Projects", "Budgets", "Notifications"]
    per_project = states["Projects"]["ItemProcessor"]
    assert per_project["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    branches = per_project["States"]["ForecastAndAnomalies"]["Branches"]
    assert [b["StartAt"] for b in branches] == ["Forecast", "Anomalies"]
    for branch in branches:  # one project's failure is recorded, not the run's
        assert branch["States"][branch["StartAt"]]["Catch"][0]["ErrorEquals"] == ["States.ALL"]
    for name in ("FinalizeRollups", "Plan", "Notifications"):
        assert states[name]["Retry"], name
    assert machine["Events"]["Hourly"]["Properties"]["ScheduleExpression"] == "cron(15 * * * ? *)"
    alarm = stack.resources["PipelineFailuresAlarm"]["Properties"]
    assert (alarm["MetricName"], alarm["Dimensions"][0]["Value"]) == ("ExecutionsFailed", {"Ref": "HourlyPipeline"})


# Where a wildcard is what AWS requires, or an AWS managed policy SAM attaches by itself. Each entry is
# (action, resource); anything else with "*" as an action, a service's "svc:*", or "*" as a resource fails.
ALLOWED_WILDCARDS: set[tuple[str, str]] = {
    # X-Ray's write actions act on no resource: "*" is the only Resource they take.
    ("xray:PutTraceSegments", "*"),
    ("xray:PutTelemetryRecords", "*"),
    # CloudWatch's PutMetricData has no resource-level permissions (Powertools writes EMF logs instead).
    ("cloudwatch:PutMetricData", "*"),
}
# AWS managed policies SAM attaches to function roles: logs, X-Ray, and the stream and queue pollers
# (GetRecords/ReceiveMessage on "*" in AWS's own document; SAM adds them for each event source).
MANAGED_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
}


def _as_list(value: object) -> list[object]:
    return value if isinstance(value, list) else [value]


def wildcard_grants(statements: list[dict[str, object]]) -> list[tuple[str, str]]:
    """(action, resource) pairs of Allow statements where either is a wildcard and not allowed."""
    found = []
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        for action in map(str, _as_list(statement.get("Action"))):
            for resource in _as_list(statement.get("Resource")):
                named = resource if isinstance(resource, str) else json.dumps(resource)  # an intrinsic
                wild = action == "*" or action.endswith(":*") or named == "*"
                if wild and (action, named) not in ALLOWED_WILDCARDS:
                    found.append((action, named))
    return found


def test_the_wildcard_check_finds_wildcards() -> None:
    assert wildcard_grants([{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "arn:t"}]) == [
        ("dynamodb:*", "arn:t")
    ]
    assert wildcard_grants([{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}]) == [
        ("s3:GetObject", "*")
    ]
    assert wildcard_grants([{"Effect": "Allow", "Action": "xray:PutTraceSegments", "Resource": "*"}]) == []
    assert wildcard_grants([{"Effect": "Deny", "Action": "*", "Resource": "*"}]) == []


def test_no_function_or_state_machine_role_grants_wildcards(monkeypatch: pytest.MonkeyPatch) -> None:
    """On the template as SAM expands it: policy templates (DynamoDBCrudPolicy...) become statements."""
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    document = yaml_parse((ROOT / "template.yaml").read_text())
    for resource in document["Resources"].values():  # as `sam package` leaves them
        for name in ("CodeUri", "DefinitionUri", "ContentUri"):
            if isinstance(resource.get("Properties", {}).get(name), str):
                resource["Properties"][name] = f"s3://artifacts/{name}"
    expanded = transform(document, {}, None)["Resources"]
    roles = {name: r["Properties"] for name, r in expanded.items() if r["Type"] == "AWS::IAM::Role"}
    assert len(roles) >= len([r for r in document["Resources"].values() if r["Type"] == "AWS::Serverless::Function"])
    for name, role in roles.items():
        assert set(role.get("ManagedPolicyArns") or ()) <= MANAGED_POLICIES, name
        for policy in role.get("Policies") or ():
            grants = wildcard_grants(policy["PolicyDocument"]["Statement"])
            assert grants == [], (name, policy["PolicyName"], grants)
    assert not [r for r in expanded.values() if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")]


def test_cors_names_its_origins_and_sends_no_credentials(stack: Stack) -> None:
    (api,) = stack.of_type("AWS::Serverless::HttpApi").values()
    cors = api["Properties"]["CorsConfiguration"]
    assert cors["AllowCredentials"] is False
    assert "*" not in json.dumps(cors["AllowOrigins"])
    assert stack.parameters["DashboardExtraOrigins"] == ""  # by default the dashboard's own origin only


def test_every_error_code_the_api_answers_is_in_the_document() -> None:
    """The error envelope's code is an enum in the document: a code missing from it makes a
    correct answer break the document (the fuzzer found UNSUPPORTED_MEDIA_TYPE missing)."""
    from apimeter import errors

    raised = {cls.code for cls in vars(errors).values() if isinstance(cls, type) and hasattr(cls, "code")}
    documented = json.loads(render())["components"]["schemas"]["ErrorOut"]["properties"]["code"]["enum"]
    assert raised == set(documented)
