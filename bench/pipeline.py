"""The hourly pipeline's fan-out, offline: the state machine's ASL run by moto's Step Functions over
N projects (10 per tenant), each project's forecast and anomaly tasks calling the real handlers
in-process against moto's DynamoDB. Prints the run time, the time per project, and the size of the
parent execution's history, which a distributed Map keeps the same whatever N is.

    python bench/pipeline.py [N ...]        (default: 50 200)

moto runs the child executions on threads, one request at a time, in one process: these figures
say how the definition behaves and scales in shape, not how fast AWS runs it (see the README).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
QUIET = {"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_TRACE_DISABLED": "true",
         "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip


def run(projects: int) -> dict[str, Any]:
    import boto3
    from moto import mock_aws

    from apimeter.dal import entities
    from apimeter.dal.dynamo import batch_write
    from apimeter.domain.accounts import Project
    from apimeter.settings import settings
    from offline import resources, stepfunctions
    from offline.lambdas import load_all
    from offline.template import read_stack

    stack = read_stack(ROOT)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        for function in stack.functions.values():
            os.environ.update({k: v for k, v in function.environment.items() if k != "POWERTOOLS_SERVICE_NAME"})
        os.environ.update(QUIET)
        settings.cache_clear()
        resources.create_tables(stack, boto3.client("dynamodb"))
        resources.create_secrets(stack, boto3.client("secretsmanager"), {})
        resources.create_queues(stack, boto3.client("sqs"))
        resources.create_buckets(stack, boto3.client("s3"))
        resources.create_alert_channels(stack, boto3.client("sns"), boto3.client("events"))
        table = stack.physical_name("EntitiesTable")
        rows = []
        for t in range(max(1, projects // 10)):
            tenant = f"ten_bench{t:05d}"
            rows += [{"PutRequest": {"Item": {"pk": {"S": f"TENANT#{tenant}"}, "sk": {"S": "TENANT"},
                                              "id": {"S": tenant}, "name": {"S": tenant}, "plan": {"S": "pro"},
                                              "status": {"S": "active"}, "created_at": {"S": "2026-01-01"}}}},
                     {"PutRequest": {"Item": {"pk": {"S": "TENANTS"}, "sk": {"S": f"TENANT#{tenant}"},
                                              "id": {"S": tenant}, "created_at": {"S": "2026-01-01"}}}}]  # fmt: skip
        batch_write(table, rows)
        for p in range(projects):
            entities.projects.create_project(
                Project(f"prj_bench{p:06d}", f"ten_bench{p // 10:05d}", f"p{p}", 30, "2026-01-01")
            )
        functions = load_all(stack)
        stepfunctions.route_lambda_tasks(stack, functions)
        client = boto3.client("stepfunctions")
        machines = stepfunctions.StateMachines(stack, client)
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # Powertools prints a disabled metric set every 100 values
            done = machines.run("HourlyPipeline")
        seconds = time.perf_counter() - started
        executions = client.list_executions(stateMachineArn=machines.arn("HourlyPipeline"))["executions"]
        history = client.get_execution_history(executionArn=executions[0]["executionArn"], maxResults=1000)
        planned = done.output["plan"]["projects"] if done.output else 0
        return {"status": done.status, "seconds": seconds, "planned": planned, "history_events": len(history["events"])}


def main(argv: list[str]) -> int:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    os.environ.update(QUIET)  # before anything imports Powertools
    sizes = [int(a) for a in argv] or [50, 200]
    print("hourly pipeline offline (moto Step Functions, handlers in-process), one process")
    print(f"{'projects':>9}{'status':>11}{'seconds':>9}{'ms/project':>12}{'parent history events':>23}")
    for size in sizes:
        result = run(size)
        per_project = 1000 * result["seconds"] / max(1, result["planned"])
        print(f"{result['planned']:>9}{result['status']:>11}{result['seconds']:>9.1f}{per_project:>12.1f}"
              f"{result['history_events']:>23}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
