"""Reads template.yaml: parameters, conditions, Globals, functions, routes, stream mappings, resources.

Only the intrinsic functions the template uses are understood (Ref, Sub, GetAtt, If, Equals); an
unknown one fails loudly rather than being guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACCOUNT = "123456789012"
REGION = "us-east-1"
STACK = "apimeter-offline"
HTTP_API_ID = "offline"  # what Ref gives for the HTTP API, and the apiId of the events offline/gateway.py makes


class _Loader(yaml.SafeLoader):
    pass


def _tag(name: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        key = "Ref" if name == "Ref" else f"Fn::{name}"
        return {key: value}

    return construct


for _name in ("Ref", "Sub", "GetAtt", "If", "Equals", "Join", "Select", "Split", "Not", "And", "Or", "FindInMap"):
    _Loader.add_constructor(f"!{_name}", _tag(_name))


def load(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=_Loader)  # noqa: S506 - SafeLoader subclass # nosec B506
    return document


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    function: str
    authorized: bool

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True, slots=True)
class StreamMapping:
    function: str
    table: str
    batch_size: int
    window_seconds: float
    max_retries: int
    bisect: bool
    partial_failures: bool
    on_failure_queue: str | None
    starting_position: str
    max_age_seconds: int = -1  # -1: as long as the stream keeps records (24 h)


@dataclass(frozen=True, slots=True)
class QueueMapping:
    function: str
    queue: str
    batch_size: int
    partial_failures: bool


@dataclass(frozen=True, slots=True)
class Schedule:
    function: str  # the logical id of the function or state machine it starts
    name: str
    expression: str  # rate(15 minutes)


@dataclass(frozen=True, slots=True)
class StateMachine:
    logical_id: str
    definition: str  # the ASL with its DefinitionSubstitutions applied


@dataclass(frozen=True, slots=True)
class SocketRoute:
    key: str  # $connect, $disconnect, $default or an action
    function: str
    authorizer: str | None = None  # the REQUEST authorizer's function ($connect only)
    identity_sources: tuple[str, ...] = ()  # e.g. route.request.querystring.token
    responds: bool = False  # a route response sends the function's answer back on the socket


@dataclass(frozen=True, slots=True)
class WebSocketApi:
    logical_id: str
    api_id: str  # what Ref gives, as in the functions' environment
    stage: str
    selection: str  # the route selection expression, $request.body.<field>
    routes: dict[str, SocketRoute]


@dataclass(slots=True)
class Function:
    logical_id: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    timeout: int
    memory: int


@dataclass(frozen=True, slots=True)
class Cors:
    """The HTTP API's CorsConfiguration, less its origins (they name the dashboard's distribution,
    which offline is the stack's own address: see ``offline.stack``)."""

    allow_headers: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int = 0


