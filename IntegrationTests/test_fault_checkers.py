"""Unit tests of the fault harness's checkers (IntegrationTests/faults/checkers.py): histories that must be
accepted and histories that must be rejected. No server needed."""

from __future__ import annotations

import random

import pytest

from faults.checkers import check_counter, check_register, check_set, linearizable_register
from faults.history import FAIL, OK, UNKNOWN, Op, max_gap


def add(key, outcome, t=0.0, p=0):
    return Op(p, "add", key, key, t, t + 1, outcome)


def w(p, key, value, t0, t1, outcome=OK):
    return Op(p, "write", key, value, t0, t1, outcome)


def r(p, key, value, t0, t1, outcome=OK):
    return Op(p, "read", key, None, t0, t1, outcome, "", value)


# ---- set ---------------------------------------------------------------------------------------------------

def test_set_accepts_all_acked_present_and_unknown_either_way():
    h = [add("a", OK), add("b", OK), add("c", UNKNOWN), add("d", UNKNOWN), add("e", FAIL)]
    res = check_set(h, {"a", "b", "c"})
    assert res.valid, res
    assert (res.ok, res.unknown, res.failed, res.unknown_present) == (2, 2, 1, 1)


def test_set_rejects_a_lost_acked_add():
    res = check_set([add("a", OK), add("b", OK), add("c", UNKNOWN)], {"a", "c"})
    assert not res.valid and res.lost == ["b"] and res.unexpected == []


def test_set_rejects_failed_or_never_attempted_elements():
    res = check_set([add("a", OK), add("e", FAIL)], {"a", "e", "zz"})
    assert not res.valid and res.lost == [] and res.unexpected == ["e", "zz"]


def test_set_retried_element_counts_by_its_best_outcome():
    # the same element failed once and was acknowledged later: it must be there
    res = check_set([add("a", FAIL), add("a", OK)], set())
    assert not res.valid and res.lost == ["a"]
    assert check_set([add("a", FAIL), add("a", OK)], {"a"}).valid


# ---- counter -----------------------------------------------------------------------------------------------

def incr(outcome):
    return Op(0, "incr", "c", 1, 0, 1, outcome)


def test_counter_bounds():
    h = [incr(OK)] * 5 + [incr(UNKNOWN)] * 3 + [incr(FAIL)] * 4
    for final in (5, 6, 8):
        assert check_counter(h, final).valid, final
    res = check_counter(h, 4)
    assert not res.valid and (res.lower, res.upper) == (5, 8)  # an acknowledged increment was lost
    assert not check_counter(h, 9).valid  # more than could have happened (failed increments applied)
    assert check_counter([], None).valid


# ---- register ----------------------------------------------------------------------------------------------

def test_register_sequential_history():
    h = [r(0, "k", None, 0, 1), w(0, "k", "1", 2, 3), r(1, "k", "1", 4, 5), w(1, "k", "2", 6, 7),
         r(0, "k", "2", 8, 9)]
    assert check_register(h).valid


def test_register_concurrent_read_may_see_either_value():
    h = [w(0, "k", "1", 0, 1), w(1, "k", "2", 2, 6), r(2, "k", "1", 3, 4), r(3, "k", "2", 4.5, 5)]
    assert check_register(h).valid


def test_register_rejects_stale_read():
    # write 2 completed before the read started, yet the read returns 1
    h = [w(0, "k", "1", 0, 1), w(0, "k", "2", 2, 3), r(1, "k", "1", 4, 5)]
    res = check_register(h)
    assert not res.valid and res.bad_key == "k"


def test_register_rejects_value_never_written():
    assert not check_register([w(0, "k", "1", 0, 1), r(1, "k", "7", 2, 3)]).valid


def test_register_rejects_read_before_the_write_began():
    assert not check_register([r(1, "k", "1", 0, 1), w(0, "k", "1", 2, 3)]).valid


