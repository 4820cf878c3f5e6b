"""Project API keys: ``am_<prefix>_<secret>``; only a keyed hash (HMAC-SHA256 with a pepper) is stored.

The prefix is public (shown in listings so users can tell keys apart); the secret is 32 random bytes.
With the pepper held in Secrets Manager, a leaked table alone does not allow checking guesses.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

_KEY = re.compile(r"^am_([a-z0-9]{8})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True, slots=True)
class NewKey:
    secret: str  # shown to the user once
    prefix: str
    digest: str


def generate_key(pepper: str) -> NewKey:
    prefix = secrets.token_hex(4)
    secret = f"am_{prefix}_{secrets.token_urlsafe(32)}"
    return NewKey(secret=secret, prefix=prefix, digest=key_digest(pepper, secret))


def looks_like_key(candidate: str) -> bool:
    return bool(_KEY.match(candidate))


def key_digest(pepper: str, secret: str) -> str:
    return hmac.new(pepper.encode(), secret.encode(), hashlib.sha256).hexdigest()
