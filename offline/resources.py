"""Creates the template's tables, secrets, queues, alarms and dashboards on moto, exactly as declared."""

from __future__ import annotations

import json
import secrets
import string
from typing import Any

import boto3

from offline.template import Stack

TABLE_FIELDS = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "BillingMode")


def table_request(stack: Stack, logical_id: str) -> dict[str, Any]:
    """The CreateTable request for a template table (also used by the tests' moto fixtures)."""
    props = stack.resolve(stack.resources[logical_id]["Properties"])
    request: dict[str, Any] = {"TableName": stack.physical_name(logical_id)}
    request.update({name: props[name] for name in TABLE_FIELDS if name in props})
    stream = props.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    return request


def create_tables(stack: Stack, client: Any) -> None:
    for logical_id in stack.of_type("AWS::DynamoDB::Table"):
        client.create_table(**table_request(stack, logical_id))
        ttl = stack.resources[logical_id]["Properties"].get("TimeToLiveSpecification")
        if ttl and stack.resolve(ttl.get("Enabled")):
            client.update_time_to_live(
                TableName=stack.physical_name(logical_id),
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )


def ttl_attributes(stack: Stack) -> dict[str, str]:
    """Table name -> TTL attribute, for the sweeper."""
    found = {}
    for logical_id, resource in stack.of_type("AWS::DynamoDB::Table").items():
        ttl = resource["Properties"].get("TimeToLiveSpecification")
        if ttl and stack.resolve(ttl.get("Enabled")):
            found[stack.physical_name(logical_id)] = ttl["AttributeName"]
    return found


def generate_secret(spec: dict[str, Any]) -> str:
    """What CloudFormation's GenerateSecretString makes, for the options the template uses."""
    alphabet = string.ascii_letters + string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += "!#$%&()*+,-.:;<=>?[]^_{|}~"
    return "".join(secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))


def create_secrets(stack: Stack, client: Any, known: dict[str, str]) -> dict[str, str]:
    """Create every secret, reusing ``known`` values (a restart keeps tokens and keys valid)."""
    values = {}
    for logical_id, resource in stack.of_type("AWS::SecretsManager::Secret").items():
        name = stack.physical_name(logical_id)
        value = known.get(name) or generate_secret(resource["Properties"].get("GenerateSecretString", {}))
        client.create_secret(Name=name, SecretString=value)
        values[name] = value
    return values


def create_buckets(stack: Stack, client: Any) -> list[str]:
    """Create every bucket (their lifecycle rules are not enforced offline); returns their names."""
    names = [stack.physical_name(logical_id) for logical_id in stack.of_type("AWS::S3::Bucket")]
    for name in names:
        client.create_bucket(Bucket=name)
    return names


def create_queues(stack: Stack, client: Any) -> dict[str, str]:
    """Logical id -> queue URL. Queues first, then their attributes (a redrive names another queue)."""
    urls = {
        logical_id: client.create_queue(QueueName=stack.physical_name(logical_id))["QueueUrl"]
        for logical_id in stack.of_type("AWS::SQS::Queue")
    }
    for logical_id, resource in stack.of_type("AWS::SQS::Queue").items():
        props = stack.resolve(resource.get("Properties", {}))
        attributes = {}
        if "VisibilityTimeout" in props:
            attributes["VisibilityTimeout"] = str(props["VisibilityTimeout"])
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        if attributes:
            client.set_queue_attributes(QueueUrl=urls[logical_id], Attributes=attributes)
    return urls


def create_alert_channels(stack: Stack, sns: Any, events: Any) -> None:
    """The SNS topics and EventBridge buses alerts go to."""
    for logical_id in stack.of_type("AWS::SNS::Topic"):
        sns.create_topic(Name=stack.physical_name(logical_id))
    for logical_id in stack.of_type("AWS::Events::EventBus"):
        events.create_event_bus(Name=stack.physical_name(logical_id))


def create_operations(stack: Stack, cloudwatch: Any) -> None:
    """The template's alarms and dashboards, resolved as CloudFormation would (moto stores the
    alarms without evaluating them, and checks that a dashboard body is JSON)."""
    for logical_id, resource in stack.of_type("AWS::CloudWatch::Alarm").items():
        alarm = stack.resolve(resource["Properties"])
        alarm.setdefault("AlarmName", stack.physical_name(logical_id))
        cloudwatch.put_metric_alarm(**alarm)
    for logical_id, resource in stack.of_type("AWS::CloudWatch::Dashboard").items():
        dashboard = stack.resolve(resource["Properties"])
        name = dashboard.get("DashboardName", stack.physical_name(logical_id))
        cloudwatch.put_dashboard(DashboardName=name, DashboardBody=dashboard["DashboardBody"])


# moto accepts any credentials; these only keep botocore from looking for real ones.
MOTO_CREDENTIAL = "offline"


def clients(endpoint: str) -> dict[str, Any]:
    session = boto3.session.Session(
        aws_access_key_id=MOTO_CREDENTIAL,
        aws_secret_access_key=MOTO_CREDENTIAL,
        region_name="us-east-1",
    )
    return {
        name: session.client(name, endpoint_url=endpoint)
        for name in (
            "dynamodb",
            "dynamodbstreams",
            "secretsmanager",
            "sqs",
            "s3",
            "sns",
            "events",
            "stepfunctions",
            "cloudwatch",
        )
    }
