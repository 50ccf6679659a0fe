#!/usr/bin/env python3
"""Run the differential sessions against two already-running servers and print the counts.

    python3 IntegrationTests/differential/run.py --roost-port X --redis-port Y [-k NAME] [-v]

Exit status 0 when there is no mismatch, 1 otherwise. Redis vs Redis must give 0 mismatches:
    redis-server --port 7001 --save "" & redis-server --port 7002 --save "" &
    python3 IntegrationTests/differential/run.py --roost-port 7002 --redis-port 7001
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import count_commands, load_sessions, run_session  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--roost-port", type=int, required=True, help="port of the server under test")
    ap.add_argument("--redis-port", type=int, required=True, help="port of the reference redis-server")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("-k", dest="only", default="", help="only sessions whose name contains this")
    ap.add_argument("--no-resp3", action="store_true", help="skip the RESP3 replays")
    ap.add_argument("-v", "--verbose", action="store_true", help="also show the known differences")
    ap.add_argument("--dump", action="store_true", help="print every command with both replies")
    a = ap.parse_args(argv)

    totals = {"commands": 0, "match": 0, "known-diff": 0, "mismatch": 0}
    for session in load_sessions():
        if a.only and a.only not in session.name:
            continue
        protocols = [2] + ([3] if session.replay_resp3 and not a.no_resp3 else [])
        for proto in protocols:
            r = run_session(session, a.redis_port, a.roost_port, proto, host=a.host)
            print(r.report(verbose=a.verbose))
            if a.dump:
                for o in r.outcomes:
                    print(f"  [{o.status}] {o.step.label()}\n      redis: {o.ref}\n      roost: {o.target}")
            totals["commands"] += r.total
            for k in ("match", "known-diff"):
                totals[k] += r.count(k)
            totals["mismatch"] += len(r.mismatches)
    print(f"\nTOTAL: {totals['commands']} commands, {totals['match']} match, "
          f"{totals['known-diff']} known differences, {totals['mismatch']} mismatches")
    n_script = sum(count_commands(s) for s in load_sessions())
    print(f"(session files hold {n_script} commands; RESP3 replays add the rest)")
    return 0 if totals["mismatch"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
