"""Fault-injection harness for Roost's HA scenarios (see README.md in this directory)."""

from .checkers import check_counter, check_register, check_set  # noqa: F401
from .client import (CounterWorkload, DirectProbe, RegisterWorkload, Router, SetWorkload,  # noqa: F401
                     key_in_slots, read_keys, slot_of)
from .cluster import FaultCluster, Node, ReplyError, command, wait_until  # noqa: F401
from .history import FAIL, OK, UNKNOWN, History, Op, first_served_after, max_gap  # noqa: F401
