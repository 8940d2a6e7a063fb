"""Calls across an emulated network: goodput, hologram frame rate, latency, loss, the rungs of
the quality ladder, and the time to adapt or recover, per link condition (root; two network
namespaces, see holocall_desktop.netlab).

Alice (with the signaling server) is in one namespace, Bob in the other; both send the synthetic
person and a 440 Hz tone as their voice, and Bob's reception of Alice is measured (the voice with
``--hear``: how much of it was missing, how much was recovered from FEC or concealed, and how
much of what Bob heard in the last second was the tone). Each scenario is a new call: it shapes
both directions once Bob has Alice's first frame, waits ``--settle`` seconds, then measures
``--seconds`` (longer where the scenario needs it: a step of the rate happens 15 s in, a cut
5 s in).
``--baseline adapt`` runs the same scenarios a second time with ``holocall join --no-adapt``
(one quality to everyone, as before the quality ladder), ``--baseline protection`` with
``--no-loss-protection`` (no parity, no retransmission, no voice FEC or concealment), and
prints the ratios.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

#: name -> the link at the start (Shape keyword arguments, both directions), and optionally a
#: step to another link ``(seconds in, shape)`` or a cut ``(seconds in, seconds long)``
SCENARIOS: dict[str, dict[str, Any]] = {
    "open": {"shape": {}},
    "rate-3000": {"shape": {"rate_kbps": 3000.0}},
    "rate-1000": {"shape": {"rate_kbps": 1000.0}},
    "rate-500": {"shape": {"rate_kbps": 500.0}},
    "step-10-1": {"shape": {"rate_kbps": 10000.0}, "step": (15.0, {"rate_kbps": 1000.0})},
    "loss-5": {"shape": {"loss": 0.05}},
    "loss-15": {"shape": {"loss": 0.15}},
    "bursty-2": {"shape": {"loss": 0.02, "burst": 4.0}},
    "delay-100": {"shape": {"delay_ms": 50.0, "jitter_ms": 15.0}},  # 100 ± 30 ms round trip
    "cut-3": {"shape": {}, "cut": (5.0, 3.0)},
    "cut-30": {"shape": {}, "cut": (5.0, 30.0)},
}
BASELINES = {"adapt": "--no-adapt", "protection": "--no-loss-protection"}
#: after a step or a cut, this long is measured at least
AFTER_EVENT_S = 10.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scenarios",
        default="open,rate-1000,loss-5",
        help=f"comma-separated, of: {', '.join(SCENARIOS)} (default open,rate-1000,loss-5)",
    )
    p.add_argument("--seconds", type=float, default=15.0, help="measured per scenario (15)")
    p.add_argument("--settle", type=float, default=5.0, help="after shaping, before (5)")
    p.add_argument("--size", default="848x480", help="hologram size WxH (848x480)")
    p.add_argument("--fps", type=float, default=30.0, help="frames per second sent (30)")
    p.add_argument(
        "--baseline",
        choices=sorted(BASELINES),
        help="also run without the quality ladder (adapt) or the loss protection (protection)",
    )


@dataclass
class Row:
    scenario: str
    fps: float = 0.0
    goodput_kbps: float = 0.0  # what Bob received from Alice, everything on the wire
    p50_ms: float | None = None
    p95_ms: float | None = None
    frame_loss: float = 0.0  # of the frames Alice sent Bob, the share that did not arrive
    sent: int = 0
    rungs: list[str] = field(default_factory=list)  # the rungs Alice sent Bob, in order
    event_s: float | None = None  # after a step: under the link's rate; after a cut: frames
    voice_ms: float = 0.0  # Alice's voice Bob received (concealed audio included)
    voice_missing_ms: float = 0.0  # gaps in it (lost and not concealed)
    voice_made_ms: float = 0.0  # recovered from FEC or concealed
    voice_tone: float = 0.0  # share of the last second that was the tone (1.0: clean)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _duration(args: argparse.Namespace, spec: dict[str, Any]) -> float:
    if "step" in spec:
        return max(args.seconds, spec["step"][0] + AFTER_EVENT_S)
    if "cut" in spec:
        return max(args.seconds, sum(spec["cut"]) + AFTER_EVENT_S)
    return float(args.seconds)


def _measure(args: argparse.Namespace, names: list[str], without: str | None) -> list[Row]:
    from holocall_desktop.netlab.call import lab_call
    from holocall_desktop.netlab.lab import NetLab
    from holocall_desktop.netlab.shape import Shape

    rows: list[Row] = []
    for name in names:  # a new call for each: every scenario starts from the same state
        spec = SCENARIOS[name]
        total = args.settle + _duration(args, spec) + 60
        common = ["--headless", "--size", args.size, "--fps", str(args.fps), "--seconds",
                  str(total), "--latencies", "--tone", "440", "--hear"]  # fmt: skip
        if without is not None:
            common.append(BASELINES[without])
        with NetLab() as lab, lab_call(lab, common) as (alice, bob):
            lab.shape("both", Shape(**spec["shape"]))
            time.sleep(args.settle)
            rows.append(_scenario(lab, alice, bob, name, spec, _duration(args, spec)))
            print(f"bench network: {name}: {rows[-1].fps:.1f} fps", file=sys.stderr)
            for p in (alice, bob):
                if p.traceback:
                    raise RuntimeError("a participant failed: " + p.traceback[-800:])
    return rows


def _scenario(
    lab: Any, alice: Any, bob: Any, name: str, spec: dict[str, Any], seconds: float
) -> Row:
    from holocall_desktop.netlab.shape import Shape

    a0, b0, n0 = alice.stats(), bob.stats(), len(bob.lines)
    if not a0.get("peers"):
        raise RuntimeError("Alice reports no peer")
    started = time.monotonic()
    row = Row(name)
    step = spec.get("step")
    cut = spec.get("cut")
    event_at: float | None = None
    got_at_event = 0
    goodput: list[float] = []
    sent = 0  # frames Alice sent Bob, over every connection (a cut may replace it)
    last_out = a0["peers"][0]["frames_out"]
    while (now := time.monotonic() - started) < seconds:
        time.sleep(0.25)
        a, b = alice.stats(), bob.stats()
        to_bob = a["peers"][0] if a.get("peers") else {}
        out = to_bob.get("frames_out", last_out)
        sent += out - last_out if out >= last_out else out  # a new connection counts from 0
        last_out = out
        rung = to_bob.get("send_rung")
        if rung and (not row.rungs or row.rungs[-1] != rung):
            row.rungs.append(rung)
        if b.get("peers"):
            goodput.append(float(b["peers"][0].get("bitrate_in_kbps", 0.0)))
        got = b["received"].get("Alice", 0)
        if step is not None and event_at is None and now >= step[0]:
            lab.shape("both", Shape(**step[1]))
            event_at = now
        elif cut is not None and event_at is None and now >= cut[0]:
            lab.cut()
            time.sleep(cut[1])
            lab.restore()
            event_at = time.monotonic() - started
            got_at_event = bob.stats()["received"].get("Alice", 0)
        elif event_at is not None and row.event_s is None:
            if step is not None:
                kbps = to_bob.get("send_rung_kbps")
                if kbps is not None and kbps < step[1]["rate_kbps"]:
                    row.event_s = now - event_at
            elif got >= got_at_event + 3:
                row.event_s = now - event_at
    b1 = bob.stats()
    elapsed = time.monotonic() - started - (cut[1] if cut else 0.0)
    got = b1["received"].get("Alice", 0) - b0["received"].get("Alice", 0)
    lat = [x for line in bob.lines[n0:] for x in line.get("latencies", {}).get("Alice", [])]
    row.fps = got / max(elapsed, 1e-3)
    row.goodput_kbps = sum(goodput) / len(goodput) if goodput else 0.0
    row.p50_ms = _percentile(lat, 0.5)
    row.p95_ms = _percentile(lat, 0.95)
    row.frame_loss = max(0.0, 1 - got / sent) if sent else 0.0
    row.sent = sent
    v0, v1 = b0.get("audio", {}).get("Alice", {}), b1.get("audio", {}).get("Alice", {})
    if v1.get("receivedMs", 0) < v0.get("receivedMs", 0):
        v0 = {}  # a new connection (after a cut) brought a new voice track: counted from 0
    row.voice_ms = v1.get("receivedMs", 0) - v0.get("receivedMs", 0)
    row.voice_missing_ms = v1.get("lostMs", 0) - v0.get("lostMs", 0)
    row.voice_made_ms = sum(v1.get(k, 0) - v0.get(k, 0) for k in ("recoveredMs", "concealedMs"))
    row.voice_tone = float(v1.get("toneShare", 0.0))
    return row


def _ms(x: float | None) -> str:
    return "–" if x is None else f"{x:.0f}"


def _voice(r: Row) -> str:
    """Missing % / made up % of the voice, and the tone's share at the end."""
    heard = max(r.voice_ms + r.voice_missing_ms, 1.0)
    return (
        f"{100 * r.voice_missing_ms / heard:.1f} % / {100 * r.voice_made_ms / heard:.1f} % / "
        f"{r.voice_tone:.2f}"
    )


