from __future__ import annotations

import hashlib
import hmac

import pytest

from apimeter.domain.webhooks import SIGNATURE_HEADER, encode, headers, new_secret, refusal, sign, verify

SECRET = "whsec-example-0123456789"
BODY = b'{"id":"bud_1#2026-11#actual#80"}'
NOW = 1_763_814_645


def test_known_answer_matches_an_independent_hmac() -> None:
    expected = hmac.new(SECRET.encode(), b"1763814645." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY, NOW) == f"t=1763814645,v1={expected}"
    assert expected == "f1dcea3cc3f6174cd814a77d6d7b01d9016b5ba1d677ca8f3844405072b67f44"  # the documented example
    assert sign(SECRET.encode(), BODY, NOW) == sign(SECRET, BODY, NOW)


def test_signed_body_verifies_within_tolerance() -> None:
    header = sign(SECRET, BODY, NOW)
    assert verify(SECRET, BODY, header, now=NOW)
    assert verify(SECRET, BODY, header, now=NOW + 300)
    assert verify(SECRET, BODY, header, now=NOW - 300)
    assert verify(SECRET, BODY, header, now=NOW + 30, tolerance_s=60)


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        (SECRET, BODY + b" ", NOW),  # tampered body
        (SECRET, b'{"id":"bud_1#2026-11#actual#81"}', NOW),
        ("whsec-another-secret-0000", BODY, NOW),  # wrong secret
        (SECRET, BODY, NOW + 301),  # stale
        (SECRET, BODY, NOW - 301),  # from the future
    ],
)
def test_verification_fails(secret: str, body: bytes, now: int) -> None:
    assert not verify(secret, body, sign(SECRET, BODY, NOW), now=now)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        "t=1763814645",
        "v1=" + "0" * 64,
        "t=abc,v1=" + "0" * 64,
        "t=-1763814645,v1=" + "0" * 64,
        "t= 1763814645,v1=" + "0" * 64,
        "t=1_763_814_645,v1=" + "0" * 64,
        "t=１７６３８１４６４５,v1=" + "0" * 64,  # full-width digits int() would accept
        "t=1763814645,t=1763814645,v1=" + "0" * 64,
        "t=1763814645,v1=zz",
        "t=1763814645,v1=ü" + "0" * 63,
        "t=1763814645;v1=" + "0" * 64,
        "t=1763814645," + "x" * 5000,
    ],
)
def test_malformed_headers_fail(header: str) -> None:
    assert not verify(SECRET, BODY, header, now=NOW)


def test_malformed_header_carrying_the_right_digest_still_fails() -> None:
    digest = sign(SECRET, BODY, NOW).split("v1=")[1]
    assert not verify(SECRET, BODY, f"t={NOW},v1={digest.upper()}", now=NOW)
    assert not verify(SECRET, BODY, f"t={NOW} v1={digest}", now=NOW)


def test_any_of_several_signatures_may_match_during_rotation() -> None:
    old, new = new_secret(), new_secret()
    header = sign(old, BODY, NOW) + "," + sign(new, BODY, NOW).split(",")[1] + ",v2=future-scheme"
    assert verify(old, BODY, header, now=NOW)
    assert verify(new, BODY, header, now=NOW)
    assert not verify(SECRET, BODY, header, now=NOW)


def test_new_secrets_are_long_and_distinct() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(len(secret) >= 43 for secret in secrets)


def test_encoding_is_stable_and_headers_carry_the_signature() -> None:
    body = encode({"b": 1, "a": "é"})
    assert body == '{"a":"é","b":1}'.encode()
    assert encode({"a": "é", "b": 1}) == body
    sent = headers(SECRET, body, NOW)
    assert sent["Content-Type"] == "application/json"
    assert verify(SECRET, body, sent[SIGNATURE_HEADER], now=NOW)
    with pytest.raises(ValueError, match="Unix seconds"):
        sign(SECRET, body, -1)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("127.0.0.1", "a loopback address"),
        ("169.254.169.254", "a link-local address"),  # the instance metadata service
        ("224.0.0.1", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("0.0.0.0", "an unspecified address"),
        ("100.64.0.1", "a non-public address"),  # shared address space (carrier NAT)
        ("::1", "a loopback address"),
        ("::", "an unspecified address"),
        ("fe80::1", "a link-local address"),
        ("fe80::1%eth0", "a link-local address"),
        ("ff02::1", "a multicast address"),
        ("fd00::1", "a private address"),
        ("::ffff:127.0.0.1", "an IPv6 address wrapping 127.0.0.1, a loopback address"),
        ("::ffff:169.254.169.254", "an IPv6 address wrapping 169.254.169.254, a link-local address"),
        ("64:ff9b::a00:1", "an IPv6 address wrapping 10.0.0.1, a private address"),  # NAT64
        ("2002:a00:1::", "an IPv6 address wrapping 10.0.0.1, a private address"),  # 6to4
        ("not-an-address", "not an IP address"),
    ],
)
def test_deliveries_refuse_internal_addresses(address: str, reason: str) -> None:
    assert refusal(address) == reason


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"])
def test_deliveries_reach_public_addresses(address: str) -> None:
    assert refusal(address) is None
