"""Fixtures for the black-box tests: real server processes on ephemeral ports.

    roost            a fresh roostd (default flags) for this test
    start_roost      factory: start_roost("--requirepass", "x", ...) -> ServerHandle (stopped at teardown)
    redis_ref        a reference redis-server for this module (differential tests)
    start_redis      factory for reference redis-servers

Every test has a time bound: @pytest.mark.time_limit(seconds) (default 60 s), enforced with
SIGALRM, so a hung server or socket cannot hang CI.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from resp import RespConnection  # noqa: E402
from servers import (ServerHandle, redis_server_path, roostd_path, start_server,  # noqa: E402
                     target_is_redis)

DEFAULT_TIME_LIMIT = 60


def pytest_configure(config):
    config.addinivalue_line("markers", "time_limit(seconds): hard per-test time bound (SIGALRM)")
    config.addinivalue_line("markers", "roost_only(reason): checks Roost behaviour Redis does not have; "
                                       "skipped when ROOSTD is redis-server")


def pytest_report_header(config):
    return [f"server under test (ROOSTD): {roostd_path()}" + ("  [validating against Redis]" if target_is_redis()
                                                             else ""),
            f"reference redis-server: {redis_server_path()}"]


def pytest_collection_modifyitems(config, items):
    if not target_is_redis():
        return
    for item in items:
        m = item.get_closest_marker("roost_only")
        if m:
            item.add_marker(pytest.mark.skip(reason=f"roost-only: {m.args[0] if m.args else ''}"))


class TestTimedOut(Exception):
    pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    m = item.get_closest_marker("time_limit")
    limit = int(m.args[0]) if m else DEFAULT_TIME_LIMIT

    def on_alarm(signum, frame):
        raise TestTimedOut(f"{item.nodeid} exceeded its time limit of {limit}s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(limit)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


class _Servers:
    def __init__(self):
        self.handles: list[ServerHandle] = []
        _ServersRegistry.live.append(self)

    def start(self, binary, *args, **kw) -> ServerHandle:
        h = start_server(binary, args, **kw)
        self.handles.append(h)
        return h

    def stop_all(self):
        for h in self.handles:
            h.stop()
        if self in _ServersRegistry.live:
            _ServersRegistry.live.remove(self)


@pytest.fixture
def start_roost():
    servers = _Servers()

    def start(*args, **kw) -> ServerHandle:
        return servers.start(roostd_path(), *args, name=kw.pop("name", "roostd"), **kw)

    yield start
    servers.stop_all()


@pytest.fixture
def start_redis():
    servers = _Servers()

    def start(*args, **kw) -> ServerHandle:
        return servers.start(redis_server_path(), *args, name=kw.pop("name", "redis-server"), **kw)

    yield start
    servers.stop_all()


@pytest.fixture
def roost(start_roost) -> ServerHandle:
    return start_roost("--loglevel", "warning")


@pytest.fixture(scope="module")
def redis_ref():
    servers = _Servers()
    yield servers.start(redis_server_path(), "--loglevel", "warning", name="redis-ref")
    servers.stop_all()


@pytest.fixture(scope="module")
def roost_module():
    servers = _Servers()
    yield servers.start(roostd_path(), "--loglevel", "warning", name="roostd")
    servers.stop_all()


@pytest.fixture
def conn_factory():
    """conn_factory(server) -> RespConnection, closed at teardown."""
    conns: list[RespConnection] = []

    def make(server: ServerHandle, timeout: float = 5.0, **kw) -> RespConnection:
        c = RespConnection(server.host, server.port, timeout=timeout, **kw)
        conns.append(c)
        return c

    yield make
    for c in conns:
        c.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed:
        # Attach the log of every server the test used, so that a failure explains itself.
        seen = set()
        for h in _ServersRegistry.all_handles():
            if h.pid not in seen:
                seen.add(h.pid)
                rep.sections.append((f"server {h.name} (pid {h.pid}, port {h.port})", h.describe()))


class _ServersRegistry:
    live: list = []

    @classmethod
    def all_handles(cls):
        return [h for s in cls.live for h in s.handles]
