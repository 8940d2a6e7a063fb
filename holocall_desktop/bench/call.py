"""Calls on loopback: glass-to-glass latency, join time, CPU per process; 2 and 3 participants."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

TARGET_P50_MS = 60.0
TARGET_P95_MS = 120.0
TARGET_JOIN_S = 1.5
TARGET_CPU_1TO1 = 1.0  # cores per participant process in a 1:1 call at 30 fps both ways


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--participants",
        default="2,3",
        help="comma-separated call sizes to run (default 2,3; 2..3, the mesh)",
    )
    p.add_argument("--fps", type=float, default=30.0, help="frames per second sent (30)")
    p.add_argument("--size", default="848x480", help="synthetic depth size WxH (848x480)")
    p.add_argument("--codec", default="volumetric-dc", help="volumetric-dc (default) or hue-video")
    p.add_argument("--seconds", type=float, default=10.0, help="measured seconds (10)")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring (3)")
    p.add_argument(
        "--preload",
        type=int,
        default=30,
        help="synthetic frames rendered up front and looped, so that rendering the synthetic "
        "person does not count as call CPU (a camera costs ~nothing); 0 renders live (30)",
    )


@dataclass
class _Proc:
    name: str
    popen: subprocess.Popen[str]
    lines: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start_reader(self) -> None:
        def read() -> None:
            assert self.popen.stdout is not None
            for line in self.popen.stdout:
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    continue
                with self.lock:
                    self.lines.append(obj)

        threading.Thread(target=read, daemon=True).start()

    def events(self, name: str) -> list[dict[str, Any]]:
        with self.lock:
            return [x for x in self.lines if x.get("event") == name]

    def wait_for(self, pred: Any, timeout: float, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for x in self.lines:
                    if pred(x):
                        return x
            if self.popen.poll() is not None:
                break
            time.sleep(0.05)
        err = (
            self.popen.stderr.read() if self.popen.poll() is not None and self.popen.stderr else ""
        )
        raise RuntimeError(f"{self.name}: timed out waiting for {what} {err[-500:]}")


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process from /proc (Linux); None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks
    except (OSError, ValueError, IndexError):
        return None


def _children_cpu() -> float:
    """User + system CPU seconds of the children waited for so far (any POSIX system)."""
    try:
        import resource
    except ImportError:  # Windows
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _start(name: str, args: list[str], env: dict[str, str]) -> _Proc:
    cmd = [sys.executable, "-m", "holocall_desktop", "join", *args, "--headless", "--latencies"]
    popen = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    proc = _Proc(name, popen)
    proc.start_reader()
    return proc


def _cpu_rates(
    before: dict[str, float | None], after: dict[str, float | None], wall: float
) -> dict[str, float | None]:
    """Cores each process used between two ``_cpu_seconds`` readings ``wall`` s apart."""
    out: dict[str, float | None] = {}
    for name, a in before.items():
        b = after.get(name)
        out[name] = None if a is None or b is None else (b - a) / wall
    return out


def _stop_all(procs: list[_Proc], wait_s: float) -> None:
    """SIGTERM every participant still running (they leave gracefully); kill any that has not
    ended ``wait_s`` seconds later."""
    for p in procs:
        if p.popen.poll() is None:
            p.popen.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.popen.wait(wait_s)
        except subprocess.TimeoutExpired:
            p.popen.kill()


def _everyone_receiving(procs: list[_Proc], n: int) -> bool:
    for p in procs:
        stats = p.events("stats")
        if not stats:
            return False
        peers = stats[-1]["peers"]
        if len(peers) != n - 1 or any(x["fps_in"] <= 0 for x in peers):
            return False
    return True


def _run_call(
    n: int, server_url: str, args: argparse.Namespace, env: dict[str, str]
) -> dict[str, Any]:
    common = ["--size", args.size, "--fps", str(args.fps), "--codec", args.codec]
    common += ["--preload", str(args.preload), "--seconds", "3600"]
    procs: list[_Proc] = []
    started = time.monotonic()
    children0 = _children_cpu()
    try:
        host = _start(
            "p1", [server_url, "--create", "--name", "p1", "--source", "synthetic:1", *common], env
        )
        procs.append(host)
        link = host.wait_for(lambda x: x.get("event") == "invite", 60, "the invite")["link"]
        for i in range(2, n):
            procs.append(
                _start(
                    f"p{i}", [link, "--name", f"p{i}", "--source", f"synthetic:{i}", *common], env
                )
            )
        if n > 2:
            deadline = time.monotonic() + 60
            while not _everyone_receiving(procs, n - 1):
                if time.monotonic() > deadline:
                    raise RuntimeError("the first participants never exchanged frames")
                time.sleep(0.1)
        else:
            host.wait_for(lambda x: x.get("event") == "stats", 60, "the host running")
        # let the others finish rendering their preloaded frames before the joiner starts
        time.sleep(2.0 + 0.04 * args.preload)
        joiner = _start(
            f"p{n}", [link, "--name", f"p{n}", "--source", f"synthetic:{n}", *common], env
        )
        procs.append(joiner)
        deadline = time.monotonic() + 90
        while not _everyone_receiving(procs, n):
            if time.monotonic() > deadline:
                raise RuntimeError("the call never reached everyone")
            time.sleep(0.1)
        time.sleep(args.warmup)
        cpu0 = {p.name: _cpu_seconds(p.popen.pid) for p in procs}
        t0 = time.monotonic()
        marks = {p.name: len(p.events("stats")) for p in procs}
        time.sleep(args.seconds)
        cpu1 = {p.name: _cpu_seconds(p.popen.pid) for p in procs}
        wall = time.monotonic() - t0
        latencies: list[float] = []
        fps: list[float] = []
        loss: list[float] = []
        for p in procs:
            for line in p.events("stats")[marks[p.name] :]:
                for values in line.get("latencies", {}).values():
                    latencies.extend(values)
                for peer in line["peers"]:
                    fps.append(peer["fps_in"])
                    if peer["loss"] is not None:
                        loss.append(peer["loss"])
        cpu = _cpu_rates(cpu0, cpu1, wall)
    finally:
        _stop_all(procs, 20)
    if any(c is None for c in cpu.values()):
        # no /proc: the children's CPU over their whole lives (start-up included), averaged
        total = _children_cpu() - children0
        lifetime = time.monotonic() - started
        cpu = {p.name: total / len(procs) / lifetime for p in procs}
    summary = joiner.events("summary")
    join_s = summary[-1]["joinTimeS"] if summary else None
    return {
        "n": n,
        "join_s": join_s,
        "latencies": latencies,
        "fps": fps,
        "loss": loss,
        "cpu": cpu,
    }


@contextlib.contextmanager
def _running_server() -> Iterator[str]:
    """A signaling server on a free loopback port in a background thread (no STUN)."""
    import asyncio

    from holocall_desktop.server.app import SignalingServer
    from holocall_desktop.server.config import ServerConfig

    loop = asyncio.new_event_loop()
    server = SignalingServer(
        ServerConfig(host="127.0.0.1", port=0, stun_urls=(), connection_cooldown=0.0)
    )
    loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def run(args: argparse.Namespace) -> int:
    try:
        sizes = [int(x) for x in args.participants.split(",")]
    except ValueError:
        print("holocall bench call: --participants must be numbers like 2,3", file=sys.stderr)
        return 2
    if any(not 2 <= n <= 3 for n in sizes):
        print("holocall bench call: a mesh call has 2 or 3 participants", file=sys.stderr)
        return 2
    env = dict(os.environ, PYTHONUNBUFFERED="1", HOLOCALL_ICE_HOSTS="127.0.0.1")
    results = []
    load = os.getloadavg()
    with _running_server() as url:
        for n in sizes:
            print(f"running a {n}-participant call ...", file=sys.stderr, flush=True)
            results.append(_run_call(n, url, args, env))
    command = "holocall bench call " + " ".join(shlex.quote(a) for a in sys.argv[3:])
    print(
        f"`{command.strip()}` — {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{args.size} synthetic person at {args.fps:g} fps, codec {args.codec}, "
        f"{args.seconds:g} s measured per call; load average {load[0]:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after (1 min)\n"
    )
    print(
        "| Participants | Join (s) | Latency p50 (ms) | p95 (ms) | Frames | fps in (median) "
        "| Loss (max) | CPU per process (cores) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    ok = True
    for r in results:
        lat = r["latencies"]
        p50 = statistics.median(lat) if lat else float("nan")
        p95 = _percentile(lat, 0.95) if lat else float("nan")
        cpus = [c for c in r["cpu"].values() if c is not None]
        cpu_text = ", ".join(f"{c:.2f}" for c in cpus) if cpus else "n/a"
        fps = statistics.median(r["fps"]) if r["fps"] else 0.0
        loss = max(r["loss"]) if r["loss"] else 0.0
        join = r["join_s"]
        join_text = f"{join:.2f}" if join is not None else "n/a"
        print(
            f"| {r['n']} | {join_text} | {p50:.1f} | {p95:.1f} | {len(lat)} | {fps:.1f} | "
            f"{loss:.3f} | {cpu_text} |"
        )
        ok &= bool(lat) and p50 <= TARGET_P50_MS and p95 <= TARGET_P95_MS
        ok &= join is not None and join <= TARGET_JOIN_S
        if r["n"] == 2 and cpus:
            ok &= max(cpus) <= TARGET_CPU_1TO1
    print(
        f"\nTargets: p50 ≤ {TARGET_P50_MS:g} ms, p95 ≤ {TARGET_P95_MS:g} ms, join ≤ "
        f"{TARGET_JOIN_S:g} s, each process of a 1:1 call ≤ {TARGET_CPU_1TO1:g} core — "
        f"{'all met' if ok else 'NOT all met'}."
    )
    return 0
