from __future__ import annotations

from apimeter.domain.limits import Instant, Limits, Usage, exceeded, refused, tightest
from apimeter.domain.plans import DEFAULTS, limits

NOW = Instant.at(1_763_814_645.5)  # 2025-11-22T12:30:45.5Z
LIMITS = Limits(per_minute=10, per_hour=100, per_day=1000)


def test_instant_names_its_counter_and_resets() -> None:
    assert (NOW.day, NOW.hour, NOW.minute) == ("2025-11-22", "h12", 1_763_814_645 // 60)
    assert NOW.reset("minute") == 1_763_814_660
    assert NOW.reset("hour") == 1_763_816_400
    assert NOW.reset("day") == 1_763_856_000


def test_exceeded_names_the_first_window_over() -> None:
    assert exceeded(Usage(9, 9, 9), LIMITS, 1) is None
    assert exceeded(Usage(10, 10, 10), LIMITS, 1) == "minute"
    assert exceeded(Usage(0, 99, 99), LIMITS, 2) == "hour"
    assert exceeded(Usage(0, 0, 999), LIMITS, 5) == "day"


def test_headers_report_the_tightest_window_and_retry_after() -> None:
    headers = tightest([(Usage(3, 95, 100), LIMITS), (Usage(1, 1, 1), Limits(50, 500, 5000))], NOW)
    assert (headers.limit, headers.remaining, headers.reset) == (100, 5, NOW.reset("hour"))
    assert "Retry-After" not in headers.as_dict()
    refusal = refused(LIMITS, Usage(10, 10, 10), "minute", NOW)
    assert refusal.as_dict() == {
        "X-RateLimit-Limit": "10",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "1763814660",
        "Retry-After": "15",
    }


def test_plan_limits_with_overrides_in_order() -> None:
    resolved = limits("pro", {"key_per_minute": 7, "bogus": 1}, {"key_per_minute": 9})
    assert resolved["key_per_minute"] == 9
    assert resolved["key_per_hour"] == DEFAULTS["pro"]["key_per_hour"]
    assert "bogus" not in resolved
    assert limits("unknown-plan") == DEFAULTS["free"]