def _rungs(r: Row) -> str:
    if len(r.rungs) > 5:
        return "→".join([*r.rungs[:2], "…", *r.rungs[-2:]]) + f" ({len(r.rungs) - 1} moves)"
    return "→".join(r.rungs) or "–"


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
        ours = _measure(args, names, None)
        base = _measure(args, names, args.baseline) if args.baseline else []
    except (NetLabError, RuntimeError) as exc:
        raise CliError(f"bench network: {exc}") from None
    command = (
        f"holocall bench network --scenarios {','.join(names)} --seconds {args.seconds:g} "
        f"--settle {args.settle:g} --size {args.size} --fps {args.fps:g}"
        + (f" --baseline {args.baseline}" if args.baseline else "")
    )
    print(f"\n`{command}` (load average {os.getloadavg()[0]:.1f} after)\n")
    head = (
        "| Scenario | goodput kbit/s | fps received | p50 (ms) | p95 (ms) | frames lost "
        "| rungs | adapt / recover s | voice missing / made up / tone |"
    )
    rule = "|---|---:|---:|---:|---:|---:|---|---:|---:|"
    if base:
        head += (
            f" without {args.baseline}: fps | p50 | p95 | lost | recover s | voice | fps ratio |"
        )
        rule += "---:|---:|---:|---:|---:|---:|---:|"
    print(head)
    print(rule)
    for i, r in enumerate(ours):
        event = "–" if r.event_s is None else f"{r.event_s:.1f}"
        line = (
            f"| {r.scenario} | {r.goodput_kbps:.0f} | {r.fps:.1f} | {_ms(r.p50_ms)} | "
            f"{_ms(r.p95_ms)} | {100 * r.frame_loss:.0f} % | {_rungs(r)} | {event} | "
            f"{_voice(r)} |"
        )
        if base:
            b = base[i]
            ratio = f"{r.fps / b.fps:.1f}×" if b.fps > 0 else "∞"
            recover = "–" if b.event_s is None or "cut" not in b.scenario else f"{b.event_s:.1f}"
            line += (
                f" {b.fps:.1f} | {_ms(b.p50_ms)} | {_ms(b.p95_ms)} | {100 * b.frame_loss:.0f} % |"
                f" {recover} | {_voice(b)} | {ratio} |"
            )
        print(line)
    return 0
