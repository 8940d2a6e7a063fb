"""Two network namespaces joined by an emulated link, for tests and benchmarks (root only).

Each namespace (``a`` and ``b``) has loopback and one TUN device ``hc0`` with an address of the
benchmarking range (198.18.0.1 and 198.18.0.2); a forwarder thread in this process reads the
packets each side sends and writes them to the other side as that direction's :class:`Shape`
says (rate and queue, delay and jitter, random or bursty loss, reordering, cut), changeable
while traffic flows. This kernel has no ``netem`` qdisc; this userspace element does it all in
one place instead (a few thousand packets a second, enough for calls of a few Mbit/s).

    with NetLab() as lab:
        lab.shape("a->b", Shape(rate_kbps=1000, delay_ms=50))
        server = lab.popen("a", [...])          # a process inside namespace a
        lab.cut(); ...; lab.restore()

The namespaces are removed when the lab closes, and ones left by a process that died are
removed by the next lab (their names carry the creating process id).
"""

from __future__ import annotations

import contextlib
import fcntl
import heapq
import os
import select
import struct
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from pyroute2 import NetNS, netns

from holocall_desktop.netlab.shape import OPEN, Direction, Shape

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
DEVICE = "hc0"
ADDRESSES = {"a": "198.18.0.1", "b": "198.18.0.2"}
_PROTOCOLS = {"udp": 17, "tcp": 6}
PREFIX = "hc-netlab-"
Side = Literal["a", "b"]
Way = Literal["a->b", "b->a"]


class NetLabError(RuntimeError):
    """The lab cannot be built here (not root, no TUN device…), in one line."""


def _open_tun(namespace: str) -> int:
    """Create ``hc0`` inside ``namespace`` (the calling thread enters it for the ioctl)."""
    netns.pushns(namespace)
    try:
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
        try:
            fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", DEVICE.encode(), IFF_TUN | IFF_NO_PI))
        except OSError:
            os.close(fd)
            raise
        return fd
    finally:
        netns.popns()


def remove_stale(prefix: str = PREFIX) -> list[str]:
    """Remove the lab namespaces (named ``prefix<pid>-…``) whose creating process is gone;
    their names."""
    removed = []
    for name in netns.listnetns():
        if not name.startswith(prefix):
            continue
        pid = name.removeprefix(prefix).split("-")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            with contextlib.suppress(OSError):
                netns.remove(name)
                removed.append(name)
    return removed


