"""make demo's pure parts: reading the sources, placing calls in time, choosing what to send and
which hours to judge (offline/replay). The real data (../shared/data) is used where present."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from offline import demo
from offline.replay import timeline
from offline.replay.flow import DATA, Options, ReplayError, anchor, make_plan, read_sources
from offline.replay.progress import Progress, duration
from offline.replay.sending import Latency
from offline.replay.sources import (
    LLM_ENDPOINT,
    Call,
    Prices,
    consumer_of,
    event_id,
    llm_trace,
    log_time_ms,
    parse_log_line,
    route_template,
    trace_time_ms,
    web_latency_ms,
)
from offline.replay.timeline import HOUR_MS, Hour

COMBINED = (
    '83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /presentations/logstash-monitorama-2013/images/'
    'kibana-search.png?v=2 HTTP/1.1" 200 203023 "http://semicomplete.com/presentations/" "Mozilla/5.0 '
    '(Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36"\n'
)
END = 1_795_957_200_000  # 2026-11-29T13:00Z, an hour boundary


# access logs


def test_a_combined_log_line_becomes_a_call_of_the_tracking_contract() -> None:
    call = parse_log_line(COMBINED, "access.log", 7)
    assert call is not None
    assert call.source == "access-log"
    assert call.at_ms == log_time_ms("17/May/2015:10:05:03 +0000")
    fields = call.fields
    assert fields["event_id"] == event_id("access.log", 7)
    assert fields["method"] == "GET"
    assert fields["path"] == "/presentations/logstash-monitorama-2013/images/kibana-search.png"  # query dropped
    assert fields["endpoint"] == "/presentations/logstash-monitorama-2013/images/{file}.png"
    assert (fields["status"], fields["response_bytes"], fields["ip"]) == (200, 203023, "83.149.9.216")
    assert fields["consumer"] == "Chrome"
    assert fields["user_agent"].startswith("Mozilla/5.0 (Macintosh")
    assert fields["latency_ms"] == web_latency_ms(200, 203023, fields["event_id"])
    assert fields["properties"] == {"source": "access.log", "line": 7}
    assert "timestamp" not in fields  # the timeline gives it


def test_odd_lines_are_read_as_far_as_they_go_and_garbage_is_skipped() -> None:
    cut_short = '46.118.127.106 - - [20/May/2015:12:05:17 +0000] "GET /a HTTP/1.1" 200 - "-" "Mozilla/5.0 (compat'
    call = parse_log_line(cut_short, "x.log", 1)
    assert call is not None
    assert call.fields["response_bytes"] == 0  # "-": no body
    common = 'in24.inetnebr.com - - [01/Aug/1995:00:00:01 -0400] "GET /shuttle/countdown/ HTTP/1.0" 200 1839'
    call = parse_log_line(common, "nasa.log", 1)
    assert call is not None
    assert "ip" not in call.fields  # a host name, not an address
    assert "user_agent" not in call.fields
    assert call.fields["consumer"] == "unknown"
    assert call.at_ms == log_time_ms("01/Aug/1995:04:00:01 +0000")
    for garbage in ("", "not a log line", '1.2.3.4 - - [17/May/2015:10:05:03 +0000] "-" 400 0 "-" "-"'):
        assert parse_log_line(garbage, "x.log", 1) is None


@pytest.mark.parametrize(
    ("text", "iso"),
    [("17/May/2015:10:05:03 +0000", "2015-05-17T10:05:03"), ("17/May/2015:10:05:03 -0500", "2015-05-17T15:05:03")],
)
def test_log_times_honour_their_offset(text: str, iso: str) -> None:
    from datetime import UTC, datetime

    assert log_time_ms(text) == int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp() * 1000)
    with pytest.raises(ValueError, match="access-log time"):
        log_time_ms("17/Mai/2015:10:05:03 +0000")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/users/123?x=1", "/users/{id}"),
        ("/a/550e8400-e29b-41d4-a716-446655440000/b", "/a/{uuid}/b"),
        ("/files/blogposts/20080220", "/files/blogposts/{id}"),
        ("/images/web/2009/banner.png", "/images/web/{id}/{file}.png"),
        ("/blog/geekery/ssl-latency.html", "/blog/geekery/{file}.html"),
        ("/favicon.ico", "/favicon.ico"),  # a file at the root is a route of its own
        ("/projects/xdotool/", "/projects/xdotool"),
        ("/presentations/logstash-metrics-sf-2012.10", "/presentations/logstash-metrics-sf-2012.10"),  # not a file
        ("/", "/"),
        ("/presentations/vim/" + "+" * 80 + "Result:+%E8%F1", "/presentations/vim/{value}"),
    ],
)
def test_route_templates(path: str, expected: str) -> None:
    assert route_template(path) == expected


@pytest.mark.parametrize(
    ("agent", "consumer"),
    [
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot"),
        ("Mozilla/5.0 (compatible; Linux x86_64; Mail.RU_Bot/2.0; +http://go.mail.ru/help/robots)", "Mail.RU_Bot"),
        ("Mozilla/5.0 (compatible; Ezooms/1.0; help@moz.com)", "Ezooms"),
        ("Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; WOW64; Trident/5.0)", "MSIE"),
        ("Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko", "MSIE"),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:27.0) Gecko/20100101 Firefox/27.0", "Firefox"),
        ("Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/120.0 Safari/537.36 Edg/120.0", "Edge"),
        ("Mozilla/5.0 (Macintosh) AppleWebKit/537.73.11 (KHTML, like Gecko) Version/7.0.1 Safari/537.73.11", "Safari"),
        ("Mozilla/5.0 (X11; Linux x86_64) Spinn3r http://spinn3r.com/robot Firefox/3.0.19", "Firefox"),  # URL ignored
        ("UniversalFeedParser/4.2-pre-314-svn +http://feedparser.org/", "UniversalFeedParser"),
        ("Feedbin - 1 subscribers", "Feedbin"),
        ("LiveJournal.com (webmaster@livejournal.com; for http://www.livejournal.com/users/x/; 1 readers)",
         "LiveJournal.com"),
        ("curl/7.68.0", "curl"),
        ("Mozilla/4.0 (compatible;)", "Mozilla"),
        ("-", "unknown"),
        (None, "unknown"),
        ("&as_qdr=all", "other"),
    ],
)  # fmt: skip
def test_consumers_are_client_families(agent: str | None, consumer: str) -> None:
    assert consumer_of(agent) == consumer


def test_ids_and_latencies_are_fixed_by_file_and_line() -> None:
    assert event_id("a.log", 1) == event_id("a.log", 1)
    assert len({event_id("a.log", 1), event_id("a.log", 2), event_id("b.log", 1)}) == 3
    identifier = event_id("a.log", 1)
    assert web_latency_ms(200, 1000, identifier) == web_latency_ms(200, 1000, identifier)
    assert web_latency_ms(200, 2_000_000, identifier) > web_latency_ms(200, 1000, identifier)  # transfer time
    assert web_latency_ms(503, 0, identifier) > web_latency_ms(200, 0, identifier)
    assert web_latency_ms(304, 0, identifier) < web_latency_ms(200, 0, identifier)


# LLM traces


def test_an_llm_trace_row_is_a_priced_chat_completion(tmp_path: Path) -> None:
    trace = tmp_path / "AzureLLMInferenceTrace_code.csv"
    trace.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,4808,10\nbad,row\n"
                     "2023-11-16 18:17:04.0319600,3180,8\n")  # fmt: skip
    prices = Prices(context=0.5, generated=1.5)
    calls = list(llm_trace(trace, prices))
    assert [c.source for c in calls] == ["llm-code", "llm-code"]
    first = calls[0].fields
    assert first["event_id"] == event_id(trace.name, 2)
    assert (first["method"], first["endpoint"], first["status"], first["consumer"]) == ("POST", LLM_ENDPOINT, 200,
                                                                                        "llm-code")  # fmt: skip
    assert first["units"] == 4818
    assert first["cost"] == pytest.approx((4808 * 0.5 + 10 * 1.5) / 1e6)
    assert first["properties"] == {"source": trace.name, "line": 2, "context_tokens": 4808, "generated_tokens": 10}
    assert calls[1].fields["event_id"] == event_id(trace.name, 4)  # line numbers count the bad row
    assert calls[1].at_ms - calls[0].at_ms == 52
    assert trace_time_ms("2023-11-16 18:17:03.9799600") % 1000 == 979


# the timeline


def _call(source: str, at_ms: int, line: int, **fields: Any) -> Call:
    return Call(source, at_ms, {"event_id": event_id(source, line), "status": 200, "latency_ms": 10.0, **fields})


def test_an_exact_clock_ends_just_before_the_end_and_llm_traces_share_theirs() -> None:
    calls = [_call("llm-code", 1_000, 1), _call("llm-conv", 5_000, 2), _call("llm-code", 9_000, 3)]
    placed = timeline.place(calls, END)
    assert [e["timestamp"] for e in placed] == [END - 1 - 8_000, END - 1 - 4_000, END - 1]


def test_a_spread_clock_plays_each_of_its_hours_over_k_hours_in_order() -> None:
    base = 1_431_856_800_000  # 2015-05-17T10:00Z
    calls = [_call("access-log", base + 300_000 + i * 1000, i) for i in range(4)]  # minute :05 of hour 0
    calls += [_call("access-log", base + HOUR_MS + 300_000 + i * 1000, 10 + i) for i in range(2)]  # of hour 1
    placed = timeline.place(calls, END, {"access-log": 2.0})
    stamps = [e["timestamp"] for e in placed]
    assert stamps[:4] == [END - 4 * HOUR_MS + round((r + 0.5) * 2 * HOUR_MS / 4) for r in range(4)]
    assert stamps[4:] == [END - 2 * HOUR_MS + round((r + 0.5) * 2 * HOUR_MS / 2) for r in range(2)]
    assert all(s < END for s in stamps)


def test_a_sample_or_a_limit_sends_a_subset_of_the_same_events() -> None:
    calls = [_call("llm-code", i * 1000, i) for i in range(10)] + [_call("access-log", i * 1000, 100 + i)
                                                                   for i in range(10)]  # fmt: skip
    placed = timeline.place(calls, END)
    everything = timeline.select(calls, placed, {}, None)
    sampled = timeline.select(calls, placed, {"llm-code": 3}, 2)
    assert [e["timestamp"] for e in everything] == sorted(e["timestamp"] for e in everything)
    assert all(event in everything for event in sampled)
    assert sum(e["event_id"].startswith("replay-") for e in sampled) == 4  # two of each source
    llm = [e for e in sampled if calls[[c.fields["event_id"] for c in calls].index(e["event_id"])].source == "llm-code"]
    assert [e["event_id"] for e in llm] == [event_id("llm-code", 6), event_id("llm-code", 9)]


def test_rounds_are_whole_hours() -> None:
    events = [{"timestamp": h * HOUR_MS + m * 60_000} for h in range(5) for m in range(0, 60, 20)]  # 3 an hour
    rounds = timeline.rounds(events, 4)
    assert [len(r[2]) for r in rounds] == [6, 6, 3]
    assert [(r[0] // HOUR_MS, r[1] // HOUR_MS) for r in rounds] == [(0, 2), (2, 4), (4, 5)]
    assert timeline.rounds([], 4) == []


def test_a_synthetic_incident_is_labelled_and_the_same_every_time() -> None:
    burst = timeline.incident("/checkout", END - 2 * HOUR_MS, 20, 6)
    assert burst == timeline.incident("/checkout", END - 2 * HOUR_MS, 20, 6)
    assert len(burst) == 120
    assert {e["status"] for e in burst} == {503}
    assert {e["consumer"] for e in burst} == {"synthetic-incident"}
    assert all(e["properties"]["synthetic"] for e in burst)
    assert END - 2 * HOUR_MS <= min(e["timestamp"] for e in burst) < max(e["timestamp"] for e in burst) < END - HOUR_MS
    assert len({e["event_id"] for e in burst}) == 120


def _flat(hours: int, start: int = 0) -> dict[int, Hour]:
    return {start + h * HOUR_MS: Hour(60, 1 + h % 2, tuple(float(10 + i % 7) for i in range(60))) for h in range(hours)}


def test_the_screen_flags_what_the_detector_can_see_and_nothing_before_it_has_history() -> None:
    figures = _flat(120)
    assert timeline.screen(figures, 120 * HOUR_MS) == []  # steady traffic: nothing
    figures[110 * HOUR_MS] = Hour(60, 30, figures[0].latencies)  # half the calls fail in one hour
    flags = timeline.screen(figures, 120 * HOUR_MS)
    assert [(f.hour_ms // HOUR_MS, f.metric, f.direction) for f in flags] == [(110, "error_rate", "up")]
    assert timeline.judge(figures, [110 * HOUR_MS]) == flags  # judged alone, it learns the hours before it
    early = _flat(60)
    early[50 * HOUR_MS] = Hour(60, 30, early[0].latencies)
    assert timeline.screen(early, 60 * HOUR_MS) == []  # 50 hours of history: too few for the detector


def test_an_hour_reads_as_the_pipeline_reads_it() -> None:
    assert Hour(10, 5, (1.0,)).value("requests") == 10.0
    assert Hour(10, 5, (1.0,)).value("error_rate") is None  # under 20 requests
    hour = Hour(20, 5, tuple(float(v) for v in range(1, 21)))
    assert hour.value("error_rate") == 0.25
    assert hour.value("latency_p95") == 19.0


# the plan


@pytest.fixture(scope="module")
def calls() -> list[Call]:
    if not (DATA / "access-logs").exists():
        pytest.skip("shared data not present")
    return read_sources(DATA, Prices())


def test_the_real_data_is_a_week_with_anomalies_the_pipeline_can_find(calls: list[Call]) -> None:
    plan = make_plan(calls, END, Options(url="x"))
    assert plan.counts == {"access-log": 10_000, "llm-code": 441, "llm-conv": 969}
    assert plan.end_ms - plan.first_ms > 6.9 * 24 * HOUR_MS
    assert max(e["timestamp"] for e in plan.events) < END
    assert len({e["event_id"] for e in plan.events}) == len(plan.events)
    assert plan.incident is None  # the real data holds anomalies: nothing synthetic
    metrics = {f.metric for f in plan.expected}
    assert "error_rate" in metrics  # the log's own error bursts
    assert {"requests", "latency_p95"} <= metrics  # the hour the LLM calls arrive
    assert plan.judged == sorted({f.hour_ms for f in plan.expected})


def test_a_limited_replay_sends_the_same_events_as_the_full_one(calls: list[Call]) -> None:
    full = {e["event_id"]: e for e in make_plan(calls, END, Options(url="x")).events}
    short = make_plan(calls, END, Options(url="x", limit=200))
    assert short.counts == {"access-log": 200, "llm-code": 200, "llm-conv": 200}
    assert all(full[e["event_id"]] == e for e in short.events)
    assert short.judged == []  # four hours: too little history to judge


def test_without_anomalies_a_labelled_incident_is_added_where_the_detector_sees_it() -> None:
    start = END - 120 * HOUR_MS
    calls = [Call("access-log", start + i * 60_000, {"event_id": event_id("flat", i), "method": "GET",
                                                     "endpoint": "/a", "status": 200, "latency_ms": 10.0 + i % 5})
             for i in range(120 * 60)]  # fmt: skip
    plan = make_plan(calls, END, Options(url="x"))
    assert plan.incident is not None
    assert "503 on /a" in plan.incident
    assert plan.counts["synthetic-incident"] == 120
    assert "error_rate" in {f.metric for f in plan.expected}  # and the burst's requests and latency
    assert plan.judged == [END - 2 * HOUR_MS] == sorted({f.hour_ms for f in plan.expected})


def test_the_timeline_is_kept_so_a_rerun_sends_the_same_events(tmp_path: Path) -> None:
    options = Options(url="x")
    first = anchor(tmp_path, "prj_1", options, END + 25 * 60_000)
    assert first == END  # the start of the current hour
    assert anchor(tmp_path, "prj_1", options, END + 5 * HOUR_MS) == END
    with pytest.raises(ReplayError, match="conflict"):
        anchor(tmp_path, "prj_1", Options(url="x", stretch=3.0), END + 5 * HOUR_MS)
    assert anchor(tmp_path, "prj_2", options, END + 5 * HOUR_MS) == END + 5 * HOUR_MS  # another project
    assert json.loads((tmp_path / "replay.json").read_text())["project_id"] == "prj_2"


# the printout


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_redraws_on_a_terminal_and_prints_lines_otherwise() -> None:
    now = [0.0]
    log = io.StringIO()
    bar = Progress(1000, "events", log, line_every=5.0, clock=lambda: now[0])
    for second in range(11):
        now[0] = float(second)
        bar.update(second * 50)
    bar.finish(1000)
    lines = log.getvalue().splitlines()
    assert len(lines) == 4  # at 0, 5 and 10 s, then the end
    assert "500/1,000 events  50/s  ETA 10s" in lines[2]
    assert "1,000/1,000" in lines[-1]
    terminal = Terminal()
    bar = Progress(10, "events", terminal, clock=lambda: now[0])
    bar.update(5, "note")
    bar.finish(10)
    assert terminal.getvalue().startswith("\r[")
    assert terminal.getvalue().endswith("\n")
    assert "\n" not in terminal.getvalue()[:-1]


def test_durations_and_latencies_read_well() -> None:
    assert [duration(s) for s in (0, 59.4, 61, 3725)] == ["0s", "59s", "1m01s", "1h02m"]
    latency = Latency.of([0.2, 0.1, 0.4, 0.3])
    assert (latency.count, latency.median, latency.p95, latency.max) == (4, 0.25, 0.4, 0.4)
    assert str(Latency.of([])) == "not measured"


def test_make_dev_says_how_to_fill_an_empty_demo_project() -> None:
    assert "`make demo`" in demo.fill_hint("http://127.0.0.1:3000")
    assert "`make demo PORT=3100`" in demo.fill_hint("http://127.0.0.1:3100")
    assert demo.is_empty("http://127.0.0.1:9", {"project_id": "p", "api_key": "k"}) is False  # nobody answers
