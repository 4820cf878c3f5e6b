"""Allowance charged ahead: how a warm function spends a counter's units without a write per request.

A rate limit or quota is a conditional counter in DynamoDB, exact under any concurrency; charging it
once per request makes every request a write. Instead a function charges a *lease*: the request's
cost and, when demand is high, some units more, in the same one conditional write; the units it
holds are handed to later requests of that period (a minute, a month) with no write at all.

Nothing goes over a limit: every unit handed out was charged first. What changes is when a request
is refused: units another function holds and has not handed out count as used, so a request may be
refused with the limit not quite reached, by at most what the functions hold. That is bounded by the
lease cap, a small share of the limit (``cap``), and a limit of under a hundred units a window is
never leased ahead: each request is charged alone, exactly as before.

Sizing learns demand: a lease handed out before its period ended doubles the next (up to the cap); a
period that ends with units left halves it. The units left at a period's end are stale: the caller
gives them back (for a rate limit, to the hour and day windows they were charged to). Units are held
under the terms they were charged under (the limits): when the terms change, a lowered limit or a
budget's hold, what is held is stale at once, so a new limit applies from the next request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from apimeter.domain.limits import Limits, Usage

P = TypeVar("P")  # a period: the minute number of a rate limit, the month of a quota

LEASE_SHARE = 100  # a lease holds at most 1/100 of the smallest window's limit


def cap(limits: Limits) -> int:
    """The most a lease of a rate-limited scope may hold: a hundredth of its tightest window."""
    return max(1, min(limits.per_minute, limits.per_hour, limits.per_day) // LEASE_SHARE)


def quota_cap(quota: int) -> int:
    """The most a lease of a monthly quota may hold: a ten-thousandth of it (1,000 of 10 million)."""
    return max(1, quota // (LEASE_SHARE * LEASE_SHARE))


@dataclass(slots=True)
class Lease(Generic[P]):
    """Units of one scope this function has charged and not yet handed out."""

    period: P | None = None  # when the units were charged; they are good only within it
    terms: object = None  # the limits they were charged under; they are good only under those
    left: int = 0
    size: int = 1  # how much the next charge reserves, learnt from demand
    usage: Usage | None = field(default=None)  # the scope's counts the last charge returned
    at: float = 0.0  # when the last charge was made (epoch seconds)

    def take(self, period: P, cost: int, terms: object = None) -> bool:
        """Hand out ``cost`` units from what is held, if it is enough and still good."""
        if self.period != period or self.terms != terms or self.left < cost:
            return False
        self.left -= cost
        return True

    def give_back(self, cost: int) -> None:
        """Units handed out for a request that was refused after all (by another scope)."""
        self.left += cost

    def plan(self, period: P, cost: int, most: int, terms: object = None) -> tuple[int, int]:
        """For a request of ``cost`` that the held units do not cover: what to charge (the cost, or
        the next lease when that is larger, at most ``most``), and how many held units are stale
        (charged in an earlier period or under other terms: the caller gives them back; they are
        forgotten here)."""
        stale = 0
        if self.terms != terms:
            stale, self.left, self.size, self.terms = self.left, 0, 1, terms
        elif self.period == period:
            self.size *= 2  # ran out within its period: demand is up
        elif self.left > 0:
            self.size //= 2  # a period ended with units left: demand is down
            stale, self.left = self.left, 0
        self.size = max(1, min(self.size, most))
        return max(cost, self.size), stale

    def charged(self, period: P, amount: int, cost: int, usage: Usage | None = None, at: float = 0.0) -> None:
        """``amount`` units were charged in ``period`` (at ``at``) for a request of ``cost``: hold the rest."""
        if self.period != period:
            self.period, self.left = period, 0
        self.left += amount - cost
        self.usage, self.at = usage, at

    def seen(self) -> Usage | None:
        """The scope's counts as this function knows them: the last charge's, less what it holds."""
        if self.usage is None:
            return None
        held = self.left
        return Usage(max(0, self.usage.minute - held), max(0, self.usage.hour - held), max(0, self.usage.day - held))
