"""The AsyncAPI document of the live WebSocket API, generated from its message models:
``python -m tools.asyncapi``.

The models are apimeter.api.live's: what a client sends (``SubscriptionIn``) and every message the
server sends (``SERVER_MESSAGES``). Operations are described from the server's side, as AsyncAPI 3
has it: it ``receive``s subscriptions and answers each on the same socket (the operation's reply),
and it ``send``s the pushes.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from apimeter import __version__
from apimeter.api.live import (
    SERVER_MESSAGES,
    AlertMessage,
    AnomalyMessage,
    ErrorMessage,
    MinuteMessage,
    SubscribedMessage,
    SubscriptionIn,
    TruncatedMessage,
    UnsubscribedMessage,
)
from apimeter.domain.live import CONNECTION_SECONDS, MAX_FRAME_BYTES, MAX_SUBSCRIPTIONS, PUSH_SPACING_MS
from offline import websocket
from offline.template import load

ROOT = Path(__file__).resolve().parent.parent
CHANNEL = "live"
SCHEMA_REF = "#/components/schemas/{model}"
OFFLINE_PORT = 3000  # `make dev`'s default
SECURITY_SCHEME = {
    "type": "httpApiKey",
    "name": "token",
    "in": "query",
    "description": "A user's access token, or a token POST /v1/auth/token exchanged for a project API key "
    "with the read scope. Browsers cannot set headers on a WebSocket upgrade, so it comes in the query; "
    "without it, or with one that may not read analytics, the upgrade is refused with 401.",
}


def _summary(model: type[BaseModel]) -> str:
    if not model.__doc__:
        raise RuntimeError(f"{model.__name__} has no docstring to summarize it")
    return " ".join(inspect.cleandoc(model.__doc__).split())


def _title(model: type[BaseModel]) -> str:
    words = re.findall(r"[A-Z][a-z0-9]*", model.__name__)
    return " ".join([words[0], *(word.lower() for word in words[1:])])


def _schemas(models: tuple[type[BaseModel], ...]) -> dict[str, Any]:
    """Each model's JSON schema, with the models it nests hoisted beside it."""
    schemas: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template=SCHEMA_REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return dict(sorted(schemas.items()))


def _message(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "name": model.__name__,
        "title": _title(model),
        "summary": _summary(model),
        "payload": {"$ref": SCHEMA_REF.format(model=model.__name__)},
    }


def _refs(*models: type[BaseModel]) -> list[dict[str, str]]:
    return [{"$ref": f"#/channels/{CHANNEL}/messages/{model.__name__}"} for model in models]


def _operation(
    action: str, summary: str, description: str, *models: type[BaseModel], replies: tuple[type[BaseModel], ...] = ()
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "action": action,
        "channel": {"$ref": f"#/channels/{CHANNEL}"},
        "summary": summary,
        "description": description,
        "messages": _refs(*models),
    }
    if replies:  # answered on the same socket
        found["reply"] = {"channel": {"$ref": f"#/channels/{CHANNEL}"}, "messages": _refs(*replies)}
    return found


def _operations() -> dict[str, Any]:
    truncated = f"One that would not fit a {MAX_FRAME_BYTES // 1024} KB frame is sent as a truncated message."
    operations = {
        "subscribe": _operation(
            "receive",
            "Subscribe to a project",
            '`{"action": "subscribe", "project_id": ...}`, answered on the socket. A project the token '
            "cannot read is answered with an error (NOT_FOUND) and delivers nothing; a connection watches at "
            f"most {MAX_SUBSCRIPTIONS} projects (VALIDATION_ERROR beyond).",
            SubscriptionIn,
            replies=(SubscribedMessage, ErrorMessage),
        ),
        "unsubscribe": _operation(
            "receive",
            "Unsubscribe from a project",
            '`{"action": "unsubscribe", "project_id": ...}`, answered on the socket; nothing more of the '
            "project is sent.",
            SubscriptionIn,
            replies=(UnsubscribedMessage, ErrorMessage),
        ),
        "pushMinute": _operation(
            "send",
            "A project's figures of the minute",
            f"The latest minute's totals so far, at most once every {PUSH_SPACING_MS / 1000:g} s per project "
            "while events arrive; on the trailing edge, so the last push of a burst carries all of it.",
            MinuteMessage,
        ),
        "pushAlert": _operation(
            "send",
            "A budget alert",
            "As it fires, to the subscribers of its project; a tenant-wide budget's goes to every "
            f"connection subscribed to a project of the tenant, once. {truncated}",
            AlertMessage,
            TruncatedMessage,
        ),
        "pushAnomaly": _operation(
            "send",
            "An anomaly",
            f"As the hourly pipeline finds it in a subscribed project's finished hour. {truncated}",
            AnomalyMessage,
            TruncatedMessage,
        ),
    }
    return dict(sorted(operations.items()))


def _servers(root: Path) -> dict[str, Any]:
    stages = load(root / "template.yaml")["Parameters"]["Stage"]
    security = [{"$ref": "#/components/securitySchemes/token"}]
    return {
        "offline": {
            "host": f"127.0.0.1:{OFFLINE_PORT}",
            "pathname": websocket.PATH,
            "protocol": "ws",
            "description": "The offline stack (`make dev`).",
            "security": security,
        },
        "production": {
            "host": "{apiId}.execute-api.{region}.amazonaws.com",
            "pathname": "/{stage}",
            "protocol": "wss",
            "description": "A deployed stack: its LiveUrl output.",
            "variables": {
                "apiId": {"description": "The WebSocket API's id (the LiveApi resource)."},
                "region": {"default": "us-east-1", "description": "The stack's AWS region."},
                "stage": {
                    "enum": list(stages["AllowedValues"]),
                    "default": stages["Default"],
                    "description": "The stack's Stage parameter.",
                },
            },
            "security": security,
        },
    }


def document(root: Path = ROOT) -> dict[str, Any]:
    models: tuple[type[BaseModel], ...] = (SubscriptionIn, *SERVER_MESSAGES)
    messages = {model.__name__: _message(model) for model in sorted(models, key=lambda m: m.__name__)}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "apimeter live",
            "version": __version__,
            "description": "Live per-minute figures, budget alerts and anomalies of the projects a client "
            "subscribes to, as JSON text frames. The token is checked once, at the upgrade. Limits (API "
            f"Gateway's): {MAX_FRAME_BYTES // 1024} KB frames, {websocket.MAX_MESSAGE_BYTES // 1024} KB "
            f"messages; a connection ends after {int(websocket.IDLE_SECONDS) // 60} minutes idle or "
            f"{CONNECTION_SECONDS // 3600} hours in all. A client that reconnects catches up over the HTTP "
            "API (docs/openapi.json).",
        },
        "defaultContentType": "application/json",
        "servers": _servers(root),
        "channels": {
            CHANNEL: {
                # The socket is the channel: its address is the server's, host and pathname.
                "address": None,
                "title": "Live messages",
                "description": "Frames are routed by their `action`. A frame with another action, or a "
                "subscription that does not validate, is answered with an error (VALIDATION_ERROR).",
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
            }
        },
        "operations": _operations(),
        "components": {
            "messages": messages,
            "schemas": _schemas(models),
            "securitySchemes": {"token": SECURITY_SCHEME},
        },
    }


def render(root: Path = ROOT) -> str:
    return json.dumps(document(root), indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