@dataclass(slots=True)
class Stack:
    root: Path
    parameters: dict[str, str]
    resources: dict[str, dict[str, Any]]
    functions: dict[str, Function] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    streams: list[StreamMapping] = field(default_factory=list)
    queues: list[QueueMapping] = field(default_factory=list)
    schedules: list[Schedule] = field(default_factory=list)
    state_machines: dict[str, StateMachine] = field(default_factory=dict)
    conditions: dict[str, Any] = field(default_factory=dict)
    authorizer_function: str | None = None
    websockets: list[WebSocketApi] = field(default_factory=list)
    cors: Cors | None = None

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: res for name, res in self.resources.items() if res.get("Type") == kind}

    def physical_name(self, logical_id: str) -> str:
        resource = self.resources[logical_id]
        kind = resource["Type"]
        if kind == "AWS::SecretsManager::Secret":
            return str(self.resolve(resource["Properties"]["Name"]))
        if kind == "AWS::S3::Bucket":
            return f"{STACK}-{logical_id}".lower()  # bucket names are lowercase
        return f"{STACK}-{logical_id}"

    def arn(self, logical_id: str) -> str:
        kind = self.resources[logical_id]["Type"]
        name = self.physical_name(logical_id)
        if kind == "AWS::DynamoDB::Table":
            return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
        if kind == "AWS::SQS::Queue":
            return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
        if kind == "AWS::Serverless::Function":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
        if kind == "AWS::Events::EventBus":
            return f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}"
        if kind == "AWS::Serverless::StateMachine":
            return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
        if kind == "AWS::CloudWatch::Alarm":
            return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"
        return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:{logical_id}"

    def _condition(self, name: str) -> bool:
        return bool(self.resolve(self.conditions[name]))

    def resolve(self, value: Any) -> Any:
        """Evaluate the intrinsic functions in ``value``."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1 or not next(iter(value)).startswith(("Ref", "Fn::")):
            return {k: self.resolve(v) for k, v in value.items()}
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return self._ref(arg)
        if fn == "Fn::Sub":
            return re.sub(r"\$\{([^}]+)\}", lambda m: str(self._sub(m.group(1))), arg)
        if fn == "Fn::GetAtt":
            return self._get_att(arg[0], arg[1])
        if fn == "Fn::If":
            return self.resolve(arg[1] if self._condition(arg[0]) else arg[2])
        if fn == "Fn::Equals":
            return str(self.resolve(arg[0])) == str(self.resolve(arg[1]))
        raise ValueError(f"offline stack does not understand {fn}")

    def _ref(self, name: str) -> str:
        pseudo = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::StackName": STACK, "AWS::URLSuffix": "local"}
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if self.resources[name]["Type"] == "AWS::SecretsManager::Secret":
            return self.physical_name(name)
        if self.resources[name]["Type"] == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{self.physical_name(name)}"
        if self.resources[name]["Type"] in ("AWS::SNS::Topic", "AWS::Serverless::StateMachine"):
            return self.arn(name)
        if self.resources[name]["Type"] == "AWS::Serverless::HttpApi":
            return HTTP_API_ID
        return self.physical_name(name)

    def _sub(self, name: str) -> str:
        return self._get_att(*name.split(".", 1)) if "." in name else self._ref(name)

    def _get_att(self, logical_id: str, attribute: str) -> str:
        if attribute == "Arn":
            return self.arn(logical_id)
        if attribute == "StreamArn":
            return self.arn(logical_id) + "/stream/offline"
        if attribute in ("QueueName", "TopicName"):
            return self.physical_name(logical_id)
        raise ValueError(f"offline stack does not know attribute {logical_id}.{attribute}")


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _cors(cors: dict[str, Any] | None) -> Cors | None:
    if not cors:
        return None
    return Cors(
        allow_headers=tuple(cors.get("AllowHeaders", ())),
        allow_methods=tuple(cors.get("AllowMethods", ())),
        expose_headers=tuple(cors.get("ExposeHeaders", ())),
        max_age=int(cors.get("MaxAge", 0)),
    )


def read_stack(root: Path, overrides: dict[str, str] | None = None) -> Stack:
    document = load(root / "template.yaml")
    parameters = {name: str(spec.get("Default", "")) for name, spec in document.get("Parameters", {}).items()}
    for name, value in (overrides or {}).items():
        if name not in parameters:
            raise ValueError(f"template has no parameter {name}")
        parameters[name] = value
    stack = Stack(
        root=root, parameters=parameters, resources=document["Resources"], conditions=document.get("Conditions", {})
    )
    function_globals = document.get("Globals", {}).get("Function", {})
    default_authorizer = None
    for api in stack.of_type("AWS::Serverless::HttpApi").values():
        auth = api.get("Properties", {}).get("Auth", {})
        stack.cors = _cors(api.get("Properties", {}).get("CorsConfiguration")) or stack.cors
        default_authorizer = auth.get("DefaultAuthorizer")
        for spec in auth.get("Authorizers", {}).values():
            stack.authorizer_function = spec["FunctionArn"]["Fn::GetAtt"][0]

    for logical_id, resource in stack.of_type("AWS::Serverless::Function").items():
        props = _merge(function_globals, resource.get("Properties", {}))
        environment = {k: str(stack.resolve(v)) for k, v in props.get("Environment", {}).get("Variables", {}).items()}
        stack.functions[logical_id] = Function(
            logical_id=logical_id,
            code_dir=root / props["CodeUri"],
            handler=props["Handler"],
            environment=environment,
            timeout=int(props.get("Timeout", 3)),
            memory=int(props.get("MemorySize", 128)),
        )
        for event_name, event in props.get("Events", {}).items():
            if event["Type"] in ("Schedule", "ScheduleV2"):
                expression = event["Properties"]["ScheduleExpression"]
                stack.schedules.append(Schedule(logical_id, event_name, str(stack.resolve(expression))))
            else:
                _read_event(stack, logical_id, event, default_authorizer)
    stack.websockets = [_websocket_api(stack, name) for name in _websocket_ids(stack)]
    for logical_id, resource in stack.of_type("AWS::Serverless::StateMachine").items():
        props = resource["Properties"]
        substitutions = {k: str(stack.resolve(v)) for k, v in props.get("DefinitionSubstitutions", {}).items()}
        substitutions |= _OFFLINE_SUBSTITUTIONS
        text = (root / props["DefinitionUri"]).read_text()
        definition = _substitute(text, substitutions)
        stack.state_machines[logical_id] = StateMachine(logical_id, definition)
        for event_name, event in props.get("Events", {}).items():
            expression = str(stack.resolve(event["Properties"]["ScheduleExpression"]))
            stack.schedules.append(Schedule(logical_id, event_name, expression))
    return stack


def _substitute(text: str, substitutions: dict[str, str]) -> str:
    """``${Name}`` in an ASL definition replaced as CloudFormation's DefinitionSubstitutions do."""
    return re.sub(r"\$\{(\w+)\}", lambda found: substitutions[found.group(1)], text)


