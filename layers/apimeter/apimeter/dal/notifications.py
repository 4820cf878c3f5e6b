"""Where alerts go: the SNS topic, the EventBridge bus, and webhooks (HTTPS POST)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from functools import lru_cache
from typing import Any

import boto3

from apimeter.settings import settings

SOURCE = "apimeter"
WEBHOOK_TIMEOUT_SECONDS = 5.0


@lru_cache(maxsize=1)
def _sns() -> Any:
    return boto3.client("sns")


@lru_cache(maxsize=1)
def _events() -> Any:
    return boto3.client("events")


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


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A webhook answers where it was asked: a redirect could lead a signed alert anywhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST to a webhook (https, or http on loopback: checked when the budget was saved); returns
    its 2xx status, and raises on anything else, redirects included."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    with _opener.open(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
        status = int(response.status)
    if not 200 <= status < 300:
        raise urllib.error.URLError(f"webhook answered {status}")
    return status