def test_register_rejects_readers_disagreeing_on_order():
    # two concurrent writes; during them one reader sees 1 then 2, another 2 then 1
    h = [w(0, "k", "1", 0, 10), w(1, "k", "2", 0, 10),
         r(2, "k", "1", 1, 2), r(2, "k", "2", 3, 4),
         r(3, "k", "2", 1, 2), r(3, "k", "1", 3, 4)]
    assert not check_register(h).valid
    # either reader alone is fine
    assert check_register(h[:4]).valid
    assert check_register(h[:2] + h[4:]).valid
    # after both writes completed only the final value may be read, and it cannot change
    assert not check_register(h[:2] + [r(2, "k", "1", 11, 12), r(2, "k", "2", 13, 14)]).valid


def test_register_rejects_value_flipping_back():
    # 1 then 2 then 1 again with no write of 1 in between
    h = [w(0, "k", "1", 0, 1), w(0, "k", "2", 2, 10), r(1, "k", "2", 3, 4), r(1, "k", "1", 5, 6)]
    assert not check_register(h).valid


def test_register_unknown_write_may_apply_late_or_never():
    # the write timed out; a later read may see it, or not
    h = [w(0, "k", "1", 0, 1), w(1, "k", "2", 2, 3, UNKNOWN), r(2, "k", "1", 10, 11), r(2, "k", "2", 12, 13)]
    assert check_register(h).valid
    assert check_register(h[:3]).valid
    # but it cannot apply before it was invoked
    h2 = [w(0, "k", "1", 0, 1), r(2, "k", "2", 1.5, 1.8), w(1, "k", "2", 2, 3, UNKNOWN)]
    assert not check_register(h2).valid


def test_register_failed_ops_are_ignored_and_unknown_reads_dropped():
    h = [w(0, "k", "1", 0, 1), w(1, "k", "2", 2, 3, FAIL), r(2, "k", "9", 4, 5, UNKNOWN), r(2, "k", "1", 6, 7)]
    assert check_register(h).valid
    # a read that saw a certainly-failed write is not linearizable
    assert not check_register(h[:2] + [r(2, "k", "2", 4, 5)]).valid


def test_register_keys_are_independent():
    h = [w(0, "a", "1", 0, 1), w(0, "b", "2", 0, 1), r(1, "a", "1", 2, 3), r(1, "b", "1", 2, 3)]
    res = check_register(h)
    assert not res.valid and res.bad_key == "b"


def simulate(n_ops, procs, seed, corrupt=False):
    """A history of a real (atomic) register with random overlapping ops: linearizable by construction.
    With corrupt, one late read returns an old value."""
    rng = random.Random(seed)
    state, ops, t = None, [], 0.0
    busy_until = [0.0] * procs
    values = []
    for i in range(n_ops):
        p = rng.randrange(procs)
        invoke = max(t, busy_until[p]) + rng.random()
        lin = invoke + rng.random() * 2
        complete = lin + rng.random() * 2
        t = lin
        busy_until[p] = complete
        if rng.random() < 0.5:
            value = f"{p}:{i}"
            state = value
            values.append(value)
            ops.append(w(p, "k", value, invoke, complete))
        else:
            ops.append(r(p, "k", state, invoke, complete))
    if corrupt:
        later = [o for o in ops[len(ops) // 2:] if o.op == "read"]
        target = later[-1]
        older = [v for v in values[: len(values) // 3] if v != target.result]
        target.result = older[0]
    return ops


@pytest.mark.parametrize("seed", range(3))
def test_register_large_random_histories(seed):
    ops = simulate(3000, 6, seed)
    res = check_register(ops)
    assert res.valid, res.summary()
    assert res.seconds < 20, res.summary()
    bad = simulate(1000, 6, seed, corrupt=True)
    assert not check_register(bad).valid


def test_register_budget_reports_undecided():
    ops = simulate(200, 4, 1)
    ok, explored = linearizable_register(ops, budget=5)
    assert ok is None and explored > 5


def test_max_gap():
    ops = [Op(0, "add", "k", "k", t, t + 0.01, OK) for t in (0.0, 0.1, 0.2, 1.5, 1.6)]
    assert abs(max_gap(ops, 0.0, 2.0) - (1.51 - 0.21)) < 1e-9
