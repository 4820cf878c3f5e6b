"""Live pushes, the pure part: which push slot a stream batch claims, and what a frame holds."""

from __future__ import annotations

import orjson

from apimeter.domain.live import PUSH_SPACING_MS, encode, error_message, slot_to_claim

NOW = 1_796_033_730_000


def test_with_no_slot_yet_the_batch_pushes_now() -> None:
    assert slot_to_claim(None, NOW) == NOW


def test_a_slot_a_spacing_or_more_ago_has_read_nothing_of_the_batch_so_it_pushes_now() -> None:
    assert slot_to_claim(NOW - PUSH_SPACING_MS, NOW) == NOW
    assert slot_to_claim(NOW - 60_000, NOW) == NOW


def test_a_slot_within_the_last_spacing_may_have_read_before_the_batch_so_it_claims_the_next() -> None:
    assert slot_to_claim(NOW, NOW) == NOW + PUSH_SPACING_MS
    assert slot_to_claim(NOW - 1, NOW) == NOW - 1 + PUSH_SPACING_MS
    assert slot_to_claim(NOW - PUSH_SPACING_MS + 1, NOW) == NOW + 1


def test_a_slot_still_to_come_reads_the_batch_so_none_is_claimed() -> None:
    assert slot_to_claim(NOW + 1, NOW) is None
    assert slot_to_claim(NOW + PUSH_SPACING_MS, NOW) is None


def test_the_spacing_is_a_parameter() -> None:
    assert slot_to_claim(NOW - 100, NOW, spacing_ms=250) == NOW + 150
    assert slot_to_claim(NOW - 250, NOW, spacing_ms=250) == NOW


def test_a_message_that_fits_a_frame_is_sent_whole() -> None:
    message = error_message("NOT_FOUND", "project not found", "prj_1")
    assert orjson.loads(encode(message)) == message