class NetLab:
    """Namespaces ``a`` and ``b`` and the link between them; see the module."""

    _count = 0

    def __init__(self, seed: int | None = None) -> None:
        if os.geteuid() != 0:
            raise NetLabError("the network lab needs root (network namespaces, TUN devices)")
        remove_stale()
        NetLab._count += 1
        tag = f"{PREFIX}{os.getpid()}-{NetLab._count}"
        self.names: dict[Side, str] = {"a": f"{tag}-a", "b": f"{tag}-b"}
        self.directions: dict[Way, Direction] = {
            "a->b": Direction(OPEN, None if seed is None else seed),
            "b->a": Direction(OPEN, None if seed is None else seed + 1),
        }
        self._fds: dict[Side, int] = {}
        self._lock = threading.Lock()
        self._blocked: set[int] = set()  # IP protocol numbers cut (cut("udp"))
        self.blocked = 0  # packets dropped by a protocol cut
        self._wake_r, self._wake_w = os.pipe()
        self._stop = False
        self._thread: threading.Thread | None = None
        try:
            for side in ("a", "b"):
                self._make_side(side)
        except Exception as exc:
            self.close()
            raise NetLabError(f"cannot build the network lab: {exc}") from exc
        self._thread = threading.Thread(target=self._forward, name="netlab", daemon=True)
        self._thread.start()

    def _make_side(self, side: Side) -> None:
        name = self.names[side]
        netns.create(name)
        self._fds[side] = _open_tun(name)
        with NetNS(name) as ipr:
            (lo,) = ipr.link_lookup(ifname="lo")
            ipr.link("set", index=lo, state="up")
            (dev,) = ipr.link_lookup(ifname=DEVICE)
            ipr.addr("add", index=dev, address=ADDRESSES[side], prefixlen=24)
            ipr.link("set", index=dev, state="up")

    # ---- control ---------------------------------------------------------------------------

    def address(self, side: Side) -> str:
        return ADDRESSES[side]

    def shape(self, way: Way | Literal["both"], shape: Shape) -> None:
        """Change a direction (or both) now; packets already in flight keep their fate."""
        with self._lock:
            for w in ("a->b", "b->a") if way == "both" else (way,):
                self.directions[w].set(shape)

    def cut(self, protocol: Literal["udp", "tcp"] | None = None) -> None:
        """Cut the link both ways, or only its UDP (media) or TCP (signaling) packets."""
        with self._lock:
            if protocol is not None:
                self._blocked.add(_PROTOCOLS[protocol])
                return
            for d in self.directions.values():
                d.set(d.shape.but(cut=True))

    def restore(self) -> None:
        """Undo every :meth:`cut`."""
        with self._lock:
            self._blocked.clear()
            for d in self.directions.values():
                d.set(d.shape.but(cut=False))

    def stats(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {
                way: {
                    "passed": d.passed,
                    "lost": d.dropped_loss,
                    "queue_drops": d.dropped_queue,
                    "cut": d.dropped_cut,
                }
                for way, d in self.directions.items()
            }

    @contextlib.contextmanager
    def inside(self, side: Side) -> Iterator[None]:
        """The calling thread, and every process it starts meanwhile, in namespace ``side``."""
        netns.pushns(self.names[side])
        try:
            yield
        finally:
            netns.popns()

    def command(self, side: Side, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside namespace ``side``."""
        return ["ip", "netns", "exec", self.names[side], *argv]

    def popen(self, side: Side, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        return subprocess.Popen(self.command(side, argv), **kwargs)

    def run(
        self, side: Side, argv: Sequence[str], **kwargs: Any
    ) -> subprocess.CompletedProcess[Any]:
        return subprocess.run(self.command(side, argv), check=False, **kwargs)

    # ---- the forwarder ---------------------------------------------------------------------

    def _forward(self) -> None:
        fa, fb = self._fds["a"], self._fds["b"]
        route = {fa: ("a->b", fb), fb: ("b->a", fa)}
        queue: list[tuple[float, int, int, bytes]] = []
        seq = 0
        while not self._stop:
            timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else 0.2
            readable, _, _ = select.select([fa, fb, self._wake_r], [], [], timeout)
            now = time.monotonic()
            for fd in readable:
                if fd == self._wake_r:
                    continue
                way, out = route[fd]
                while True:  # everything the side has sent so far
                    try:
                        packet = os.read(fd, 65536)
                    except BlockingIOError:
                        break
                    with self._lock:
                        if len(packet) > 9 and packet[9] in self._blocked:  # IPv4 protocol
                            self.blocked += 1
                            continue
                        due = self.directions[way].admit(len(packet), now)  # type: ignore[index]
                    if due is not None:
                        seq += 1
                        heapq.heappush(queue, (due, seq, out, packet))
            now = time.monotonic()
            while queue and queue[0][0] <= now:
                _, _, out, packet = heapq.heappop(queue)
                with contextlib.suppress(OSError):  # the other side's device went away
                    os.write(out, packet)

    def close(self) -> None:
        """Stop the forwarder and remove both namespaces (with their devices)."""
        self._stop = True
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(5)
        for fd in (*self._fds.values(), self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()
        for name in self.names.values():
            if name in netns.listnetns():
                with contextlib.suppress(OSError):
                    netns.remove(name)

    def __enter__(self) -> NetLab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
