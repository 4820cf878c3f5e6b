"""The fuzz run's closing count of requests, read from schemathesis' HAR report."""

from tools.fuzz import requests_line


def test_counts_every_entry_by_status_class() -> None:
    statuses = [200, 201, 400, 422, 404, 503]
    har = {"log": {"entries": [{"response": {"status": s}} for s in statuses]}}

    assert requests_line(har) == "requests: 6 (2xx 2, 4xx 3, 5xx 1)"


def test_an_empty_report_counts_none() -> None:
    assert requests_line({"log": {"entries": []}}) == "requests: 0 ()"
