"""The harness must see differences: checks of its parser, rules and comparison without servers."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import Step, _compare, _parse_rules, _split_comment, load_sessions, normalise  # noqa: E402
from resp import Frame, encode_frame, parse_all, parse_frame, split_args  # noqa: E402


def frame(raw: bytes) -> Frame:
    f, end = parse_frame(raw)
    assert end == len(raw)
    return f


def cmp(raw_a: bytes, raw_b: bytes, rules: str = "") -> str:
    step = Step(1, "X", "cmd", rules=_parse_rules(rules, "test") if rules else [])
    return _compare(step, frame(raw_a), raw_a, None, frame(raw_b), raw_b, None).status


def test_exact_comparison_sees_byte_differences():
    assert cmp(b"+OK\r\n", b"+OK\r\n") == "match"
    assert cmp(b"$2\r\nOK\r\n", b"+OK\r\n") == "mismatch"
    assert cmp(b":1\r\n", b":2\r\n") == "mismatch"
    assert cmp(b"$-1\r\n", b"*-1\r\n") == "mismatch"
    assert cmp(b"-ERR a\r\n", b"-ERR b\r\n") == "mismatch"


def test_rules():
    assert cmp(b":5\r\n", b":7\r\n", "masked-int") == "match"
    assert cmp(b":5\r\n", b"$1\r\n7\r\n", "masked-int") == "mismatch"
    assert cmp(b":99\r\n", b":100\r\n", "int-range 99 100") == "match"
    assert cmp(b":99\r\n", b":-1\r\n", "int-range 99 100") == "mismatch"
    assert cmp(b"*2\r\n$1\r\na\r\n$1\r\nb\r\n", b"*2\r\n$1\r\nb\r\n$1\r\na\r\n", "sorted") == "match"
    assert cmp(b"*2\r\n$1\r\na\r\n$1\r\nb\r\n", b"*2\r\n$1\r\nb\r\n$1\r\nb\r\n", "sorted") == "mismatch"
    assert cmp(b"-ERR a\r\n", b"-ERR b\r\n", "any-error") == "match"
    assert cmp(b"-ERR a\r\n", b"+OK\r\n", "any-error") == "mismatch"
    assert cmp(b"*2\r\n$2\r\n10\r\n$1\r\n5\r\n", b"*2\r\n$2\r\n11\r\n$1\r\n7\r\n", "masked") == "match"
    assert cmp(b"*2\r\n$2\r\n10\r\n$1\r\n5\r\n", b"*1\r\n$2\r\n11\r\n", "masked") == "mismatch"
    hello_a = b"%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n"
    hello_b = b"%2\r\n$6\r\nserver\r\n$5\r\nroost\r\n$5\r\nproto\r\n:3\r\n"
    hello_c = b"%2\r\n$6\r\nserver\r\n$5\r\nroost\r\n$5\r\nproto\r\n:2\r\n"
    assert cmp(hello_a, hello_b, "mask-fields server,version,id") == "match"
    assert cmp(hello_a, hello_c, "mask-fields server,version,id") == "mismatch"
    assert cmp(b":1\r\n", b"-ERR no\r\n", "known-diff single-db") == "known-diff"


def test_resp_parser_round_trips_resp3_and_nested_aggregates():
    raw = (b"%2\r\n+a\r\n*3\r\n:1\r\n_\r\n~1\r\n#t\r\n$1\r\nb\r\n|1\r\n+k\r\n+v\r\n,3.5\r\n"
           b">2\r\n+p\r\n(12345678901234567890\r\n=7\r\ntxt:abc\r\n!3\r\nERR\r\n*-1\r\n$-1\r\n")
    frames = parse_all(raw)
    assert b"".join(encode_frame(f) for f in frames) == raw
    assert frames[0].kind == "%" and frames[0].value[1][1].attributes is not None


def test_split_args_and_comments():
    assert split_args('SET "a b" c "\\x00\\n" \'x y\'') == [b"SET", b"a b", b"c", b"\x00\n", b"x y"]
    assert _split_comment('SET "#x" v  # expect: sorted') == ('SET "#x" v', "# expect: sorted")


def test_sessions_parse_and_have_valid_rules():
    sessions = load_sessions()
    assert len(sessions) >= 5
    for s in sessions:
        for step in s.steps:
            for sub in [step] + step.children:
                for name, params in sub.rules:
                    assert normalise(Frame(":", 1), [(name, params)]) is not None
