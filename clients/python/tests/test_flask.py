"""Flask: matched rules as templates (converters, blueprints, script root), streamed bytes, errors."""

from __future__ import annotations

import io
from typing import Any

import pytest

from fake_apimeter import Recorder

flask = pytest.importorskip("flask")

from apimeter_client import from_header  # noqa: E402
from apimeter_client.flask import Apimeter  # noqa: E402


def make_app(recorder: Recorder, **options: Any) -> Any:
    app = flask.Flask(__name__)
    shop = flask.Blueprint("shop", __name__, url_prefix="/shops/<shop>")

    @shop.get("/things/<int:thing_id>")
    def thing(shop: str, thing_id: int) -> Any:
        flask.g.customer = shop
        return {"id": thing_id}

    @shop.get("/files/<path:name>")
    def file(shop: str, name: str) -> Any:
        return flask.send_file(io.BytesIO(b"f" * 4096), download_name=name)

    @app.route("/codes/<string(length=2):code>", methods=["GET", "PUT"])
    def code(code: str) -> Any:
        return {"code": code, "size": len(flask.request.get_data())}

    @app.get("/stream")
    def stream() -> Any:
        return flask.Response(flask.stream_with_context(iter([b"x" * 100, b"y" * 250])))

    @app.get("/boom")
    def boom() -> Any:
        raise RuntimeError("the view failed")

    app.register_blueprint(shop)
    Apimeter(app, client=recorder, **options)
    return app


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def fetch(client: Any, path: str, method: str = "GET", **options: Any) -> Any:
    """As a server does: the whole body read, then the response closed."""
    response = client.open(path, method=method, **options)
    response.get_data()
    response.close()
    return response


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/shops/s1/things/7", "/shops/{shop}/things/{thing_id}"),
        ("/shops/s1/files/a/b.txt", "/shops/{shop}/files/{name}"),
        ("/codes/fr", "/codes/{code}"),
    ],
)
def test_rules_become_templates(recorder: Recorder, path: str, template: str):
    response = fetch(make_app(recorder).test_client(), path)
    assert response.status_code == 200
    assert recorder.last["endpoint"] == template
    assert recorder.last["path"] == path


def test_the_script_root_prefixes_the_template(recorder: Recorder):
    client = make_app(recorder).test_client()
    fetch(client, "/shops/s1/things/7", base_url="http://localhost/mounted")
    assert recorder.last["endpoint"] == "/mounted/shops/{shop}/things/{thing_id}"
    assert recorder.last["path"] == "/mounted/shops/s1/things/7"


def test_unmatched_paths_are_sent_raw(recorder: Recorder):
    client = make_app(recorder).test_client()
    assert fetch(client, "/missing/42").status_code == 404
    assert "endpoint" not in recorder.last
    assert recorder.last["path"] == "/missing/42"
    assert recorder.last["status"] == 404


def test_streamed_and_sent_files_are_counted_in_full(recorder: Recorder):
    client = make_app(recorder).test_client()
    response = client.get("/stream")
    assert response.get_data() == b"x" * 100 + b"y" * 250
    response.close()
    assert recorder.last["response_bytes"] == 350
    response = client.get("/shops/s/files/report.csv")
    assert len(response.get_data()) == 4096
    response.close()
    assert recorder.last["response_bytes"] == 4096
    fetch(client, "/codes/de", "PUT", data=b"z" * 123)
    assert recorder.last["request_bytes"] == 123
    assert recorder.last["method"] == "PUT"


def test_errors_are_500s(recorder: Recorder):
    app = make_app(recorder)
    assert fetch(app.test_client(), "/boom").status_code == 500
    assert recorder.last["status"] == 500
    assert recorder.last["endpoint"] == "/boom"
    app.config["PROPAGATE_EXCEPTIONS"] = True  # raised through the WSGI layer instead
    with pytest.raises(RuntimeError, match="the view failed"):
        app.test_client().get("/boom")
    assert recorder.last["status"] == 500


def test_consumer_from_g_or_a_header_and_trusted_proxies(recorder: Recorder):
    app = make_app(recorder, consumer=lambda request: flask.g.get("customer"), trusted_proxies=2)
    fetch(
        app.test_client(),
        "/shops/acme/things/1",
        headers={"X-Forwarded-For": "10.9.9.9, 198.51.100.7, 192.0.2.1", "User-Agent": "curl/8"},
    )
    assert recorder.last["consumer"] == "acme"
    assert recorder.last["ip"] == "198.51.100.7"
    assert recorder.last["user_agent"] == "curl/8"
    fetch(
        make_app(recorder, consumer=from_header("X-Customer")).test_client(),
        "/codes/ab",
        headers={"X-Customer": "globex"},
    )
    assert recorder.last["consumer"] == "globex"
    assert recorder.last["ip"] == "127.0.0.1"


def test_init_app_later(recorder: Recorder):
    app = flask.Flask(__name__)

    @app.get("/v/<uuid:key>")
    def view(key: Any) -> str:
        return "ok"

    extension = Apimeter(client=recorder)
    extension.init_app(app)
    fetch(app.test_client(), "/v/12345678-1234-5678-1234-567812345678")
    assert recorder.last["endpoint"] == "/v/{key}"
    assert app.extensions["apimeter"] is extension
