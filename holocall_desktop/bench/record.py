"""Recording cost: the recorder's CPU with and without recording the same call, and the bytes
per minute per participant of the call file.

The same mesh call (a host and its guests, every guest allowing recording and sending a test
tone as its voice) runs twice side by side on a local signaling server: first not recorded (the
baseline), then with the host recording (``holocall join --record``). Reported: each run's CPU
of the host and of the guests (cores), the ratio of the host's CPU recorded to not, and from
the call file its size per minute per recorded participant, split into holograms and voice.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from holocall_desktop.bench.call import (
    _cpu_rates,
    _cpu_seconds,
    _everyone_receiving,
    _Proc,
    _running_server,
    _start,
    _stop_all,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--participants", type=int, default=3, help="call size, 2..3 (3)")
    p.add_argument("--fps", type=float, default=15.0, help="frames per second sent (15)")
    p.add_argument("--size", default="424x240", help="synthetic depth size WxH (424x240)")
    p.add_argument("--seconds", type=float, default=20.0, help="measured seconds per run (20)")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring (3)")
    p.add_argument("--preload", type=int, default=30, help="synthetic frames looped (30)")


def _call(
    n: int, url: str, args: argparse.Namespace, env: dict[str, str], record: Path | None
) -> dict[str, Any]:
    common = ["--size", args.size, "--fps", str(args.fps), "--preload", str(args.preload)]
    common += ["--seconds", "3600"]
    host_args = [url, "--create", "--name", "p1", "--source", "synthetic:1", *common]
    if record is not None:
        host_args += ["--record", str(record)]
    procs: list[_Proc] = []
    try:
        host = _start("p1", host_args, env)
        procs.append(host)
        link = host.wait_for(lambda x: x.get("event") == "invite", 60, "the invite")["link"]
        for i in range(2, n + 1):
            guest = [link, "--name", f"p{i}", "--source", f"synthetic:{i}", "--consent", "yes"]
            procs.append(_start(f"p{i}", [*guest, "--tone", str(330 + 110 * i), *common], env))
        deadline = time.monotonic() + 90
        while not _everyone_receiving(procs, n):
            if time.monotonic() > deadline:
                raise RuntimeError("the call never reached everyone")
            time.sleep(0.1)
        time.sleep(args.warmup)
        cpu0 = {p.name: _cpu_seconds(p.popen.pid) for p in procs}
        t0 = time.monotonic()
        time.sleep(args.seconds)
        cpu1 = {p.name: _cpu_seconds(p.popen.pid) for p in procs}
        wall = time.monotonic() - t0
    finally:
        _stop_all(procs, 30)
    return {"cpu": _cpu_rates(cpu0, cpu1, wall)}


def _file_rates(path: Path) -> dict[str, float]:
    """MB per minute per recorded participant: the file, and the holograms and voice it holds
    (as they arrived, before the file's zstd chunks)."""
    from holocall_desktop.recording.callfile import read_call

    call = read_call(path)
    streams = [r for r in call.records if r.user_id is not None]
    if not streams:
        return {}
    minutes = max(1e-9, (call.records[-1].time - call.records[0].time) / 60.0)
    people = max(1, len({r.user_id for r in streams}))

    def rate(kind: str | None) -> float:
        size = sum(len(r.data) for r in streams if kind is None or r.kind == kind)
        return size / 1e6 / minutes / people

    return {
        "file": path.stat().st_size / 1e6 / minutes / people,
        "hologram": rate("hologram"),
        "voice": rate("voice"),
    }


def run(args: argparse.Namespace) -> int:
    if not 2 <= args.participants <= 3:
        print("holocall bench record: a mesh call has 2 or 3 participants", file=sys.stderr)
        return 2
    env = dict(os.environ, PYTHONUNBUFFERED="1", HOLOCALL_ICE_HOSTS="127.0.0.1")
    with tempfile.TemporaryDirectory(prefix="holocall-bench-record-") as tmp:
        path = Path(tmp) / "call.holocall"
        with _running_server() as url:
            print("running the call without recording ...", file=sys.stderr, flush=True)
            plain = _call(args.participants, url, args, env, None)
            print("running it again, recorded ...", file=sys.stderr, flush=True)
            recorded = _call(args.participants, url, args, env, path)
        rates = _file_rates(path)
    command = "holocall bench record " + " ".join(shlex.quote(a) for a in sys.argv[3:])
    print(
        f"`{command.strip()}` — {os.cpu_count()} cores, {args.participants} participants, "
        f"{args.size} synthetic people at {args.fps:g} fps with a test tone, "
        f"{args.seconds:g} s measured per run\n"
    )
    print("| Run | Recorder CPU (cores) | Others' CPU (cores, median) |")
    print("|---|---:|---:|")
    for name, r in (("not recorded", plain), ("recorded", recorded)):
        host = r["cpu"].get("p1")
        others = [c for k, c in r["cpu"].items() if k != "p1" and c is not None]
        host_text = f"{host:.2f}" if host is not None else "n/a"
        other_text = f"{statistics.median(others):.2f}" if others else "n/a"
        print(f"| {name} | {host_text} | {other_text} |")
    a, b = plain["cpu"].get("p1"), recorded["cpu"].get("p1")
    if a and b:
        print(f"\nRecording costs the recorder {b / a:.2f}× its CPU without it.")
    if rates:
        print(
            f"Call file: {rates['file']:.2f} MB per minute per recorded participant "
            f"(holograms {rates['hologram']:.2f}, voice {rates['voice']:.3f}, as they arrived, "
            "before the file's compression)."
        )
    else:
        print("Call file: nothing recorded.")
    return 0
