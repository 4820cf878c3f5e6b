"""Hostile and malformed input on the API's entry points, one row each: every answer is the error
envelope with the right status and code (or, where the input is harmless, a plain answer that echoes
none of it into a header), and the stack still serves what is valid afterwards.

Entry points: ingest with an API key, the public auth routes, JSON routes with a bearer token, and
the authorizers (every row passes the HTTP authorizer; the live authorizer is called on its own).
The WebSocket gateway's rows are in tests/e2e/test_live_hostile.py, the offline gateway's HTTP-level
ones in test_offline_gateway_refusals.py.

Duplicate keys in a JSON object are refused (400), never resolved: orjson keeps the last, other
parsers the first, and a body two readers see differently is not one to store."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from apimeter.dal import dynamo
from apimeter.dal import events as events_table
from apimeter.domain.tokens import key_id
from offline.template import Stack
from tests.conftest import moto_stack
from tests.integration.conftest import Api

KB = 1024
DEEP = b"[" * 10_000 + b"]" * 10_000
DEEP_OBJECT = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
NOT_UTF8 = b'\xff\xfe{"method": "GET"}'
EVENT = {"method": "GET", "endpoint": "/orders/{id}", "status": 200}
BUDGET = {"name": "b", "amount": 10, "period": "monthly", "thresholds": [{"percent": 80}]}
OVER_LIMIT = b'{"name": "' + b"a" * 1100 * KB + b'"}'
HUGE_QUERY = "a" * 100 * KB
CRLF_HEADER = "\r\nSet-Cookie: stolen=1"


@dataclass(frozen=True)
class Caller:
    token: str
    key: str
    project: str
    signing_key: str

    @property
    def claims(self) -> dict[str, Any]:
        claims: dict[str, Any] = jwt.decode(self.token, options={"verify_signature": False})
        return claims


Credential = Callable[[Caller], dict[str, str]]


def token(caller: Caller) -> dict[str, str]:
    return {"authorization": f"Bearer {caller.token}"}


def key(caller: Caller) -> dict[str, str]:
    return {"x-api-key": caller.key}


def anonymous(caller: Caller) -> dict[str, str]:
    return {}


def bearer(forge: Callable[[Caller], str]) -> Credential:
    return lambda caller: {"authorization": f"Bearer {forge(caller)}"}


def api_key(forge: Callable[[Caller], str]) -> Credential:
    return lambda caller: {"x-api-key": forge(caller)}


def with_token(**headers: str) -> Credential:
    return lambda caller: {**token(caller), **headers}


# Forged access tokens.


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    header = {name: value for name, value in header.items() if value is not None}  # kid=None: no kid
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def _hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    unsigned = _unsigned(header, claims)
    return f"{unsigned}.{_b64(hmac.new(secret, unsigned.encode(), hashlib.sha256).digest())}"


def _kid(caller: Caller) -> str:
    return key_id(caller.signing_key)


def _alg_none(alg: str) -> Callable[[Caller], str]:
    return lambda c: _unsigned({"alg": alg, "typ": "JWT", "kid": _kid(c)}, c.claims) + "."


def _none_keeping_signature(caller: Caller) -> str:
    signature = caller.token.rsplit(".", 1)[1]
    return _unsigned({"alg": "none", "kid": _kid(caller)}, caller.claims) + "." + signature


def _hs_with(secret: Callable[[Caller], bytes], **header: Any) -> Callable[[Caller], str]:
    return lambda c: _hs256({"alg": "HS256", "typ": "JWT", "kid": _kid(c), **header}, c.claims, secret(c))


_ATTACKER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_ATTACKER_PUBLIC = _ATTACKER.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)


def _rs256(caller: Caller) -> str:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(_ATTACKER.public_key()))
    return jwt.encode(caller.claims, _ATTACKER, algorithm="RS256", headers={"kid": _kid(caller), "jwk": jwk})


def _signed(change: Callable[[dict[str, Any]], dict[str, Any]], **header: Any) -> Callable[[Caller], str]:
    """Signed with apimeter's own key, so only the change can be what is refused."""
    return lambda c: _hs256({"alg": "HS256", "typ": "JWT", "kid": _kid(c), **header}, change(c.claims),
                            c.signing_key.encode())  # fmt: skip


def _hs512(caller: Caller) -> str:
    return jwt.encode(caller.claims, caller.signing_key, algorithm="HS512", headers={"kid": _kid(caller)})


def _tampered(caller: Caller) -> str:
    header, _, signature = caller.token.split(".")
    claims = {**caller.claims, "exp": caller.claims["exp"] + 10**6}
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


