"""Starts and stops the whole offline stack: moto, resources, functions, gateway, stream pumps, TTL."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offline import demo, priority, resources, state, stepfunctions
from offline.faults import WATCHED, Faults
from offline.gateway import Gateway, serve
from offline.lambdas import load_all
from offline.queues import QueuePump
from offline.schedules import Scheduler
from offline.site import Site
from offline.streams import StreamPump
from offline.template import Stack, read_stack
from offline.ttl import Sweeper
from offline.websocket import MANAGEMENT_PREFIX, PATH

log = logging.getLogger("offline")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Options:
    root: Path
    port: int = 3000
    state_dir: Path | None = None  # None: nothing saved, nothing restored
    parameters: dict[str, str] = field(default_factory=dict)
    create_demo: bool = True
    ttl_every_seconds: float = 30.0
    faults: Faults | None = None  # offline/faults.py: AWS misbehaving on purpose (``--faults``)


class OfflineStack:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.stack: Stack = read_stack(options.root, options.parameters)
        self.base_url = f"http://127.0.0.1:{options.port}"
        self.live_url = f"ws://127.0.0.1:{options.port}{PATH}" if self.stack.websockets else None
        self.moto_url = ""
        self.demo: dict[str, str] | None = None
        self._moto: Any = None
        self._server: Any = None
        self._pumps: list[StreamPump] = []
        self._queue_pumps: list[QueuePump] = []
        self._sweeper: Sweeper | None = None
        self._scheduler: Scheduler | None = None
        self._secrets: dict[str, str] = {}
        self._clients: dict[str, Any] = {}
        self._buckets: list[str] = []

    # start

    def start(self) -> None:
        from offline.moto import AtomicMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        priority.install()  # before any function makes a client
        moto_port = free_port()
        self._moto = AtomicMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
        self._moto.start()
        self.moto_url = f"http://127.0.0.1:{moto_port}"
        self._environment()
        self._clients = resources.clients(self.moto_url)
        restored = self._create_resources()
        functions = load_all(self.stack)
        if self.options.faults:
            self._inject(self.options.faults, functions)
        self._start_pumps(functions, start_at_latest=restored)
        for mapping in self.stack.queues:
            pump = QueuePump(
                mapping,
                functions[mapping.function],
                self._clients["sqs"],
                self._queues[mapping.queue],
                self.stack.arn(mapping.queue),
            )
            pump.start()
            self._queue_pumps.append(pump)
        tables = resources.ttl_attributes(self.stack)
        self._sweeper = Sweeper(self._clients["dynamodb"], tables, self.options.ttl_every_seconds, self._moto.expired)
        self._sweeper.start()
        stepfunctions.enable_execution()
        stepfunctions.route_lambda_tasks(self.stack, functions)
        machines = stepfunctions.StateMachines(self.stack, self._clients["stepfunctions"])
        self._scheduler = Scheduler(self.stack.schedules, functions, machines)
        self._scheduler.start()
        site = Site(self.options.root / "dashboard", self.base_url, self.live_url)
        gateway = Gateway(self.stack, functions, self._scheduler, site, self.allowed_origins())
        self._server = serve(gateway, self.options.port)
        threading.Thread(target=self._server.serve_forever, name="gateway", daemon=True).start()
        self._write_endpoints()
        self._demo()

    def allowed_origins(self) -> tuple[str, ...]:
        """The origins CORS allows: the dashboard's own (this address, by either loopback name) in
        place of its distribution, and those of the template's DashboardExtraOrigins parameter."""
        port = self.options.port
        extra = self.stack.parameters.get("DashboardExtraOrigins", "")
        return (f"http://127.0.0.1:{port}", f"http://localhost:{port}", *(o for o in extra.split(",") if o))

    def _environment(self) -> None:
        """What a Lambda function would see; the same for every function (they share one process)."""
        env: dict[str, str] = {}
        for function in self.stack.functions.values():
            env.update(function.environment)
        env.update(
            {
                "AWS_ENDPOINT_URL": self.moto_url,
                "MOTO_PORT": self.moto_url.rsplit(":", 1)[1],  # where moto's Step Functions sends its own S3 calls
                "AWS_ACCESS_KEY_ID": resources.MOTO_CREDENTIAL,
                "AWS_SECRET_ACCESS_KEY": resources.MOTO_CREDENTIAL,
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_REGION": "us-east-1",
                "LIVE_ENDPOINT": self.base_url + MANAGEMENT_PREFIX,  # post_to_connection reaches the gateway
                "WEBHOOK_ALLOW_PRIVATE": "true",  # everything here is loopback, webhook receivers included
                "POWERTOOLS_SERVICE_NAME": "apimeter-offline",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
            }
        )
        os.environ.update(env)

    def _create_resources(self) -> bool:
        """Create everything; restore saved data if any. True when data was restored."""
        directory = self.options.state_dir
        resources.create_tables(self.stack, self._clients["dynamodb"])
        known = state.saved_secrets(directory) if directory else {}
        self._secrets = resources.create_secrets(self.stack, self._clients["secretsmanager"], known)
        self._queues = resources.create_queues(self.stack, self._clients["sqs"])
        self._buckets = resources.create_buckets(self.stack, self._clients["s3"])
        resources.create_alert_channels(self.stack, self._clients["sns"], self._clients["events"])
        resources.create_operations(self.stack, self._clients["cloudwatch"])
        if directory and known:
            started = time.monotonic()
            count = state.restore(directory, self._clients["dynamodb"], self._table_names())
            count += state.restore_files(directory, self._clients["s3"], self._buckets)
            log.warning("restored %d items from %s in %.1f s", count, directory, time.monotonic() - started)
            return True
        return False

    def _inject(self, faults: Faults, functions: dict[str, Any]) -> None:
        """Faults for the functions' AWS calls (their clients come from apimeter.aws's session, made
        after this) and invocations; the stack's own clients, made before, stay reliable."""
        from apimeter import aws

        faults.install(aws.session())
        for name in WATCHED:
            if name in functions:
                faults.guard(functions[name], name)
        log.warning("injecting faults: %s", ", ".join(f"{k}={v}" for k, v in sorted(faults.rates.items())))

    def _table_names(self) -> list[str]:
        return [self.stack.physical_name(t) for t in self.stack.of_type("AWS::DynamoDB::Table")]

    def _start_pumps(self, functions: dict[str, Any], start_at_latest: bool) -> None:
        for mapping in self.stack.streams:
            table = self.stack.physical_name(mapping.table)
            stream_arn = self._clients["dynamodb"].describe_table(TableName=table)["Table"]["LatestStreamArn"]
            queue = self._queues.get(mapping.on_failure_queue) if mapping.on_failure_queue else None
            pump = StreamPump(
                mapping,
                functions[mapping.function],
                self._clients["dynamodbstreams"],
                stream_arn,
                self._clients["sqs"],
                queue,
                # Restored items were already aggregated before the stop: deliver only new records.
                start_at_latest=start_at_latest,
                faults=self.options.faults,
            )
            pump.start()
            self._pumps.append(pump)

    def _write_endpoints(self) -> None:
        """Where this stack is, for operator tools (tools/recompute.py): moto's URL and the table names."""
        if self.options.state_dir is None:
            return
        names = ("ENTITIES_TABLE", "EVENTS_TABLE", "ROLLUPS_TABLE", "EVENT_SHARDS", "AWS_DEFAULT_REGION")
        found = {name: os.environ[name] for name in names if name in os.environ}
        found.update({"AWS_ENDPOINT_URL": self.moto_url, "AWS_ACCESS_KEY_ID": resources.MOTO_CREDENTIAL,
                      "AWS_SECRET_ACCESS_KEY": resources.MOTO_CREDENTIAL, "API_URL": self.base_url})  # fmt: skip
        self.options.state_dir.mkdir(parents=True, exist_ok=True)
        (self.options.state_dir / "endpoints.json").write_text(json.dumps(found, indent=2) + "\n")

    def _demo(self) -> None:
        directory = self.options.state_dir
        target = directory / "demo.json" if directory else None
        self.demo = demo.load(target) if target else None
        if self.demo is None and self.options.create_demo and target is not None:
            try:
                self.demo = demo.create(self.base_url, target)
            except OSError as exc:  # e.g. the demo account exists but its file was deleted
                log.warning("demo organization not created (%s); `make dev-reset` starts afresh", exc)

    # stop

    def stop(self, save: bool = True) -> None:
        """Stop taking requests, finish those under way, let the pumps deliver everything in the
        streams (a restart resumes at their end, so nothing may be left in them), save, stop moto."""
        self._stop_serving()
        self._stop_pumps()
        if self._sweeper is not None:
            self._sweeper.stop()
        if self._scheduler is not None:
            self._scheduler.stop()
        if save and self.options.state_dir is not None and self._clients:
            count = state.save(self.options.state_dir, self._clients["dynamodb"], self._table_names(), self._secrets)
            count += state.save_files(self.options.state_dir, self._clients["s3"], self._buckets)
            log.warning("saved %d items to %s", count, self.options.state_dir)
        if self.options.faults:
            log.warning("faults injected: %s", self.options.faults.summary())
        if self._moto is not None:
            self._moto.stop()

    def _stop_serving(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        if self._server.gateway.live is not None:
            self._server.gateway.live.close_all()  # their $disconnect runs before the data is saved
        if not self._server.finish_requests(timeout=60):
            log.warning("requests still running after 60 s; what they write may not be saved")
        self._server.server_close()

    def _stop_pumps(self) -> None:
        for pump in self._pumps:
            if not pump.drain_all(stall_seconds=10):
                log.warning("stream of %s not drained; its pending records are not aggregated", pump.mapping.function)
            pump.stop()
        for queue_pump in self._queue_pumps:
            queue_pump.stop()