# moto runs only STANDARD child executions of a distributed Map; on AWS they are EXPRESS (cheaper).
_OFFLINE_SUBSTITUTIONS = {"ChildExecutionType": "STANDARD"}


def _read_event(stack: Stack, function: str, event: dict[str, Any], default_authorizer: str | None) -> None:
    props = event.get("Properties", {})
    if event["Type"] == "HttpApi":
        authorizer = props.get("Auth", {}).get("Authorizer", default_authorizer)
        method = str(props["Method"]).upper()
        stack.routes.append(Route(method, props["Path"], function, authorizer not in (None, "NONE")))
    elif event["Type"] == "SQS":
        stack.queues.append(
            QueueMapping(
                function=function,
                queue=props["Queue"]["Fn::GetAtt"][0],
                batch_size=int(props.get("BatchSize", 10)),
                partial_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
            )
        )
    elif event["Type"] == "DynamoDB":
        table = props["Stream"]["Fn::GetAtt"][0]
        on_failure = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        stack.streams.append(
            StreamMapping(
                function=function,
                table=table,
                batch_size=int(props.get("BatchSize", 100)),
                window_seconds=float(stack.resolve(props.get("MaximumBatchingWindowInSeconds", 0))),
                max_retries=int(props.get("MaximumRetryAttempts", -1)),
                max_age_seconds=int(stack.resolve(props.get("MaximumRecordAgeInSeconds", -1))),
                bisect=bool(props.get("BisectBatchOnFunctionError", False)),
                partial_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                on_failure_queue=on_failure["Fn::GetAtt"][0] if on_failure else None,
                starting_position=props.get("StartingPosition", "LATEST"),
            )
        )


def _websocket_ids(stack: Stack) -> list[str]:
    apis = stack.of_type("AWS::ApiGatewayV2::Api")
    return [name for name, api in apis.items() if api["Properties"].get("ProtocolType") == "WEBSOCKET"]


def _lambda_of(uri: Any) -> str:
    """The function behind an integration or authorizer URI (``...functions/${Fn.Arn}/invocations``)."""
    found = re.search(r"\$\{(\w+)\.Arn\}", str(uri.get("Fn::Sub") if isinstance(uri, dict) else uri))
    if found is None:
        raise ValueError(f"offline stack cannot tell which function {uri!r} invokes")
    return found.group(1)


def _websocket_api(stack: Stack, api_id: str) -> WebSocketApi:
    def of_api(kind: str) -> dict[str, dict[str, Any]]:
        return {
            n: r["Properties"] for n, r in stack.of_type(kind).items() if r["Properties"]["ApiId"] == {"Ref": api_id}
        }

    integrations = {
        name: _lambda_of(props["IntegrationUri"]) for name, props in of_api("AWS::ApiGatewayV2::Integration").items()
    }
    authorizers = of_api("AWS::ApiGatewayV2::Authorizer")
    routes = {}
    for props in of_api("AWS::ApiGatewayV2::Route").values():
        target = re.fullmatch(r"integrations/\$\{(\w+)\}", str(props["Target"].get("Fn::Sub", "")))
        if target is None:
            raise ValueError(f"offline stack cannot read the target of route {props['RouteKey']}")
        authorizer = authorizers[props["AuthorizerId"]["Ref"]] if props.get("AuthorizationType") == "CUSTOM" else None
        routes[props["RouteKey"]] = SocketRoute(
            key=props["RouteKey"],
            function=integrations[target.group(1)],
            authorizer=_lambda_of(authorizer["AuthorizerUri"]) if authorizer else None,
            identity_sources=tuple(authorizer.get("IdentitySource", ())) if authorizer else (),
            responds="RouteResponseSelectionExpression" in props,
        )
    stage = next(iter(of_api("AWS::ApiGatewayV2::Stage").values()), {"StageName": "$default"})
    selection = stack.resources[api_id]["Properties"]["RouteSelectionExpression"]
    return WebSocketApi(
        api_id, str(stack.resolve({"Ref": api_id})), str(stack.resolve(stage["StageName"])), selection, routes
    )
