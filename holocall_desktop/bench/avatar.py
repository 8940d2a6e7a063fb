"""Avatar branch: face landmarks + blendshapes (+ hands) + encode time per frame on the CPU,
frame size."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TARGET_MS = 10.0
TARGET_BYTES = 100


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--frames", type=int, default=150, help="frames to time (default 150)")
    p.add_argument("--warmup", type=int, default=10, help="untimed frames first (default 10)")
    p.add_argument("--size", default="640x480", help="camera frame size WxH (default 640x480)")
    p.add_argument("--model", help="face_landmarker.task (default: the installed one)")
    p.add_argument("--hand-model", help="hand_landmarker.task (default: the installed one)")
    p.add_argument(
        "--max-side",
        type=int,
        default=320,
        help="second run: downscale frames to this longer side first (default 320)",
    )


def _stats(values_ms: list[float]) -> tuple[float, float, float]:
    """Median, 95th percentile and minimum (the least disturbed by other load on the machine)."""
    ordered = sorted(values_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95, ordered[0]


@dataclass
class _Run:
    model_path: Path
    infer_ms: list[float] = field(default_factory=list)
    rest_ms: list[float] = field(default_factory=list)
    encode_ms: list[float] = field(default_factory=list)
    decode_ms: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    found: int = 0
    smile: float = 0.0
    last_json: bytes = b""

    @property
    def per_frame(self) -> list[float]:
        return [
            a + b + c for a, b, c in zip(self.infer_ms, self.rest_ms, self.encode_ms, strict=True)
        ]


def _track(tracker: Any, frames: list[Any], warmup: int) -> _Run:
    """Track + encode + decode every frame, timing each stage after ``warmup`` frames."""
    import json

    from holocall_desktop.codec.avatar_frame import decode_avatar_frame, encode_avatar_frame

    out = _Run(model_path=tracker.model_path)
    smiles: list[float] = []
    with tracker:
        for i, rgb in enumerate(frames):
            t0 = time.perf_counter()
            result = tracker.process(rgb, i / 30.0)
            t1 = time.perf_counter()
            if result.frame is None:
                continue
            payload = encode_avatar_frame(result.frame)
            t2 = time.perf_counter()
            decode_avatar_frame(payload)
            t3 = time.perf_counter()
            if i < warmup:
                continue
            out.found += result.raw is not None
            out.infer_ms.append(result.inference_s * 1000.0)
            out.rest_ms.append((t1 - t0 - result.inference_s) * 1000.0)
            out.encode_ms.append((t2 - t1) * 1000.0)
            out.decode_ms.append((t3 - t2) * 1000.0)
            out.sizes.append(len(payload))
            f = result.frame
            smiles.append(f.blendshape("mouthSmileLeft"))
            out.last_json = json.dumps(
                {
                    "type": "avatar",
                    "timestamp": f.timestamp,
                    "head": {
                        "position": [float(v) for v in f.head_position],
                        "rotation": [float(v) for v in f.head_rotation],
                    },
                    "blendShapes": [round(float(v) * 255) for v in f.blendshapes],
                }
            ).encode()
    out.smile = float(sum(smiles) / len(smiles)) if smiles else 0.0
    return out


def _hands(model: str | None, frames: list[Any], warmup: int) -> list[float]:
    """The hand landmarker's time per frame (ms) after ``warmup`` frames."""
    from holocall_desktop.avatar.hands import HandTracker

    tracker = HandTracker(model)
    out: list[float] = []
    try:
        for i, rgb in enumerate(frames):
            tracker.track(rgb, i / 30.0)
            if i >= warmup:
                out.append(tracker.inference_s * 1000.0)
    finally:
        tracker.close()
    return out


