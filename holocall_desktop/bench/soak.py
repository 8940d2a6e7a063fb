"""A long call: memory, open files and threads of the server and each participant over time.

Starts ``holocall-signal`` and two headless participants (a host and a guest sending synthetic
holograms to each other) as separate processes, samples each process's resident memory, file
descriptors and threads from ``/proc`` every ``--every`` seconds for ``--seconds`` seconds, and
prints the samples and each process's growth from the first sample after the warm-up to the last.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

#: growth from the first to the last sample above which a process is reported as growing
GROWTH_LIMIT = 0.10


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seconds", type=float, default=600.0, help="length of the call (600)")
    p.add_argument("--every", type=float, default=30.0, help="seconds between samples (30)")
    p.add_argument("--warmup", type=float, default=20.0, help="seconds before the baseline (20)")
    p.add_argument("--fps", type=float, default=15.0, help="frames per second each way (15)")
    p.add_argument("--size", default="424x240", help="synthetic depth size WxH (424x240)")


@dataclass
class Sample:
    t: float
    rss_mb: float
    fds: int
    threads: int


def sample(pid: int, t: float) -> Sample | None:
    """RSS, open file descriptors and threads of ``pid`` (None once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    rss_kb = int(fields["VmRSS"].split()[0])
    return Sample(t, rss_kb / 1024, fds, int(fields["Threads"]))


def _start(cmd: list[str], **kw: object) -> subprocess.Popen[str]:
    env = dict(os.environ, HOLOCALL_ICE_HOSTS="127.0.0.1")
    return subprocess.Popen(cmd, text=True, env=env, **kw)  # type: ignore[call-overload]


def _first_line(stream: IO[str] | None, prefix: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    assert stream is not None
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        if line.startswith(prefix) or (prefix == "{" and '"invite"' in line):
            return line
    raise RuntimeError(f"no {prefix!r} line within {timeout:g} s")


def run(args: argparse.Namespace) -> int:
    if not Path("/proc/self/status").exists():
        print("holocall: error: bench soak reads /proc (Linux only)", file=sys.stderr)
        return 2
    exe = [sys.executable, "-m"]
    server = _start(
        [*exe, "holocall_desktop.server.cli", "--host", "127.0.0.1", "--port", "0", "--no-stun",
         "--cooldown", "0", "--log-level", "WARNING"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    procs: dict[str, subprocess.Popen[str]] = {"server": server}
    try:
        listening = _first_line(server.stdout, "holocall-signal: listening on ", 20)
        url = listening.split("listening on ", 1)[1].split()[0]
        length = args.seconds + args.warmup + 10
        common = ["--headless", "--seconds", f"{length:g}", "--fps", f"{args.fps:g}",
                  "--size", args.size, "--preload", "30"]  # fmt: skip
        host = _start(
            [*exe, "holocall_desktop", "join", url, "--create", "--name", "Host", *common],
            stdout=subprocess.PIPE,
        )
        procs["host"] = host
        invite = json.loads(_first_line(host.stdout, "{", 30))["link"]
        guest = _start(
            [*exe, "holocall_desktop", "join", invite, "--name", "Guest", *common],
            stdout=subprocess.DEVNULL,
        )
        procs["guest"] = guest
        # the host's JSON lines must keep flowing or its pipe fills up; the last says how many
        # frames the guest's hologram delivered
        received: dict[str, int] = {}
        threading.Thread(target=_follow, args=(host.stdout, received), daemon=True).start()
        started = time.monotonic()
        series: dict[str, list[Sample]] = {name: [] for name in procs}
        next_at = started + args.warmup
        while time.monotonic() - started < args.warmup + args.seconds:
            time.sleep(max(0.0, next_at - time.monotonic()))
            t = time.monotonic() - started
            for name, proc in procs.items():
                s = sample(proc.pid, t)
                if s is not None:
                    series[name].append(s)
            next_at += args.every
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    frames = received.get("Guest", 0)
    code = _report(args, series)
    print(f"\nholograms the host received from the guest: {frames}")
    if frames < args.fps * args.seconds * 0.5:
        print("holocall: error: the call did not carry the holograms", file=sys.stderr)
        return 1
    return code


def _follow(stream: IO[str] | None, received: dict[str, int]) -> None:
    """Read the host's JSON lines; keep its per-participant frame counts."""
    assert stream is not None
    for line in stream:
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        counts = obj.get("received") if obj.get("event") == "stats" else None
        if isinstance(counts, dict):
            received.update({k: int(v) for k, v in counts.items()})


def _report(args: argparse.Namespace, series: dict[str, list[Sample]]) -> int:
    print(f"`{shlex.join(['holocall', 'bench', 'soak', *sys.argv[3:]])}`\n")
    print("| process | t s | RSS MB | fds | threads |")
    print("|---|---|---|---|---|")
    for name, samples in series.items():
        for s in samples:
            print(f"| {name} | {s.t:.0f} | {s.rss_mb:.1f} | {s.fds} | {s.threads} |")
    print("\n| process | RSS first → last | fds | threads | verdict |")
    print("|---|---|---|---|---|")
    growing = False
    for name, samples in series.items():
        if len(samples) < 2:
            print(f"| {name} | – | – | – | ended early |")
            growing = True
            continue
        a, b = samples[0], samples[-1]
        grew = b.rss_mb > a.rss_mb * (1 + GROWTH_LIMIT) or b.fds > a.fds or b.threads > a.threads
        growing |= grew
        print(
            f"| {name} | {a.rss_mb:.1f} → {b.rss_mb:.1f} MB ({b.rss_mb / a.rss_mb - 1:+.0%}) "
            f"| {a.fds} → {b.fds} | {a.threads} → {b.threads} | {'GROWS' if grew else 'steady'} |"
        )
    return 1 if growing else 0
