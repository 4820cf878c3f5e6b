"""Where alerts go: the SNS topic, the EventBridge bus, and webhooks (HTTPS POST)."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from apimeter import aws
from apimeter.domain import webhooks
from apimeter.settings import settings

SOURCE = "apimeter"
WEBHOOK_TIMEOUT_SECONDS = 5.0


@lru_cache(maxsize=1)
def _sns() -> Any:
    return aws.client("sns")


@lru_cache(maxsize=1)
def _events() -> Any:
    return aws.client("events")


def publish(subject: str, message: dict[str, Any], attributes: dict[str, str]) -> None:
    """To the alerts topic; ``attributes`` let subscribers filter (by project, by type)."""
    _sns().publish(
        TopicArn=settings().require("alerts_topic_arn"),
        Subject=subject[:100],
        Message=json.dumps(message),
        MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items() if v},
    )


def put_event(detail_type: str, detail: dict[str, Any], resources: list[str]) -> None:
    """One event on the alerts bus; a failed entry raises, so the delivery is retried."""
    response = _events().put_events(
        Entries=[
            {
                "EventBusName": settings().require("alerts_bus_name"),
                "Source": SOURCE,
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
                "Resources": resources,
            }
        ]
    )
    if response.get("FailedEntryCount"):
        raise RuntimeError(f"EventBridge refused the event: {response['Entries'][0].get('ErrorCode')}")


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST to a webhook (https, or http on loopback: checked when the budget was saved); returns
    its 2xx status, and raises on anything else (a redirect too: it could lead a signed alert
    anywhere). Raises ``webhooks.Refused`` when the host resolves to an address deliveries must not
    reach, unless ``WEBHOOK_ALLOW_PRIVATE`` is set (the offline stack, where everything is loopback)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    address = _vetted_address(host, port)
    connection = (_PinnedHTTPS if secure else _PinnedHTTP)(host, port, address, WEBHOOK_TIMEOUT_SECONDS)
    try:
        connection.request("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body, headers)
        status = connection.getresponse().status
    finally:
        connection.close()
    if not 200 <= status < 300:
        raise OSError(f"webhook answered {status}")
    return status


def _vetted_address(host: str, port: int) -> str:
    """The address to connect to: the host resolved once, every address it resolves to vetted, so a
    name that also points inside cannot be raced past the check (the connection uses this address)."""
    found = [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
    if not found:
        raise OSError(f"{host} resolves to no address")
    if not settings().webhook_allow_private:
        for address in found:
            reason = webhooks.refusal(address)
            if reason is not None:
                raise webhooks.Refused(f"{host} resolves to {address}, {reason}")
    return found[0]


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the vetted address while the request still names the host (Host header)."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """As _PinnedHTTP, with TLS verified against the host's name (SNI and certificate)."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.address = address

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)
