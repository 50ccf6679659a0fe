"""Differential test: every session file is replayed against a fresh reference redis-server and a
fresh roostd (module-scoped; FLUSHALL before each session); any reply that differs beyond the
declared normalisation rules fails the test with a readable diff. See harness.py for the format
and EXPECTED_DIFFERENCES.md for the documented differences."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import load_sessions, run_session  # noqa: E402

SESSIONS = load_sessions()
CASES = [pytest.param(s, p, id=f"{s.name}-resp{p}") for s in SESSIONS for p in ([2, 3] if s.replay_resp3 else [2])]


@pytest.mark.time_limit(120)
@pytest.mark.parametrize("session,protocol", CASES)
def test_session(session, protocol, redis_ref, roost_module):
    result = run_session(session, redis_ref.port, roost_module.port, protocol)
    print(result.report(verbose=True))
    assert result.total > 0
    if result.mismatches:
        pytest.fail(result.report(), pytrace=False)
    assert roost_module.alive(), "roostd died during the session\n" + roost_module.describe()


def test_session_files_hold_enough_commands():
    from harness import count_commands
    assert sum(count_commands(s) for s in SESSIONS) >= 300