def run(args: argparse.Namespace) -> int:
    import numpy as np
    from skimage import data
    from skimage.transform import resize

    from holocall_desktop.avatar.model_files import FaceModelError
    from holocall_desktop.avatar.tracker import FaceTracker

    width, height = (int(v) for v in args.size.lower().split("x"))
    if args.frames < 1 or width < 64 or height < 64:
        print("bench avatar: --frames must be ≥ 1 and the size at least 64x64", file=sys.stderr)
        return 2

    # A real face photo (scikit-image's astronaut), placed in a camera-sized frame and moved a
    # few pixels per frame like a person sitting still in front of a webcam.
    side = min(width, height)
    face = (resize(data.astronaut(), (side, side)) * 255).astype(np.uint8)
    canvas = np.full((height, width, 3), 90, np.uint8)
    x0 = (width - side) // 2
    canvas[:, x0 : x0 + side] = face
    rng = np.random.default_rng(0)
    total = args.warmup + args.frames
    shifts = np.cumsum(rng.integers(-2, 3, size=(total, 2)), axis=0).clip(-12, 12)
    frames = [np.ascontiguousarray(np.roll(canvas, tuple(s), axis=(0, 1))) for s in shifts]

    try:
        full = _track(FaceTracker(args.model), frames, args.warmup)
        small = _track(FaceTracker(args.model, max_side=args.max_side), frames, args.warmup)
        hands_ms = _hands(args.hand_model, frames, args.warmup)
    except FaceModelError as exc:
        print(f"bench avatar: {exc.user_message}", file=sys.stderr)
        return 1
    model_path = full.model_path

    # Peer: the same model in IMAGE mode, which runs the face detector on every frame instead
    # of tracking the face from the previous frame's landmarks.
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model_path)),
        running_mode=vision.RunningMode.IMAGE,
        output_face_blendshapes=True,
        output_facial_transformation_matrixes=True,
    )
    image_ms: list[float] = []
    with vision.FaceLandmarker.create_from_options(options) as still:
        peer_frames = frames[: max(10, min(args.frames, 60)) + args.warmup]
        for i, rgb in enumerate(peer_frames):
            img = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
            t0 = time.perf_counter()
            still.detect(img)
            if i >= args.warmup:
                image_ms.append((time.perf_counter() - t0) * 1000.0)

    if not full.infer_ms or not small.infer_ms:
        print("bench avatar: no face was tracked in the test frames", file=sys.stderr)
        return 1
    with_hands = [a + b for a, b in zip(full.per_frame, hands_ms, strict=False)]
    rows = [
        (f"MediaPipe landmarks + blendshapes + pose, {args.size}", _stats(full.infer_ms)),
        ("smoothing + AvatarFrame", _stats(full.rest_ms)),
        ("encode (binary)", _stats(full.encode_ms)),
        (f"**per frame: track + encode, {args.size}**", _stats(full.per_frame)),
        (
            f"**per frame: track + encode, downscaled to {args.max_side} px first**",
            _stats(small.per_frame),
        ),
        (f"hand landmarker (palm detector + 21 landmarks), {args.size}", _stats(hands_ms)),
        ("**per frame: face + hands + encode**", _stats(with_hands)),
        ("decode (receiver)", _stats(full.decode_ms)),
        (f"peer: MediaPipe IMAGE mode (detector every frame), {args.size}", _stats(image_ms)),
    ]
    tail = sys.argv[sys.argv.index("avatar") + 1 :] if "avatar" in sys.argv else []
    print(f"command: `{' '.join(['holocall bench avatar', *tail])}`")
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} logical CPUs (load average "
        f"{os.getloadavg()[0]:.1f}), Python "
        f"{platform.python_version()}, MediaPipe {mp.__version__}; {args.size} frames, "
        f"{len(full.infer_ms)} timed ({full.found} with a face detected); smile score "
        f"{full.smile:.2f} full size, {small.smile:.2f} downscaled"
    )
    print()
    print("| Stage | median ms | p95 ms | min ms |")
    print("|---|---:|---:|---:|")
    for name, (med, p95, low) in rows:
        print(f"| {name} | {med:.2f} | {p95:.2f} | {low:.2f} |")
    med_total = _stats(full.per_frame)[0]
    med_small = _stats(small.per_frame)[0]
    med_video, med_image = _stats(full.infer_ms)[0], _stats(image_ms)[0]
    print()
    print(
        f"Per frame {med_total:.2f} ms median vs target ≤ {TARGET_MS:.0f} ms: "
        f"{'met' if med_total <= TARGET_MS else 'NOT met'} ({med_small:.2f} ms downscaled: "
        f"{'met' if med_small <= TARGET_MS else 'NOT met'}); tracking costs "
        f"{med_video / med_image:.2f}× the detect-every-frame peer. With hands tracked too: "
        f"{_stats(with_hands)[0]:.2f} ms (no hand is in the photo, so the palm detector runs on "
        "every frame: the most hands cost)."
    )
    size = max(full.sizes)
    print(
        f"Frame size {size} B (without hands; 131 B with both hands) vs target ≤ {TARGET_BYTES} B: "
        f"{'met' if size <= TARGET_BYTES else 'NOT met'}; the seed's message as JSON is "
        f"{len(full.last_json)} B ({len(full.last_json) / size:.1f}× larger)."
    )
    return 0
