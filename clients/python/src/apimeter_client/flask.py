"""Flask: every call with its matched rule as the template (``/things/<int:thing_id>`` is recorded as
``/things/{thing_id}``, under the app's script root).

    apimeter = Apimeter(app, client=client)      # or Apimeter(client=client).init_app(app)

``consumer`` receives the Flask request at the end of the request (``g`` and the session are still
there). Built on the WSGI middleware, so streamed responses are counted as they are sent. A path that
matched no rule (404, 405) is sent raw and templated by the server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flask

from apimeter_client._calls import Tracker, consumer_of, placeholders
from apimeter_client.wsgi import CONSUMER_KEY, ApimeterMiddleware


class Apimeter:
    def __init__(
        self,
        app: flask.Flask | None = None,
        *,
        client: Tracker,
        consumer: Callable[[flask.Request], Any] | None = None,
        trusted_proxies: int = 0,
    ) -> None:
        self.client = client
        self.consumer = consumer
        self.trusted_proxies = trusted_proxies
        if app is not None:
            self.init_app(app)

    def init_app(self, app: flask.Flask) -> None:
        app.wsgi_app = ApimeterMiddleware(  # type: ignore[method-assign]
            app.wsgi_app, self.client, trusted_proxies=self.trusted_proxies, route=_noted_rule
        )
        # Called once the URL is matched, before any view or before_request hook: the cheapest hook.
        app.url_value_preprocessor(_note_rule)
        if self.consumer is not None:
            app.teardown_request(self._note_consumer)
        app.extensions["apimeter"] = self

    def _note_consumer(self, _exc: BaseException | None) -> None:
        """While the request context lives (``g``, the session), for the WSGI layer to record."""
        flask.request.environ[CONSUMER_KEY] = consumer_of(self.consumer, flask.request)


_ROUTE_KEY = "apimeter.route"


def _note_rule(endpoint: str | None, values: dict[str, Any] | None) -> None:
    request = flask.request._get_current_object()  # type: ignore[attr-defined] # once through the proxy
    rule = request.url_rule
    if rule is not None:
        environ = request.environ
        environ[_ROUTE_KEY] = environ.get("SCRIPT_NAME", "").rstrip("/") + placeholders(rule.rule)


def _noted_rule(environ: dict[str, Any]) -> str | None:
    return environ.get(_ROUTE_KEY)
