"""Leases of a counter's units (domain/leases.py): sized by demand, good only in their period."""

from __future__ import annotations

from apimeter.domain.leases import Lease, cap, quota_cap
from apimeter.domain.limits import Limits, Usage


def test_a_lease_grows_while_demand_runs_it_out_within_its_period() -> None:
    lease: Lease[int] = Lease()
    sizes = []
    for _ in range(8):
        amount, stale = lease.plan(1, 1, 16)
        assert stale == 0
        lease.charged(1, amount, 1)
        sizes.append(amount)
        while lease.take(1, 1):
            pass
    assert sizes == [1, 2, 4, 8, 16, 16, 16, 16]


def test_units_are_good_only_in_their_period_and_stale_ones_are_handed_back_once() -> None:
    lease: Lease[int] = Lease(size=8)
    amount, _ = lease.plan(1, 1, 100)
    lease.charged(1, amount, 1)
    assert lease.left == amount - 1 > 0
    assert lease.take(1, 3)
    assert not lease.take(2, 1)  # a new minute: what is held was charged to the last one
    held = lease.left
    amount, stale = lease.plan(2, 1, 100)
    assert stale == held
    assert lease.left == 0
    assert lease.plan(2, 1, 100)[1] == 0
    assert amount < 16  # a period that ended with units left halves the next lease


def test_a_request_larger_than_the_lease_is_charged_whole_and_the_cap_bounds_a_lease() -> None:
    lease: Lease[str] = Lease(size=50)
    assert lease.plan("2026-11", 400, 10)[0] == 400
    lease.charged("2026-11", 400, 400)
    assert lease.left == 0
    assert lease.plan("2026-11", 1, 10)[0] == 10


def test_what_a_function_sees_is_the_last_charge_less_what_it_holds() -> None:
    lease: Lease[int] = Lease(size=10)
    lease.charged(5, 10, 1, Usage(30, 300, 3000))
    assert lease.seen() == Usage(21, 291, 2991)
    lease.give_back(1)
    assert lease.seen() == Usage(20, 290, 2990)


def test_small_limits_are_never_leased_ahead() -> None:
    assert cap(Limits(per_minute=99, per_hour=10_000, per_day=100_000)) == 1
    assert cap(Limits(per_minute=6_000, per_hour=120_000, per_day=1_000_000)) == 60
    assert cap(Limits(per_minute=6_000, per_hour=120_000, per_day=500)) == 5
    assert quota_cap(10_000_000) == 1_000
    assert quota_cap(5) == 1


def test_units_held_under_other_terms_are_stale_at_once() -> None:
    generous, held = Limits(6_000, 120_000, 1_000_000), Limits(600, 12_000, 100_000)
    lease: Lease[int] = Lease(size=8, terms=generous)
    amount, _ = lease.plan(1, 1, 60, generous)
    lease.charged(1, amount, 1)
    assert lease.take(1, 1, generous)
    assert not lease.take(1, 1, held)  # a lowered limit (a budget's hold) applies from this request
    left = lease.left
    amount, stale = lease.plan(1, 1, 6, held)
    assert (amount, stale, lease.left) == (1, left, 0)