def _without(name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda claims: {k: v for k, v in claims.items() if k != name}


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str  # {project} is the project's id
    body: bytes
    status: int
    code: str | None  # None: an ordinary answer (the hostile part is harmless there)
    content_type: str | None = "application/json"
    credential: Credential = token


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


PROJECT = "/v1/projects/{project}"
SERIES = PROJECT + "/metrics/timeseries"
LISTING = PROJECT + "/events"
DENIED = ("GET", PROJECT, b"", 401, "AUTHENTICATION_FAILED")
BAD = (400, "VALIDATION_ERROR")
INVALID = (422, "VALIDATION_ERROR")
OK = (200, None)
JUDGED = (202, None)  # a lone event is judged like an item of a batch: the answer lists its rejection

CASES = [
    # media types
    Case("a JSON route sent text/plain", "POST", "/v1/projects", b'{"name": "x"}', 415, "UNSUPPORTED_MEDIA_TYPE",
         "text/plain"),
    Case("a JSON route sent a form", "POST", "/v1/projects", b"name=x", 415, "UNSUPPORTED_MEDIA_TYPE",
         "application/x-www-form-urlencoded"),
    Case("a PATCH sent text/plain", "PATCH", PROJECT, b'{"name": "x"}', 415,
         "UNSUPPORTED_MEDIA_TYPE", "text/plain; charset=utf-8"),
    # bodies past the limit
    Case("events over the body limit", "POST", "/v1/events", OVER_LIMIT, 413, "PAYLOAD_TOO_LARGE", credential=key),
    Case("a project over the body limit", "POST", "/v1/projects", OVER_LIMIT, 413, "PAYLOAD_TOO_LARGE"),
    Case("a login over the body limit", "POST", "/v1/auth/login", OVER_LIMIT, 413, "PAYLOAD_TOO_LARGE",
         credential=anonymous),
    # nesting
    Case("10,000-deep JSON", "POST", "/v1/projects", DEEP, *BAD),
    Case("10,000-deep events", "POST", "/v1/events", DEEP_OBJECT, *BAD, credential=key),
    Case("a 10,000-deep login", "POST", "/v1/auth/login", DEEP, *BAD, credential=anonymous),
    Case("a 10,000-deep refresh", "POST", "/v1/auth/refresh", DEEP_OBJECT, *BAD, credential=anonymous),
    # not UTF-8
    Case("events that are not UTF-8", "POST", "/v1/events", NOT_UTF8, *BAD, "application/octet-stream", key),
    Case("events that are not UTF-8, untyped", "POST", "/v1/events", NOT_UTF8, *BAD, None, key),
    Case("events that are not UTF-8, typed JSON", "POST", "/v1/events", b'{"method": "GET", "path": "/", '
         b'"status": 200, "consumer": "caf\xe9"}', *BAD, credential=key),
    Case("a project name that is not UTF-8", "POST", "/v1/projects", b'{"name": "\xff\xfe"}', *BAD),
    Case("a login that is not UTF-8", "POST", "/v1/auth/login", b'{"email": "\xc3(@b.co", "password": "x"}', *BAD,
         credential=anonymous),
    Case("a lone surrogate", "POST", "/v1/projects", b'{"name": "\\ud800"}', *BAD),
    Case("a lone surrogate in an event", "POST", "/v1/events", b'{"method": "GET", "path": "/\\udfff", '
         b'"status": 200}', *BAD, credential=key),
    # NaN and Infinity
    Case("NaN in JSON", "POST", "/v1/projects", b'{"name": NaN}', *BAD),
    Case("NaN in an event", "POST", "/v1/events", b'{"method": "GET", "path": "/", "status": 200, '
         b'"latency_ms": NaN}', *BAD, credential=key),
    Case("Infinity in an event", "POST", "/v1/events", b'{"method": "GET", "path": "/", "status": 200, '
         b'"cost": Infinity}', *BAD, credential=key),
    Case("-Infinity in a batch", "POST", "/v1/events", b'{"events": [{"method": "GET", "path": "/", '
         b'"status": 200, "units": -Infinity}]}', *BAD, credential=key),
    Case("a number past float range", "POST", "/v1/events", b'{"method": "GET", "path": "/", "status": 200, '
         b'"latency_ms": 1e999}', *BAD, credential=key),
    Case("NaN in a price", "PATCH", PROJECT, b'{"pricing": {"per_request": NaN}}', *BAD),
    Case("Infinity as a password", "POST", "/v1/auth/login", b'{"email": "a@b.co", "password": Infinity}', *BAD,
         credential=anonymous),
    # duplicate keys: refused
    Case("a project name given twice", "POST", "/v1/projects", b'{"name": "a", "name": "b"}', *BAD),
    Case("an event's status given twice", "POST", "/v1/events", b'{"method": "GET", "path": "/", "status": 200, '
         b'"status": 500}', *BAD, credential=key),
    Case("a batch's events given twice", "POST", "/v1/events", b'{"events": [], "events": [{"method": "GET", '
         b'"path": "/", "status": 200}]}', *BAD, credential=key),
    Case("a nested key given twice", "PATCH", PROJECT, b'{"pricing": {"per_request": 0, "per_request": 1}}', *BAD),
    Case("a password given twice", "POST", "/v1/auth/login", b'{"email": "owner@example.com", "password": "x", '
         b'"password": "s3cret-pass!"}', *BAD, credential=anonymous),
    Case("a key given twice, once escaped", "POST", "/v1/projects", b'{"name": "a", "n\\u0061me": "b"}', *BAD),
    # batches
    Case("1,001 events in one batch", "POST", "/v1/events", _json({"events": [EVENT] * 1001}), *BAD,
         credential=key),
    Case("an empty batch", "POST", "/v1/events", _json({"events": []}), *BAD, credential=key),
    Case("a batch that is not a list", "POST", "/v1/events", _json({"events": {"0": EVENT}}), *BAD, credential=key),
    Case("a batch beside other fields", "POST", "/v1/events", _json({"events": [EVENT], "x": 1}), *BAD,
         credential=key),
    Case("a body that is a list", "POST", "/v1/events", _json([EVENT]), *BAD, credential=key),
    # a lone event out of range
    Case("an event in year 1", "POST", "/v1/events", _json({**EVENT, "timestamp": "0001-01-01T00:00:00Z"}), *JUDGED,
         credential=key),
    Case("an event in year 1 east of UTC", "POST", "/v1/events",
         _json({**EVENT, "timestamp": "0001-01-01T00:00:00+14:00"}), *JUDGED, credential=key),
    Case("an event in year 9999", "POST", "/v1/events", _json({**EVENT, "timestamp": "9999-12-31T23:59:59Z"}), *JUDGED,
         credential=key),
    Case("an event past year 9999 west of UTC", "POST", "/v1/events",
         _json({**EVENT, "timestamp": "9999-12-31T23:59:59-12:00"}), *JUDGED, credential=key),
    Case("an event at 10^30 ms", "POST", "/v1/events", _json({**EVENT, "timestamp": 10**30}), *JUDGED, credential=key),
    Case("an event at -10^30 ms", "POST", "/v1/events", _json({**EVENT, "timestamp": -(10**30)}), *JUDGED,
         credential=key),
    # query ranges
    Case("a series from before 1970", "GET", SERIES + "?from=-5", b"", *BAD),
    Case("a series from year 1", "GET", SERIES + "?from=0001-01-01T00:00:00Z", b"", *OK),
    Case("a series from year 1 to 9999", "GET", SERIES + "?from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59Z", b"",
         *OK),
    Case("a series from year 9999", "GET", SERIES + "?from=9999-12-31T23:59:59Z", b"", *OK),
    Case("a series up to year 9999", "GET", SERIES + "?to=9999-12-31T23:59:59Z", b"", *OK),
    Case("a summary from year 9999", "GET", PROJECT + "/metrics/summary?from=9999-12-31T00:00:00Z"
         "&to=9999-12-31T23:59:59Z", b"", *OK),
    Case("a summary from year 1", "GET", PROJECT + "/metrics/summary?from=-62135596800000&to=0", b"", *BAD),
    Case("events up to past year 9999", "GET", LISTING + "?to=99999999999999999999", b"", *OK),
    Case("events up to year 9999", "GET", LISTING + "?to=253402300799999", b"", *OK),
    Case("a NaN range", "GET", SERIES + "?from=NaN", b"", *BAD),
    Case("an Infinity range", "GET", LISTING + "?from=Infinity", b"", *BAD),
    Case("an export from year 1", "POST", PROJECT + "/exports", _json({"from": "0001-01-01T00:00:00Z",
         "to": "2026-01-01T00:00:00Z"}), 202, None),
    Case("an export to year 9999", "POST", PROJECT + "/exports", _json({"from": "2026-01-01T00:00:00Z",
         "to": "9999-12-31T23:59:59Z"}), 202, None),
    Case("a recompute from year 1 to 9999", "POST", PROJECT + "/rollups/recompute",
         _json({"from": "0001-01-01T00:00:00Z", "to": "9999-12-31T23:59:59Z"}), 202, None),
    # 100 KB query strings
    Case("a 100 KB unknown parameter", "GET", SERIES + "?x=" + HUGE_QUERY, b"", *OK),
    Case("a 100 KB range", "GET", SERIES + "?from=" + "9" * 100 * KB, b"", *INVALID),
    Case("a 100 KB endpoint filter", "GET", LISTING + "?endpoint=" + HUGE_QUERY, b"", *INVALID),
    Case("a 100 KB consumer filter", "GET", LISTING + "?consumer=" + HUGE_QUERY, b"", *INVALID),
    Case("a 100 KB cursor", "GET", LISTING + "?cursor=" + HUGE_QUERY, b"", *INVALID),
    Case("a 100 KB consumer in the path", "GET", PROJECT + "/consumers/" + HUGE_QUERY + "/usage", b"", *OK),
    # path traversal and NUL in path parameters
    Case("../ as a project id", "GET", "/v1/projects/..%2f..%2f", b"", 404, "NOT_FOUND"),
    Case("%2e%2e as a project id", "GET", "/v1/projects/%2e%2e", b"", 404, "NOT_FOUND"),
    Case("a raw ../ in the path", "GET", "/v1/projects/../projects/{project}", b"", 404, "NOT_FOUND"),
    Case("NUL after a project id", "GET", PROJECT + "%00", b"", 404, "NOT_FOUND"),
    Case("NUL as a project id", "DELETE", "/v1/projects/%00", b"", 404, "NOT_FOUND"),
    Case("../ as a key id", "POST", PROJECT + "/keys/..%2f..%2f/rotate", b"{}", 404, "NOT_FOUND"),
    Case("NUL as a key id", "DELETE", PROJECT + "/keys/%00", b"", 404, "NOT_FOUND"),
    Case("../ as an export id", "GET", PROJECT + "/exports/%2e%2e%2f%2e%2e%2fx", b"", 404, "NOT_FOUND"),
    Case("CRLF in an export id", "GET", PROJECT + "/exports/x%0d%0aSet-Cookie:%20a=1", b"", 404, "NOT_FOUND"),
    Case("NUL as a user id", "GET", "/v1/users/%00", b"", 404, "NOT_FOUND"),
    Case("../ as a consumer", "GET", PROJECT + "/consumers/..%2f..%2fx/usage", b"", *OK),
    Case("NUL as a consumer", "GET", PROJECT + "/consumers/%00/usage", b"", *OK),
    # and in query values
    Case("NUL as a range", "GET", LISTING + "?from=%00", b"", *BAD),
    Case("../ as a range", "GET", SERIES + "?from=..%2f..%2f", b"", *BAD),
    Case("NUL as an endpoint filter", "GET", SERIES + "?endpoint=%00", b"", *OK),
    Case("../ as a consumer filter", "GET", LISTING + "?consumer=%2e%2e%2f", b"", *OK),
    Case("NUL as a granularity", "GET", SERIES + "?granularity=%00", b"", *INVALID),
    Case("NUL as a limit", "GET", LISTING + "?limit=%00", b"", *INVALID),
    Case("a cursor that is not ours", "GET", LISTING + "?cursor=%00", b"", *INVALID),
    Case("a cursor of nested JSON", "GET", LISTING + "?cursor=" + _b64(b"[" * 380 + b"]" * 380), b"", *INVALID),
    Case("a time zone path", "PATCH", PROJECT, _json({"timezone": "../../../etc/passwd"}), *BAD),
    Case("a time zone with NUL", "PATCH", PROJECT, _json({"timezone": "UTC\u0000"}), *BAD),
    Case("an absolute time zone file", "PATCH", PROJECT, _json({"timezone": "/etc/localtime"}), *BAD),
    # header injection: values no answer echoes
    Case("CRLF in Origin", "GET", PROJECT, b"", *OK, credential=with_token(origin="https://a.example" + CRLF_HEADER)),
    Case("CRLF in a request id", "GET", PROJECT, b"", *OK, credential=with_token(**{"x-request-id": CRLF_HEADER})),
    Case("CRLF in a trace id", "GET", PROJECT, b"", *OK, credential=with_token(**{"x-amzn-trace-id": CRLF_HEADER})),
    Case("a 100 KB Origin", "GET", PROJECT, b"", *OK, credential=with_token(origin="https://" + HUGE_QUERY)),
    Case("CRLF in an API key", "POST", "/v1/events", _json(EVENT), 401, "AUTHENTICATION_FAILED",
         credential=lambda c: {"x-api-key": c.key + CRLF_HEADER}),
    Case("CRLF in a bearer token", *DENIED, credential=lambda c: {"authorization": f"Bearer {c.token}{CRLF_HEADER}"}),
    # oversized and malformed API keys
    Case("a 100 KB API key", "POST", "/v1/events", _json(EVENT), 401, "AUTHENTICATION_FAILED",
         credential=api_key(lambda c: "am_" + HUGE_QUERY)),
    Case("an API key with NUL", "POST", "/v1/events", _json(EVENT), 401, "AUTHENTICATION_FAILED",
         credential=api_key(lambda c: c.key[:-1] + "\u0000")),
    Case("an API key of ours, unknown", "POST", "/v1/events", _json(EVENT), 401, "AUTHENTICATION_FAILED",
         credential=api_key(lambda c: c.key[:12] + "A" * 43)),
    Case("an API key sent as a bearer token", "POST", "/v1/events", _json(EVENT), 401, "AUTHENTICATION_FAILED",
         credential=bearer(lambda c: c.key)),
    Case("an API key on a token route", "GET", "/v1/auth/me", b"", 403, "FORBIDDEN", credential=key),
    # forged, broken and misused bearer tokens
    Case("a 100 KB bearer token", *DENIED, credential=bearer(lambda c: HUGE_QUERY)),
    Case("a 100 KB three-part token", *DENIED, credential=bearer(lambda c: ".".join(["a" * 34 * KB] * 3))),
    Case("a token with NUL", *DENIED, credential=bearer(lambda c: c.token + "\u0000")),
    Case("a token of two parts", *DENIED, credential=bearer(lambda c: c.token.rsplit(".", 1)[0])),
    Case("a token whose header is a list", *DENIED, credential=bearer(lambda c: _b64(b"[1]") + ".e30.x")),
    Case("Basic credentials", *DENIED, credential=lambda c: {"authorization": "Basic YTpi"}),
    Case("Bearer and nothing", *DENIED, credential=lambda c: {"authorization": "Bearer "}),
    Case("alg none", *DENIED, credential=bearer(_alg_none("none"))),
    Case("alg None", *DENIED, credential=bearer(_alg_none("None"))),
    Case("alg nOnE", *DENIED, credential=bearer(_alg_none("nOnE"))),
    Case("alg none keeping the signature", *DENIED, credential=bearer(_none_keeping_signature)),
    Case("HS256 signed with a known string", *DENIED, credential=bearer(_hs_with(lambda c: b"secret"))),
    Case("HS256 signed with the kid", *DENIED, credential=bearer(_hs_with(lambda c: _kid(c).encode()))),
    Case("HS256 signed with an empty key", *DENIED, credential=bearer(_hs_with(lambda c: b""))),
    Case("HS256 signed with a public key", *DENIED, credential=bearer(_hs_with(lambda c: _ATTACKER_PUBLIC))),
    Case("RS256 with its own jwk", *DENIED, credential=bearer(_rs256)),
    Case("HS512 signed with our key", *DENIED, credential=bearer(_hs512)),
    Case("a jku header", *DENIED, credential=bearer(_hs_with(lambda c: b"k", jku="https://evil.example/jwks"))),
    Case("a kid path", *DENIED, credential=bearer(_hs_with(lambda c: b"", kid="../../../../dev/null"))),
    Case("a kid of SQL", *DENIED, credential=bearer(_hs_with(lambda c: b"x", kid="' OR '1'='1"))),
    Case("a kid that is a list", *DENIED, credential=bearer(lambda c: _unsigned({"alg": "HS256", "kid": [_kid(c)]},
                                                                                  c.claims) + ".x")),
    Case("no kid, signed with our key", *DENIED, credential=bearer(_signed(dict, kid=None))),
    Case("another kid, signed with our key", *DENIED, credential=bearer(_signed(dict, kid="000000000000"))),
    Case("a payload changed under the signature", *DENIED, credential=bearer(_tampered)),
    Case("an expired token", *DENIED, credential=bearer(_signed(lambda c: {**c, "exp": int(time.time()) - 1}))),
    Case("a token not yet valid", *DENIED,
         credential=bearer(_signed(lambda c: {**c, "nbf": int(time.time()) + 3600}))),
    Case("a token without exp", *DENIED, credential=bearer(_signed(_without("exp")))),
    Case("another issuer", *DENIED, credential=bearer(_signed(lambda c: {**c, "iss": "evil"}))),
    Case("another audience", *DENIED, credential=bearer(_signed(lambda c: {**c, "aud": "evil"}))),
    Case("an audience list with ours in it", "GET", PROJECT, b"", *OK,
         credential=bearer(_signed(lambda c: {**c, "aud": ["evil", c["aud"]]}))),
    Case("a key token without its project", *DENIED, credential=bearer(_signed(lambda c: {**c, "knd": "api_key"}))),
    Case("an unknown kind", *DENIED, credential=bearer(_signed(lambda c: {**c, "knd": "admin"}))),
    Case("a user token of no session", *DENIED, credential=bearer(_signed(lambda c: {**c, "fam": "fam_x"}))),
    # auth routes
    Case("a 100 KB password", "POST", "/v1/auth/login", _json({"email": "a@b.co", "password": HUGE_QUERY}),
         *INVALID, credential=anonymous),
    Case("a 100 KB email", "POST", "/v1/auth/register", _json({"email": HUGE_QUERY + "@b.co",
         "password": "s3cret-pass!", "organization": "o"}), *INVALID, credential=anonymous),
    Case("NUL in an email", "POST", "/v1/auth/register", _json({"email": "a\u0000@b.co",
         "password": "s3cret-pass!", "organization": "o"}), *INVALID, credential=anonymous),
    Case("a 100 KB refresh token", "POST", "/v1/auth/refresh", _json({"refresh_token": HUGE_QUERY}), *INVALID,
         credential=anonymous),
    Case("a refresh token with CRLF and NUL", "POST", "/v1/auth/refresh",
         _json({"refresh_token": "amr_\u0000" + CRLF_HEADER}), 401, "AUTHENTICATION_FAILED", credential=anonymous),
    Case("a refresh token that is a path", "POST", "/v1/auth/refresh",
         _json({"refresh_token": "../../../../etc/passwd"}), 401, "AUTHENTICATION_FAILED", credential=anonymous),
    Case("a refresh token that is a list", "POST", "/v1/auth/refresh", _json({"refresh_token": ["amr_x" * 3]}),
         *INVALID, credential=anonymous),
    Case("a logout without a token", "POST", "/v1/auth/logout", b"", 401, "AUTHENTICATION_FAILED",
         credential=anonymous),
    Case("a logout with alg none", "POST", "/v1/auth/logout", b"", 401, "AUTHENTICATION_FAILED",
         credential=bearer(_alg_none("none"))),
    # numbers DynamoDB cannot hold
    Case("a budget below DynamoDB's smallest number", "POST", PROJECT + "/budgets",
         _json({**BUDGET, "amount": 5e-324}), *INVALID),
    Case("a budget above DynamoDB's largest number", "POST", PROJECT + "/budgets",
         _json({**BUDGET, "amount": 5e307}), *INVALID),
    Case("a threshold below DynamoDB's smallest number", "POST", PROJECT + "/budgets",
         _json({**BUDGET, "thresholds": [{"percent": 5e-324}]}), *INVALID),
    Case("a series from a date that is not one", "GET",
         "/v1/projects/{project}/metrics/timeseries?from=2026-02-30T00:00:00Z", b"", 400, "VALIDATION_ERROR"),
]  # fmt: skip


@pytest.fixture(scope="module")
def shared(stack: Stack) -> Iterator[Api]:
    """One stack for the whole table, as one warm Lambda container serves request after request: a
    row that poisons a cache or leaves state behind shows in the rows after it."""
    with pytest.MonkeyPatch.context() as monkeypatch, moto_stack(stack, monkeypatch):
        api = Api(stack)
        api.open_streams()
        yield api


@pytest.fixture(scope="module")
def owner(shared: Api) -> Caller:
    from apimeter.secrets import signing_keys

    session = shared.register()
    project = shared.project(session["access_token"])
    secret = shared.key(session["access_token"], project)["key"]
    return Caller(session["access_token"], secret, project, signing_keys()[0])


@pytest.fixture
def api(shared: Api) -> Api:
    return shared


@pytest.fixture
def caller(shared: Api, owner: Caller) -> Caller:
    """The owner, with a project of its own for this test (so what it counts is its own)."""
    project = shared.project(owner.token, f"p-{uuid.uuid4().hex[:8]}")
    secret = shared.key(owner.token, project)["key"]
    return Caller(owner.token, secret, project, owner.signing_key)


def _send(api: Api, case: Case, caller: Caller) -> Any:
    path = case.path.replace("{project}", caller.project)
    return api.call(case.method, path, case.body, content_type=case.content_type, headers=case.credential(caller))


def still_well(api: Api, caller: Caller) -> None:
    """A valid event is taken, a valid read answered, and the health check passes."""
    after = api.call("POST", "/v1/events", {"method": "GET", "endpoint": "/after", "status": 200}, key=caller.key)
    assert (after.status, after.body["accepted"]) == (202, 1), after.body
    assert api.call("GET", f"/v1/projects/{caller.project}", token=caller.token).status == 200
    assert api.call("GET", "/health").status == 200


def test_the_table_tries_each_input_once() -> None:
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_input_gets_the_envelope_and_the_stack_stays_well(api: Api, owner: Caller, case: Case) -> None:
    caller = owner
    reply = _send(api, case, caller)
    for name, value in reply.headers.items():  # nothing sent is echoed into a header, split or not
        assert not {"\r", "\n", "\0"} & set(name + value), (name, value)
        assert "stolen" not in value
    if case.code is None:
        assert reply.status == case.status, reply.body
        assert not isinstance(reply.body.get("error"), dict)  # no envelope (an export's own error is null)
    else:
        assert (reply.status, reply.body["error"]["code"]) == (case.status, case.code), reply.body
        assert set(reply.body["error"]) == {"code", "message", "details", "request_id", "timestamp"}
        assert reply.body["error"]["message"]
        assert reply.body["error"]["request_id"]
    still_well(api, caller)


# Nothing valid beside a bad event is lost: the batch is taken but for that one item.

BAD_EVENTS = {
    "year 1": {**EVENT, "timestamp": "0001-01-01T00:00:00Z"},
    "year 9999": {**EVENT, "timestamp": "9999-12-31T23:59:59Z"},
    "10^30 ms": {**EVENT, "timestamp": 10**30},
    "a float timestamp": {**EVENT, "timestamp": 1.5},
    "a status of 9999": {**EVENT, "status": 9999},
    "not an object": "GET /orders/1",
    "null": None,
    "a 100 KB event id": {**EVENT, "event_id": HUGE_QUERY},
    "a 100 KB endpoint": {**EVENT, "endpoint": "/" + HUGE_QUERY},
    "an unknown field": {**EVENT, "admin": True},
    "a method of CRLF": {**EVENT, "method": "GET\r\nX: y"},
    "an IP that is a path": {**EVENT, "ip": "../../etc/passwd"},
    "nested properties": {**EVENT, "properties": {"a": {"b": {"c": 1}}}},
    "an event id of ../": {**EVENT, "event_id": "../../x"},
    "a negative latency": {**EVENT, "latency_ms": -1},
    "a cost above range": {**EVENT, "cost": 1e300},
}


@pytest.mark.parametrize("bad", BAD_EVENTS.values(), ids=list(BAD_EVENTS))
def test_a_bad_event_is_rejected_alone_and_its_neighbours_are_counted(api: Api, caller: Caller, bad: Any) -> None:
    batch = [{**EVENT, "event_id": "before"}, bad, {**EVENT, "event_id": "after", "status": 500}]
    reply = api.call("POST", "/v1/events", {"events": batch}, key=caller.key)
    assert reply.status == 202, reply.body
    assert (reply.body["accepted"], reply.body["duplicates"]) == (2, 0)
    ((rejected),) = reply.body["rejected"]
    assert (rejected["index"], rejected["code"]) == (1, "VALIDATION_ERROR")
    assert rejected["message"]
    listing = api.call("GET", f"/v1/projects/{caller.project}/events", token=caller.token).body
    assert sorted(event["event_id"] for event in listing["events"]) == ["after", "before"]
    api.pump()
    summary = api.call("GET", f"/v1/projects/{caller.project}/metrics/summary", token=caller.token).body
    assert (summary["requests"], summary["errors"]) == (2, 1)
    still_well(api, caller)


def test_a_batch_over_the_limit_writes_nothing_and_the_limit_itself_is_taken(api: Api, caller: Caller) -> None:
    over = api.call("POST", "/v1/events", {"events": [{**EVENT, "event_id": f"o{i}"} for i in range(1001)]},
                    key=caller.key)  # fmt: skip
    assert (over.status, over.body["error"]["details"]) == (400, {"received": 1001})
    listing = api.call("GET", f"/v1/projects/{caller.project}/events", token=caller.token).body
    assert listing["events"] == []
    full = api.call("POST", "/v1/events", {"events": [{**EVENT, "event_id": f"f{i}"} for i in range(1000)]},
                    key=caller.key)  # fmt: skip
    assert (full.status, full.body["accepted"], full.body["rejected"]) == (202, 1000, [])
    still_well(api, caller)


def test_a_key_and_a_token_of_the_same_text_are_never_confused(api: Api, caller: Caller) -> None:
    """The authorizer's cache answers for a credential as it was sent: a key that was accepted is not
    a bearer token, and a key sent as a token first is not refused as a key afterwards."""
    assert api.call("POST", "/v1/events", EVENT, key=caller.key).status == 202
    assert api.call("GET", f"/v1/projects/{caller.project}", token=caller.key).status == 401
    other = api.key(caller.token, caller.project)["key"]
    assert api.call("GET", f"/v1/projects/{caller.project}", token=other).status == 401
    assert api.call("POST", "/v1/events", EVENT, key=other).status == 202


def test_a_cursor_from_before_the_range_is_an_empty_page(
    api: Api, caller: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DynamoDB refuses a BETWEEN whose lower bound is above its upper one (moto answers it with
    nothing): the listing must never ask, whatever cursor it is given."""
    query = dynamo.client().query

    def like_dynamodb(**request: Any) -> Any:
        values = request["ExpressionAttributeValues"]
        if ":after" in values and values[":after"]["S"] > values[":before"]["S"]:
            error: Any = {"Code": "ValidationException", "Message": "Invalid KeyConditionExpression: The BETWEEN "
                     "operator requires upper bound to be greater than or equal to lower bound"}  # fmt: skip
            raise ClientError({"Error": error}, "Query")
        return query(**request)

    api.call("POST", "/v1/events", {**EVENT, "event_id": "kept"}, key=caller.key)
    monkeypatch.setattr(events_table, "client", lambda: type("Client", (), {"query": staticmethod(like_dynamodb)}))
    day = int(time.time()) // 86_400
    for before in ("0", "-", "0000000000001"):
        cursor = f"{day}.{before}"
        reply = api.call("GET", f"/v1/projects/{caller.project}/events?cursor={cursor}", token=caller.token)
        assert (reply.status, reply.body["events"], reply.body["next_cursor"]) == (200, [], None), reply.body
    page = api.call("GET", f"/v1/projects/{caller.project}/events", token=caller.token).body
    assert [event["event_id"] for event in page["events"]] == ["kept"]


LIVE_REFUSED = {
    "no token": lambda c: None,
    "an empty token": lambda c: "",
    "a 100 KB token": lambda c: HUGE_QUERY,
    "alg none": _alg_none("none"),
    "HS256 signed with the kid": _hs_with(lambda c: _kid(c).encode()),
    "an expired token": _signed(lambda c: {**c, "exp": int(time.time()) - 1}),
    "another audience": _signed(lambda c: {**c, "aud": "evil"}),
    "an API key as the token": lambda c: c.key,
    "a token with CRLF": lambda c: c.token + CRLF_HEADER,
}


@pytest.mark.parametrize("forge", LIVE_REFUSED.values(), ids=list(LIVE_REFUSED))
def test_the_live_authorizer_refuses_what_is_not_a_token_of_ours(
    api: Api, caller: Caller, forge: Callable[[Caller], str | None]
) -> None:
    authorizer = api.functions["LiveAuthorizerFunction"]
    arn = "arn:aws:execute-api:us-east-1:123456789012:live/dev/$connect"
    forged = forge(caller)
    query = {} if forged is None else {"token": forged}
    event = {"type": "REQUEST", "methodArn": arn, "queryStringParameters": query,
             "requestContext": {"requestId": "r1"}}  # fmt: skip
    with pytest.raises(PermissionError, match=r"^Unauthorized$"):
        authorizer.invoke(event)
    allowed = authorizer.invoke({**event, "queryStringParameters": {"token": caller.token}})
    assert allowed["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    still_well(api, caller)


def test_tiny_prices_are_kept_to_twelve_places(api: Api, caller: Caller) -> None:
    pricing = {
        "per_request": 5e-324,
        "per_gb_out": 1.0000000000004,
        "per_endpoint": [{"pattern": "GET /a", "per_request": 1e-13}],
    }
    reply = api.call("PATCH", f"/v1/projects/{caller.project}", {"pricing": pricing}, token=caller.token)
    assert reply.status == 200, reply.body
    kept = reply.body["pricing"]
    assert (kept["per_request"], kept["per_gb_out"], kept["per_endpoint"][0]["per_request"]) == (0.0, 1.0, 0.0)


def test_a_series_from_1970_reads_from_1970(api: Api, caller: Caller) -> None:
    path = f"/v1/projects/{caller.project}/metrics/timeseries?from=1970-01-01T00:00:00Z&to=1970-01-02T00:00:00Z"
    reply = api.call("GET", path, key=caller.key)
    assert (reply.status, reply.body["from"], len(reply.body["points"])) == (200, "1970-01-01T00:00:00Z", 24)


def test_the_events_page_says_which_range_it_searched(api: Api, caller: Caller) -> None:
    reply = api.call("GET", f"/v1/projects/{caller.project}/events?from=1970-01-01T00:00:00Z", key=caller.key)
    assert reply.status == 200
    assert reply.body["from"] > "2026"  # moved up to what retention keeps, and said so
    (
        Case(
            "a series from a date that is not one",
            "GET",
            "/v1/projects/{project}/metrics/timeseries?from=2026-02-30T00:00:00Z",
            b"",
            400,
            "VALIDATION_ERROR",
        ),
    )
