"""Password hashing with Argon2id.

The parameters are stated here, not taken from library defaults, so a change is a visible decision;
``needs_rehash`` tells login to upgrade a stored hash made with older parameters.
"""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

# RFC 9106 "second recommended option" (64 MiB would exceed a 256 MB Lambda's comfort): 3 passes,
# 19 MiB, 1 lane, as OWASP's minimum for Argon2id; about 30 ms on one Lambda arm64 vCPU.
ARGON2_TIME_COST = 3
ARGON2_MEMORY_KIB = 19_456
ARGON2_PARALLELISM = 1

_hasher = PasswordHasher(
    time_cost=ARGON2_TIME_COST,
    memory_cost=ARGON2_MEMORY_KIB,
    parallelism=ARGON2_PARALLELISM,
    hash_len=32,
    salt_len=16,
    type=Type.ID,
)

MIN_PASSWORD_LENGTH = 10


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    """Verified against when an email is unknown, so that "no such user" costs as long as "wrong
    password" and timing does not reveal which accounts exist. Made on first use, not at import."""
    return _hasher.hash("apimeter-decoy-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _decoy_hash(), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)
