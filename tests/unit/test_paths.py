from __future__ import annotations

import pytest

from apimeter.domain.paths import template


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/users/123", "/users/{id}"),
        ("/users/123/orders/456?expand=items", "/users/{id}/orders/{id}"),
        ("/v1/items/550e8400-e29b-41d4-a716-446655440000", "/v1/items/{uuid}"),
        ("/objects/5f1d7a9c8e4b2a0012345678", "/objects/{id}"),
        ("/files/d41d8cd98f00b204e9800998ecf8427e#top", "/files/{id}"),
        ("/customers/cus_J3kLm9PqRsTuVw", "/customers/{id}"),
        ("/p/01ARZ3NDEKTSV4RRFFQ69G5FAV", "/p/{id}"),
        ("/people/ada@example.com", "/people/{email}"),
        ("/presentations/logstash-monitorama-2013/images/kibana-search.png",
         "/presentations/logstash-monitorama-2013/images/kibana-search.png"),
        ("/blog/2013/05/hello-world", "/blog/{id}/{id}/hello-world"),
        ("/api/v2/health", "/api/v2/health"),
        ("/users/", "/users"),
        ("/", "/"),
        ("?x=1", "/"),
        ("users/7", "/users/{id}"),
        ("/deadbeef", "/deadbeef"),  # hex-looking words without a digit stay words
    ],
)  # fmt: skip
def test_templates(path: str, expected: str) -> None:
    assert template(path) == expected


def test_the_access_log_collapses_into_few_templates() -> None:
    import re
    from pathlib import Path

    log = Path(__file__).resolve().parents[3] / "shared" / "data" / "access-logs" / "apache_combined_2015.log"
    if not log.exists():
        pytest.skip("shared data not present")
    paths = [m.group(1) for line in log.read_text().splitlines() if (m := re.search(r'"\S+ (\S+) [^"]*"', line))]
    templates = {template(p) for p in paths}
    assert len(paths) == 10_000
    assert len(templates) < len(set(paths))
    assert all("?" not in t for t in templates)
