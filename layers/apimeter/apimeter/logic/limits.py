"""Rate limits and quotas, charged per request (or per event on ingest), through leases.

Two scopes are charged: the caller (an API key, or a user) with the ``key_*`` limits, and what they
belong to with the ``project_*`` limits: a key's project (ingest and reads with that key), or a
user's tenant (the management and read API).
If the second refuses, the first is given back, so a refused request costs no allowance. The headers
of the last charge are kept for the handler entry, which adds them to every response.

A warm function charges a scope ahead, in leases (``domain/leases.py``): under steady traffic most
requests are served from units it already holds, without a write. Limits are never passed; the
``X-RateLimit-Remaining`` a function tells is what it knows: the counts of its last charge, less
the units it holds.
"""

from __future__ import annotations

import hashlib
import threading
import time
from contextvars import ContextVar
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from apimeter.dal import counters
from apimeter.domain.leases import Lease, cap, quota_cap
from apimeter.domain.limits import Headers, Instant, Limits, Usage, Window, exceeded, refused, tightest
from apimeter.domain.plans import limits as plan_limits
from apimeter.domain.principal import Principal
from apimeter.errors import RateLimited
from apimeter.observability import logger

_headers: ContextVar[Headers | None] = ContextVar("rate_limit_headers", default=None)
# This function's leases per scope (one invocation at a time on Lambda; the lock is for the offline
# stack, whose environments share a process).
_leases: dict[str, Lease[int]] = {}
_quota_leases: dict[str, Lease[str]] = {}
_lock = threading.Lock()


def _limits(values: dict[str, int], prefix: str) -> Limits:
    return Limits(values[f"{prefix}_per_minute"], values[f"{prefix}_per_hour"], values[f"{prefix}_per_day"])


def resolved(principal: Principal) -> dict[str, int]:
    # The authorizer passes every limit resolved; the free plan only fills gaps in older contexts.
    return plan_limits("free", principal.limits)


def charge(principal: Principal, cost: int) -> Headers:
    """Charge ``cost`` to the caller and to its project (or tenant); raises ``RateLimited``."""
    values = resolved(principal)
    owner = f"project#{principal.project_id}" if principal.project_id else f"tenant#{principal.tenant_id}"
    scopes = [
        (f"{principal.kind}#{principal.principal_id}", _limits(values, "key")),
        (owner, _limits(values, "project")),
    ]
    now = Instant.at(time.time())
    charged: list[tuple[Usage, Limits]] = []
    taken: list[Lease[int]] = []
    for index, (scope, limits) in enumerate(scopes):
        lease, usage, refusal = _take(scope, limits, now, cost)
        if refusal is not None:
            for earlier in taken:
                with _lock:
                    earlier.give_back(cost)
            headers = refused(limits, usage, refusal, now)
            _headers.set(headers)
            who = "API key" if principal.kind == "api_key" and index == 0 else scope.split("#")[0]
            raise RateLimited(
                f"{who} limit of {limits.of(refusal)} per {refusal} reached",
                details={"scope": scope.split("#")[0], "window": refusal, "limit": limits.of(refusal)},
            )
        taken.append(lease)
        charged.append((usage, limits))
    headers = tightest(charged, now)
    _headers.set(headers)
    return headers


def _take(scope: str, limits: Limits, now: Instant, cost: int) -> tuple[Lease[int], Usage, Window | None]:
    """``cost`` units of ``scope`` in this minute: from this function's lease when it holds them,
    else charged (with the next lease) in one conditional write. Returns the lease, the usage seen
    and, when refused, the window that refused (nothing is charged then)."""
    with _lock:
        lease = _leases.setdefault(scope, Lease())
        if lease.take(now.minute, cost, limits):
            return lease, lease.seen() or Usage(0, 0, 0), None
        stale_minute = lease.period  # what is stale was charged in the minute of the last charge
        amount, stale = lease.plan(now.minute, cost, cap(limits), limits)
    if stale and stale_minute is not None:
        _give_back(scope, Instant.at(stale_minute * 60), stale)
    usage, refusal = counters.charge(scope, now, amount, limits)
    if refusal is not None and amount > cost:  # the lease would pass a limit: the request alone may not
        amount = cost
        usage, refusal = counters.charge(scope, now, cost, limits)
    if refusal is not None:
        return lease, usage, refusal
    with _lock:
        lease.charged(now.minute, amount, cost, usage, now.epoch)
        return lease, lease.seen() or usage, None


