"""apimeter's Python client: send one event per API call, from any app, without slowing it down.

    from apimeter_client import Client
    client = Client("amk_...", "https://api.apimeter.example")
    client.track(method="GET", endpoint="/users/{id}", status=200, latency_ms=12.5)

Middleware records every call of a web app: ``apimeter_client.asgi`` (FastAPI, Starlette),
``apimeter_client.flask``, ``apimeter_client.django``, ``apimeter_client.wsgi``, and
``apimeter_client.aws_lambda`` for API Gateway and ALB handlers.
"""

from apimeter_client._calls import from_header
from apimeter_client._client import ApimeterError, Client, Stats
from apimeter_client._version import __version__

__all__ = ["ApimeterError", "Client", "Stats", "__version__", "from_header"]
