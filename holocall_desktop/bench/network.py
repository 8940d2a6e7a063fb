"""Calls across an emulated network: hologram frame rate, latency and loss per link condition,
with and without the loss protection (root; two network namespaces, see holocall_desktop.netlab).

Alice (with the signaling server) is in one namespace, Bob in the other; both send the synthetic
person and Bob's reception of Alice is measured. Each scenario shapes both directions, waits
``--settle`` seconds, then measures ``--seconds``. ``--baseline`` runs the same scenarios a second
time with ``holocall join --no-loss-protection`` (the hologram channel as before its parity and
retransmission) and prints the ratios.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

#: name -> Shape keyword arguments, both directions
SCENARIOS: dict[str, dict[str, Any]] = {
    "open": {},
    "loss-5": {"loss": 0.05},
    "loss-15": {"loss": 0.15},
    "bursty-2": {"loss": 0.02, "burst": 4.0},
    "delay-100": {"delay_ms": 50.0, "jitter_ms": 15.0},  # 100 ± 30 ms round trip
    "rate-3000": {"rate_kbps": 3000.0},
    "rate-1000": {"rate_kbps": 1000.0},
    "rate-500": {"rate_kbps": 500.0},
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scenarios",
        default="open,loss-5,loss-15",
        help=f"comma-separated, of: {', '.join(SCENARIOS)} (default open,loss-5,loss-15)",
    )
    p.add_argument("--seconds", type=float, default=15.0, help="measured per scenario (15)")
    p.add_argument("--settle", type=float, default=3.0, help="after shaping, before (3)")
    p.add_argument("--size", default="848x480", help="hologram size WxH (848x480)")
    p.add_argument("--fps", type=float, default=30.0, help="frames per second sent (30)")
    p.add_argument("--baseline", action="store_true", help="also run without the loss protection")


@dataclass
class Row:
    scenario: str
    fps: float = 0.0
    p50_ms: float | None = None
    p95_ms: float | None = None
    frame_loss: float = 0.0  # of the frames Alice sent Bob, the share that did not arrive
    sent: int = 0


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _measure(args: argparse.Namespace, names: list[str], protected: bool) -> list[Row]:
    from holocall_desktop.netlab.call import lab_call
    from holocall_desktop.netlab.lab import NetLab
    from holocall_desktop.netlab.shape import Shape

    rows: list[Row] = []
    total = len(names) * (args.settle + args.seconds) + 60
    common = ["--headless", "--size", args.size, "--fps", str(args.fps), "--seconds",
              str(total), "--latencies"]  # fmt: skip
    if not protected:
        common.append("--no-loss-protection")
    with NetLab() as lab, lab_call(lab, common) as (alice, bob):
        for name in names:
            lab.shape("both", Shape(**SCENARIOS[name]))
            time.sleep(args.settle)
            a0, b0, n0 = alice.stats(), bob.stats(), len(bob.lines)
            if not a0.get("peers"):
                raise RuntimeError("Alice reports no peer")
            started = time.monotonic()
            time.sleep(args.seconds)
            a1, b1 = alice.stats(), bob.stats()
            elapsed = time.monotonic() - started
            sent = a1["peers"][0]["frames_out"] - a0["peers"][0]["frames_out"]
            got = b1["received"].get("Alice", 0) - b0["received"].get("Alice", 0)
            lat = [x for line in bob.lines[n0:] for x in line.get("latencies", {}).get("Alice", [])]
            rows.append(
                Row(
                    name,
                    fps=got / elapsed,
                    p50_ms=_percentile(lat, 0.5),
                    p95_ms=_percentile(lat, 0.95),
                    frame_loss=max(0.0, 1 - got / sent) if sent else 0.0,
                    sent=sent,
                )
            )
            print(f"bench network: {name}: {rows[-1].fps:.1f} fps", file=sys.stderr)
        for p in (alice, bob):
            if p.traceback:
                raise RuntimeError("a participant failed: " + p.traceback[-800:])
    return rows


def _ms(x: float | None) -> str:
    return "–" if x is None else f"{x:.0f}"


def run(args: argparse.Namespace) -> int:
    from holocall_desktop.errors import CliError
    from holocall_desktop.netlab.lab import NetLabError

    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown or not names:
        raise CliError(
            f"unknown scenario {', '.join(unknown) or '(none)'}: use {', '.join(SCENARIOS)}"
        )
    if args.seconds <= 0 or args.settle < 0:
        raise CliError("--seconds must be > 0 and --settle >= 0")
    try:
        ours = _measure(args, names, protected=True)
        base = _measure(args, names, protected=False) if args.baseline else []
    except (NetLabError, RuntimeError) as exc:
        raise CliError(f"bench network: {exc}") from None
    command = (
        f"holocall bench network --scenarios {','.join(names)} --seconds {args.seconds:g} "
        f"--settle {args.settle:g} --size {args.size} --fps {args.fps:g}"
        + (" --baseline" if args.baseline else "")
    )
    print(f"\n`{command}` (load average {os.getloadavg()[0]:.1f} after)\n")
    head = "| Scenario | fps received | p50 (ms) | p95 (ms) | frames lost |"
    rule = "|---|---:|---:|---:|---:|"
    if base:
        head += " without protection: fps | p50 | p95 | lost | fps ratio |"
        rule += "---:|---:|---:|---:|---:|"
    print(head)
    print(rule)
    for i, r in enumerate(ours):
        line = (
            f"| {r.scenario} | {r.fps:.1f} | {_ms(r.p50_ms)} | {_ms(r.p95_ms)} | "
            f"{100 * r.frame_loss:.0f} % |"
        )
        if base:
            b = base[i]
            ratio = f"{r.fps / b.fps:.1f}×" if b.fps > 0 else "∞"
            line += (
                f" {b.fps:.1f} | {_ms(b.p50_ms)} | {_ms(b.p95_ms)} | {100 * b.frame_loss:.0f} % |"
                f" {ratio} |"
            )
        print(line)
    return 0