def _give_back(scope: str, charged_at: Instant, units: int) -> None:
    """Units a lease held when its minute ended go back to the hour and day they were charged to.
    Best effort: if it fails, those windows count them as used until they end."""
    try:
        counters.refund(scope, charged_at, units)
    except ClientError:
        logger.warning("a lease's unused units were not given back", extra={"scope": scope, "units": units})


def project_rate(principal: Principal) -> float | None:
    """Events a second the caller's project is charged at this minute, across every function, as
    this function's last charge of it saw (None before one)."""
    scope = f"project#{principal.project_id}"
    with _lock:
        lease = _leases.get(scope)
        usage, at = (lease.usage, lease.at) if lease is not None else (None, 0.0)
    if usage is None:
        return None
    return usage.minute / max(1.0, at % 60)


def month_of(epoch: float) -> tuple[str, int]:
    """The UTC month and the epoch second the next one starts."""
    moment = datetime.fromtimestamp(epoch, UTC)
    following = datetime(moment.year + (moment.month == 12), moment.month % 12 + 1, 1, tzinfo=UTC)
    return moment.strftime("%Y-%m"), int(following.timestamp())


def charge_events(principal: Principal, project_id: str, events: int) -> None:
    """The monthly event quota of the project; raises ``RateLimited`` when it would be passed.
    Leased like the rate limits (``domain/leases.py``): most requests charge it without a write."""
    quota = resolved(principal)["events_per_month"]
    month, resets = month_of(time.time())
    scope = f"quota#{project_id}"
    with _lock:
        lease = _quota_leases.setdefault(scope, Lease())
        if lease.take(month, events, quota):
            return
        amount, stale = lease.plan(month, events, quota_cap(quota), quota)
    if stale and lease.period == month:  # held under another quota this month: never handed out
        counters.give_back_quota(project_id, month, stale)
    used, accepted = counters.charge_quota(project_id, month, amount, quota)
    if not accepted and amount > events:
        amount = events
        used, accepted = counters.charge_quota(project_id, month, events, quota)
    if not accepted:
        _headers.set(Headers(quota, max(0, quota - used), resets, max(1, resets - int(time.time()))))
        raise RateLimited(
            f"monthly event quota of {quota} reached ({used} used)",
            details={"scope": "project", "window": "month", "limit": quota, "used": used},
        )
    with _lock:
        lease.charged(month, amount, events)


def quota(principal: Principal, project_id: str) -> dict[str, int | str]:
    """The month's quota: ``used`` counts what every function has charged, less what this one holds
    and has not handed out (others' leases, at most a ten-thousandth of the quota each, count as used)."""
    limit = resolved(principal)["events_per_month"]
    month, resets = month_of(time.time())
    used = counters.quota_used(project_id, month)
    with _lock:
        lease = _quota_leases.get(f"quota#{project_id}")
        held = lease.left if lease is not None and lease.period == month else 0
    used = max(0, used - held)
    return {"period": month, "limit": limit, "used": used, "remaining": max(0, limit - used), "resets_at": resets}


# Failed sign-ins allowed before a lockout, per account and per source IP. The account is keyed by
# a hash of the email whether or not it exists, so a lockout says nothing about who has an account.
LOGIN_ACCOUNT = Limits(per_minute=5, per_hour=20, per_day=50)
LOGIN_IP = Limits(per_minute=20, per_hour=100, per_day=500)
_NO_LIMIT = Limits(per_minute=10**9, per_hour=10**9, per_day=10**9)


def _login_scopes(email: str, ip: str) -> list[tuple[str, Limits]]:
    account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return [(f"login-account#{account}", LOGIN_ACCOUNT), (f"login-ip#{ip}", LOGIN_IP)]


def guard_sign_in(email: str, ip: str) -> None:
    """Refuse a sign-in while the account or the address is locked out by recent failures."""
    now = Instant.at(time.time())
    for scope, limits in _login_scopes(email, ip):
        usage = counters.peek(scope, now)
        window = exceeded(usage, limits, 1)
        if window is not None:
            _headers.set(refused(limits, usage, window, now))
            raise RateLimited(
                f"too many failed sign-ins; try again after the {window} window",
                details={"scope": scope.split("#")[0], "window": window},
            )


def sign_in_failed(email: str, ip: str) -> None:
    now = Instant.at(time.time())
    for scope, _ in _login_scopes(email, ip):
        counters.charge(scope, now, 1, _NO_LIMIT)


def take_headers() -> dict[str, str]:
    """The headers of this invocation's last charge (and forget them)."""
    headers = _headers.get()
    _headers.set(None)
    return headers.as_dict() if headers else {}
