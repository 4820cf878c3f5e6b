"""Django through its test client: routes and regex routes as templates, streams, async views, settings."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fake_apimeter import Recorder

django = pytest.importorskip("django")
from django.conf import settings  # noqa: E402

RECORDER = Recorder()
settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["*"],
    SECRET_KEY="test-only",
    ROOT_URLCONF=__name__,
    MIDDLEWARE=["apimeter_client.django.ApimeterMiddleware"],
    APIMETER={"client": RECORDER, "consumer": f"{__name__}.customer", "trusted_proxies": 1},
)
django.setup()

from django.http import FileResponse, HttpResponse, JsonResponse, StreamingHttpResponse  # noqa: E402
from django.test import AsyncClient, Client  # noqa: E402
from django.urls import include, path, re_path  # noqa: E402


def customer(request: Any) -> str | None:
    return request.headers.get("X-Customer")


def item(request: Any, *args: Any, **params: Any) -> HttpResponse:
    return JsonResponse({"params": {k: str(v) for k, v in params.items()}, "size": len(request.body)})


def stream(request: Any) -> StreamingHttpResponse:
    return StreamingHttpResponse(iter([b"s" * 700, b"t" * 300]))


async def async_stream(request: Any) -> StreamingHttpResponse:
    async def chunks() -> Any:
        for chunk in (b"u" * 40, b"v" * 60):
            yield chunk

    return StreamingHttpResponse(chunks())


def download(request: Any) -> FileResponse:
    import io

    return FileResponse(io.BytesIO(b"f" * 2048), filename="report.csv")


def boom(request: Any) -> HttpResponse:
    raise RuntimeError("the view failed")


async def async_item(request: Any, pk: int) -> HttpResponse:
    await asyncio.sleep(0)
    return JsonResponse({"pk": pk})


inner = [
    path("users/<int:pk>/", item),
    re_path(r"^articles/(?P<year>[0-9]{4})/(?P<slug>[\w-]+)/$", item),
    re_path(r"^raw/([0-9]+)/$", item),
]
urlpatterns = [
    path("api/<slug:org>/", include(inner)),
    re_path(r"^legacy/", include(inner)),
    path("stream/", stream),
    path("async-stream/", async_stream),
    path("download/", download),
    path("boom/", boom),
    path("async/<int:pk>/", async_item),
]


@pytest.fixture(autouse=True)
def fresh() -> None:
    RECORDER.calls.clear()


@pytest.mark.parametrize(
    ("url", "template"),
    [
        ("/api/acme/users/3/", "/api/{org}/users/{pk}/"),
        ("/api/acme/articles/2024/hello-world/", "/api/{org}/articles/{year}/{slug}/"),
        ("/legacy/users/5/", "/legacy/users/{pk}/"),
        ("/legacy/articles/1999/x/", "/legacy/articles/{year}/{slug}/"),
    ],
)
def test_routes_become_templates(url: str, template: str):
    assert Client().get(url).status_code == 200
    assert RECORDER.last["endpoint"] == template
    assert RECORDER.last["path"] == url


def test_an_unreadable_regex_and_a_404_send_the_raw_path():
    Client().get("/legacy/raw/12/")
    assert "endpoint" not in RECORDER.last
    assert RECORDER.last["path"] == "/legacy/raw/12/"
    assert Client().get("/nowhere/1/").status_code == 404
    assert "endpoint" not in RECORDER.last
    assert RECORDER.last["status"] == 404


def test_script_name_prefixes_the_template():
    Client().get("/users/3/", SCRIPT_NAME="/app", PATH_INFO="/api/o/users/3/")
    assert RECORDER.last["endpoint"] == "/app/api/{org}/users/{pk}/"


def test_bytes_consumer_address_and_agent():
    response = Client().post(
        "/api/o/users/1/", data=b"x" * 321, content_type="application/octet-stream",
        headers={"X-Customer": "acme", "X-Forwarded-For": "10.0.0.1, 198.51.100.2", "User-Agent": "agent/2"},
    )  # fmt: skip
    assert response.json()["size"] == 321
    call = RECORDER.last
    assert call["request_bytes"] == 321
    assert call["response_bytes"] == len(response.content)
    assert call["consumer"] == "acme"
    assert call["ip"] == "198.51.100.2"
    assert call["user_agent"] == "agent/2"
    assert call["method"] == "POST"


def test_a_stream_is_recorded_once_its_last_chunk_is_gone():
    response = Client().get("/stream/")
    assert b"".join(response.streaming_content) == b"s" * 700 + b"t" * 300
    response.close()
    assert [c["response_bytes"] for c in RECORDER.calls] == [1000]


def test_a_file_response_counts_its_length():
    response = Client().get("/download/")
    assert len(b"".join(response.streaming_content)) == 2048
    response.close()
    assert RECORDER.last["response_bytes"] == 2048


def test_an_exception_becomes_a_500():
    client = Client(raise_request_exception=False)
    assert client.get("/boom/").status_code == 500
    assert RECORDER.last["status"] == 500
    assert RECORDER.last["endpoint"] == "/boom/"


def test_async_views_and_streams_through_the_async_middleware():
    async def run() -> None:
        client = AsyncClient()
        response = await client.get("/async/8/", headers={"X-Customer": "async-co"})
        assert response.json() == {"pk": 8}
        streamed = await client.get("/async-stream/")
        assert b"".join([chunk async for chunk in streamed.streaming_content]) == b"u" * 40 + b"v" * 60

    asyncio.run(run())
    first, second = RECORDER.calls
    assert first["endpoint"] == "/async/{pk}/"
    assert first["consumer"] == "async-co"
    assert second["response_bytes"] == 100


def test_the_client_is_built_once_from_settings(monkeypatch: pytest.MonkeyPatch):
    from apimeter_client import django as integration

    assert integration.client() is RECORDER
    monkeypatch.setattr(integration, "_made", {})
    monkeypatch.setattr(settings, "APIMETER", {"api_key": "", "base_url": "http://127.0.0.1:9", "batch_size": 10})
    built = integration.client()
    assert built is integration.client()
    assert built._batch_size == 10
    built.close()


def test_no_settings_at_all_leave_the_app_running(monkeypatch: pytest.MonkeyPatch):
    from apimeter_client import django as integration

    monkeypatch.setattr(integration, "_made", {})
    monkeypatch.delattr(settings, "APIMETER")
    built = integration.client()  # no key, no URL: a development setup
    built.track(method="GET", endpoint="/x", status=200)
    assert built.stats.queued == 0
    built.close()
