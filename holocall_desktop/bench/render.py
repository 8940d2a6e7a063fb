"""Hologram rendering: our GPU visual vs vispy Markers on the same points, and source frame time."""

from __future__ import annotations

import argparse
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--frames", type=int, default=30, help="distinct synthetic frames (default 30)")
    p.add_argument("--repeats", type=int, default=3, help="passes over the frames (default 3)")
    p.add_argument("--size", default="1280x720", help="canvas size WxH (default 1280x720)")
    p.add_argument(
        "--participants",
        type=int,
        default=2,
        help="people in the call including the viewer, 2..10 (default 2: one remote hologram)",
    )


def _ms(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000.0


def _p90(v: list[float]) -> float:
    s = sorted(v)
    return s[min(len(s) - 1, int(0.9 * len(s)))]


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import vispy
    from vispy import gloo, scene

    from holocall_desktop.capture.synthetic import SyntheticPersonSource
    from holocall_desktop.model import DepthFrame
    from holocall_desktop.processing.background import remove_background
    from holocall_desktop.processing.deproject import deproject_frame
    from holocall_desktop.render.scene import HoloScene

    vispy.use(app="pyside6")
    if not 2 <= args.participants <= 10:
        print("holocall: error: --participants must be 2..10", file=sys.stderr)
        return 2
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        print(
            f"holocall: error: --size must look like 1280x720, got {args.size!r}", file=sys.stderr
        )
        return 2

    # The source: one synthetic frame (ray casting + noise), single thread.
    source = SyntheticPersonSource(realtime=False)
    source.start()
    synth = [_ms(source.read) for _ in range(args.frames)]
    source.stop()
    frames = [remove_background(source.frame(n)) for n in range(args.frames)]
    points = int(np.mean([(f.depth > 0).sum() for f in frames]))

    holo = HoloScene(size=(width, height), show=True, show_room=False)
    canvas = holo.canvas
    ids = [f"p{i}" for i in range(args.participants - 1)]
    markers = []
    for pid in ids:
        holo.add_participant(pid)
        m = scene.visuals.Markers(parent=holo.view.scene)
        m.transform = holo.participants[pid].node.transform
        markers.append(m)
    canvas.set_current()
    renderer = str(gloo.gl.glGetParameter(gloo.gl.GL_RENDERER))

    def draw() -> None:
        canvas.on_draw(None)
        gloo.gl.glFinish()

    def show(ours: bool) -> None:
        for pid in ids:
            holo.participants[pid].node.visible = ours
        for m in markers:
            m.visible = not ours

    def hologram_upload(f: DepthFrame) -> None:
        for pid in ids:
            holo.set_frame(pid, f)

    def markers_upload(f: DepthFrame) -> None:
        cloud = deproject_frame(f)  # what Markers needs: points and colours on the CPU
        for m in markers:
            m.set_data(cloud.points, face_color=cloud.colors / 255.0, edge_width=0, size=4)

    # warm up both (shader compilation, buffer allocation)
    for ours, upload in ((True, hologram_upload), (False, markers_upload)):
        show(ours)
        upload(frames[0])
        draw()

    # Interleaved: each iteration times both on the same frame, so machine noise hits both.
    res: dict[str, list[float]] = {
        k: [] for k in ("h_cpu", "h_frame", "h_draw", "m_cpu", "m_frame", "m_draw")
    }
    for i in range(args.frames * args.repeats):
        f = frames[i % len(frames)]
        for key, ours, upload in (("h", True, hologram_upload), ("m", False, markers_upload)):
            show(ours)
            t0 = time.perf_counter()
            upload(f)
            t1 = time.perf_counter()
            draw()
            t2 = time.perf_counter()
            res[f"{key}_cpu"].append((t1 - t0) * 1000.0)
            res[f"{key}_frame"].append((t2 - t0) * 1000.0)
            res[f"{key}_draw"].append(_ms(draw))
    holo.close()

    med = statistics.median
    cmd = (
        "holocall " + shlex.join(sys.argv[sys.argv.index("bench") :])
        if "bench" in sys.argv
        else "holocall bench render"
    )
    print(
        f"# holocall bench render — {platform.machine()}, {renderer}, canvas {width}x{height}, "
        f"{len(ids)} remote hologram(s), {points} valid points per 848x480 frame, "
        f"{len(res['h_frame'])} interleaved iterations"
    )
    print(f"command: `{cmd}`\n")
    print("| what | hologram visual, median ms (p90) | vispy Markers, median ms (p90) | ratio |")
    print("|---|---:|---:|---:|")
    for label, key in (
        ("new frame + draw", "frame"),
        ("draw only (same frame again)", "draw"),
        ("CPU work per new frame", "cpu"),
    ):
        h, m = res[f"h_{key}"], res[f"m_{key}"]
        print(
            f"| {label} | {med(h):.2f} ({_p90(h):.2f}) | {med(m):.2f} ({_p90(m):.2f}) | "
            f"{med(m) / med(h):.2f}× |"
        )
    print(
        f"\nSynthetic person source, one 848x480 depth + colour frame: median {med(synth):.2f} ms "
        f"(p90 {_p90(synth):.2f}), {1000.0 / med(synth):.0f} fps on one core."
    )
    return 0
