"""Tokens, API keys, passwords, principals and the authorizer's credential cache."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from apimeter.domain import apikeys, passwords, tokens
from apimeter.domain.principal import Principal
from apimeter.errors import AuthenticationFailed, Forbidden, NotFound
from apimeter.logic.authorization import CredentialCache

KEY = "k" * 64


def issue() -> str:
    token, _ = tokens.issue_access_token(KEY, subject="usr_1", tenant_id="ten_1", family="fam_1", lifetime_seconds=900)
    return token


def test_access_token_round_trip() -> None:
    claims = tokens.verify_access_token(issue(), [KEY])
    assert (claims.subject, claims.tenant_id, claims.family, claims.kind) == ("usr_1", "ten_1", "fam_1", "user")
    key_token, _ = tokens.issue_access_token(
        KEY, subject="key_1", tenant_id="ten_1", kind="api_key", project_id="prj_1", scopes=("read",),
        lifetime_seconds=60,
    )  # fmt: skip
    key_claims = tokens.verify_access_token(key_token, [KEY])
    assert (key_claims.kind, key_claims.project_id, key_claims.scopes) == ("api_key", "prj_1", ("read",))
    assert jwt.get_unverified_header(issue())["kid"] == tokens.key_id(KEY)


def test_rotated_keys_still_verify_older_tokens() -> None:
    assert tokens.verify_access_token(issue(), ["n" * 64, KEY]).subject == "usr_1"


def _segments(token: str) -> list[str]:
    return token.split(".")


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_rejects_expired_tampered_unsigned_and_foreign_tokens() -> None:
    expired, _ = tokens.issue_access_token(
        KEY, subject="u", tenant_id="t", family="f", lifetime_seconds=60, now=time.time() - 120
    )
    header, payload, signature = _segments(issue())
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["tid"] = "ten_other"
    tampered = f"{header}.{_b64(claims)}.{signature}"
    unsigned = f"{_b64({'alg': 'none', 'kid': tokens.key_id(KEY)})}.{payload}."
    wrong_audience = jwt.encode(
        {**claims, "aud": "someone-else"}, KEY, algorithm="HS256", headers={"kid": tokens.key_id(KEY)}
    )
    other_key = issue()
    no_family = jwt.encode({k: v for k, v in claims.items() if k != "fam"}, KEY, algorithm="HS256",
                           headers={"kid": tokens.key_id(KEY)})  # fmt: skip
    key_without_project = jwt.encode({**claims, "knd": "api_key"}, KEY, algorithm="HS256",
                                     headers={"kid": tokens.key_id(KEY)})  # fmt: skip
    confused = jwt.encode(claims, KEY, algorithm="HS512", headers={"kid": tokens.key_id(KEY)})
    for bad in (expired, tampered, unsigned, wrong_audience, "garbage", no_family, key_without_project, confused):
        with pytest.raises(AuthenticationFailed):
            tokens.verify_access_token(bad, [KEY])
    with pytest.raises(AuthenticationFailed):
        tokens.verify_access_token(other_key, ["x" * 64])


def test_api_keys_are_stored_only_as_a_peppered_hash() -> None:
    new = apikeys.generate_key("pepper")
    assert apikeys.looks_like_key(new.secret)
    assert new.secret.startswith(f"am_{new.prefix}_")
    assert new.digest == apikeys.key_digest("pepper", new.secret)
    assert new.digest != apikeys.key_digest("other-pepper", new.secret)
    assert new.secret not in new.digest
    assert not apikeys.looks_like_key("am_short")


def test_passwords_verify_and_unknown_users_cost_the_same_work() -> None:
    stored = passwords.hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert passwords.verify_password(stored, "correct horse battery")
    assert not passwords.verify_password(stored, "wrong")
    assert not passwords.verify_password(None, "anything")  # verified against the decoy hash
    assert not passwords.needs_rehash(stored)


def test_principal_context_round_trip_and_checks() -> None:
    key = Principal("api_key", "key_1", "ten_1", project_id="prj_1", scopes=("track",))
    assert Principal.from_context(key.to_context()) == key
    assert key.require_key_scope("track") == "prj_1"
    with pytest.raises(Forbidden):
        key.require_key_scope("read")
    with pytest.raises(NotFound):
        key.require_project_read("prj_2")
    with pytest.raises(Forbidden):
        key.require_user()
    with pytest.raises(AuthenticationFailed, match="bad key"):
        Principal.from_context({"auth_error": "bad key"})
    user = Principal("user", "usr_1", "ten_1", role="owner")
    user.require_project_read("any")  # tenant scoping happens in the key of the read
    with pytest.raises(Forbidden):
        user.require_key_scope("track")


def test_credential_cache_expires_and_evicts() -> None:
    cache = CredentialCache(size=2)
    principal = Principal("user", "u", "t")
    cache.put("a", principal, expires=10)
    cache.put("b", "denied", expires=10)
    assert cache.get("a", now=5) == principal
    cache.put("c", principal, expires=10)  # evicts the least recently used ("b")
    assert cache.get("b", now=5) is None
    assert cache.get("a", now=11) is None
