"""Helpers of the netlab call tests: waiting for a condition, and Alice's stats about Bob."""

from __future__ import annotations

import time
from typing import Any

from holocall_desktop.netlab.call import JsonLinesProcess


def to_bob(alice: JsonLinesProcess) -> dict[str, Any]:
    """Alice's last stats about Bob ({} while she has none)."""
    peers = alice.stats().get("peers") or [{}]
    return dict(peers[0])


def wait_until(cond: Any, timeout: float) -> bool:
    """True once ``cond()`` holds, polled every 0.5 s; False after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.5)
    return False
