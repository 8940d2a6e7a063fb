"""Two participants that cannot reach each other, and a relay both can reach (root only).

Namespaces ``a`` and ``b`` are each joined to a router namespace ``r`` by a veth pair, and to
nothing else: ``a`` is 198.18.1.2 (``r`` is 198.18.1.1 on that side), ``b`` is 198.18.2.2 (``r``
198.18.2.1), and each sends everything through ``r``. ``r`` does not forward (a new namespace's
default, and it is set to be sure), so ``a`` and ``b`` reach ``r``'s own addresses, never each
other: what a symmetric NAT on each side amounts to for ICE. A TURN server in ``r`` is the only
way between them.

    with RelayLab() as lab:
        lab.popen("r", ["turnserver", ...])     # the relay (and the signaling server) in r
        lab.popen("a", [...]); lab.popen("b", [...])

The namespaces (and with them the veth pairs) are removed when the lab closes; ones left by a
process that died are removed by the next lab.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Sequence
from typing import Any, Literal

from pyroute2 import IPRoute, NetNS, netns

from holocall_desktop.netlab.lab import NetLabError, remove_stale

PREFIX = "hc-relay-"
Side = Literal["a", "r", "b"]
#: each participant's address, and the router's address facing it
ADDRESSES = {"a": "198.18.1.2", "b": "198.18.2.2"}
ROUTER = {"a": "198.18.1.1", "b": "198.18.2.1"}


class RelayLab:
    """Namespaces ``a``, ``r`` and ``b``; see the module."""

    _count = 0

    def __init__(self) -> None:
        if os.geteuid() != 0:
            raise NetLabError("the relay lab needs root (network namespaces, veth pairs)")
        remove_stale(PREFIX)
        RelayLab._count += 1
        tag = f"{PREFIX}{os.getpid()}-{RelayLab._count}"
        self.names: dict[Side, str] = {s: f"{tag}-{s}" for s in ("a", "r", "b")}
        try:
            for name in self.names.values():
                netns.create(name)
                self._up("lo", name)
            for side in ("a", "b"):
                self._link(side)
            forward = "echo 0 > /proc/sys/net/ipv4/ip_forward"  # the router does not route
            self.run("r", ["sh", "-c", forward], check=True)
        except Exception as exc:
            self.close()
            raise NetLabError(f"cannot build the relay lab: {exc}") from exc

    @staticmethod
    def _up(ifname: str, namespace: str) -> None:
        with NetNS(namespace) as ns:
            (index,) = ns.link_lookup(ifname=ifname)
            ns.link("set", index=index, state="up")

    def _link(self, side: Literal["a", "b"]) -> None:
        """The veth pair between ``side`` and the router, addressed, with a default route."""
        unique = f"{os.getpid() % 100000}-{RelayLab._count}"  # created in the host's namespace
        inner, outer = f"hc{side}{unique}", f"hr{side}{unique}"
        with IPRoute() as ip:
            ip.link("add", ifname=inner, kind="veth", peer=outer)
            (i,) = ip.link_lookup(ifname=inner)
            (o,) = ip.link_lookup(ifname=outer)
            ip.link("set", index=i, net_ns_fd=self.names[side])
            ip.link("set", index=o, net_ns_fd=self.names["r"])
        for namespace, ifname, address in (
            (self.names[side], inner, ADDRESSES[side]),
            (self.names["r"], outer, ROUTER[side]),
        ):
            with NetNS(namespace) as ns:
                (index,) = ns.link_lookup(ifname=ifname)
                ns.addr("add", index=index, address=address, prefixlen=24)
                ns.link("set", index=index, state="up")
        with NetNS(self.names[side]) as ns:
            ns.route("add", dst="0.0.0.0/0", gateway=ROUTER[side])

    # ---- running things inside -------------------------------------------------------------

    def address(self, side: Literal["a", "b"]) -> str:
        return ADDRESSES[side]

    def router(self, side: Literal["a", "b"]) -> str:
        """The relay's address as ``side`` reaches it."""
        return ROUTER[side]

    def command(self, side: Side, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside namespace ``side``."""
        return ["ip", "netns", "exec", self.names[side], *argv]

    def popen(self, side: Side, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        return subprocess.Popen(self.command(side, argv), **kwargs)

    def run(
        self, side: Side, argv: Sequence[str], check: bool = False, **kwargs: Any
    ) -> subprocess.CompletedProcess[Any]:
        return subprocess.run(self.command(side, argv), check=check, **kwargs)

    def close(self) -> None:
        """Remove the namespaces (their veth ends go with them)."""
        for name in self.names.values():
            if name in netns.listnetns():
                with contextlib.suppress(OSError):
                    netns.remove(name)

    def __enter__(self) -> RelayLab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
