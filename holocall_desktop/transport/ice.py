"""Which local addresses aiortc offers as ICE host candidates.

aioice never offers 127.0.0.1. Two adjustments, process-wide, installed by the call engine:

- ``HOLOCALL_ICE_HOSTS=ADDR[,ADDR…]`` (environment) replaces the host addresses, e.g.
  ``127.0.0.1`` to keep a call on the loopback interface (tests, benchmarks);
- without it, a machine with no other IPv4 address offers ``127.0.0.1`` instead of nothing, so
  that two processes on it can still call each other.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import aioice.ice

ENV_HOSTS = "HOLOCALL_ICE_HOSTS"
_lock = threading.Lock()
_installed = False


def host_addresses(
    original: Callable[[bool, bool], list[str]], use_ipv4: bool, use_ipv6: bool
) -> list[str]:
    override = os.environ.get(ENV_HOSTS, "").strip()
    if override:
        return [a.strip() for a in override.split(",") if a.strip()]
    addresses = list(original(use_ipv4, use_ipv6))
    if use_ipv4 and not any(":" not in a for a in addresses):
        addresses.append("127.0.0.1")
    return addresses


def install() -> None:
    """Route aioice's host-address lookup through :func:`host_addresses` (once)."""
    global _installed
    with _lock:
        if _installed:
            return
        original = aioice.ice.get_host_addresses

        def patched(use_ipv4: bool, use_ipv6: bool) -> list[str]:
            return host_addresses(original, use_ipv4, use_ipv6)

        aioice.ice.get_host_addresses = patched
        _installed = True
