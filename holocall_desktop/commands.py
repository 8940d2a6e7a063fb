"""The ``holocall`` subcommands (``bench`` lives in ``holocall_desktop.bench``)."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from typing import Any

from holocall_desktop.cli import CliError


def register(sub: Any) -> None:
    app = sub.add_parser("app", help="the desktop app (the default when no command is given)")
    _window_options(app)
    app.add_argument("--source", help="synthetic, camera[:SERIAL] or a recording path")
    app.set_defaults(handler=_run_app)

    demo = sub.add_parser("demo", help="the app with the built-in synthetic person (no hardware)")
    _window_options(demo)
    demo.set_defaults(handler=_run_demo)

    replay = sub.add_parser("replay", help="view a recording (.bag, .db3)")
    replay.add_argument("file", type=Path, help="recording to play")
    _window_options(replay)
    replay.set_defaults(handler=_run_replay)

    record = sub.add_parser("record", help="record a source to a .db3 file")
    record.add_argument("-o", "--output", type=Path, required=True, help="file to write (.db3)")
    record.add_argument(
        "--source",
        default="synthetic",
        help="synthetic (default), camera[:SERIAL] or a recording path",
    )
    record.add_argument("--frames", type=int, help="stop after this many frames")
    record.add_argument("--seconds", type=float, help="stop after this many seconds")
    record.add_argument("--force", action="store_true", help="overwrite an existing file")
    record.set_defaults(handler=_run_record)


def _window_options(p: argparse.ArgumentParser) -> None:
    bg = p.add_mutually_exclusive_group()
    bg.add_argument(
        "--remove-background", dest="remove_background", action="store_true", default=None
    )
    bg.add_argument("--keep-background", dest="remove_background", action="store_false")
    p.add_argument("--screenshot", type=Path, help="save a PNG of the window, then exit")
    p.add_argument("--frames", type=int, help="exit after this many frames were drawn")
    p.add_argument("--seconds", type=float, help="exit after this many seconds")


def _window(args: argparse.Namespace, source: str | None, remove_background: bool | None) -> int:
    from holocall_desktop.ui.app import run_window

    frames = args.frames
    if args.screenshot is not None and frames is None and args.seconds is None:
        frames = 30
    if args.remove_background is not None:
        remove_background = args.remove_background
    return run_window(source, remove_background, args.screenshot, frames, args.seconds)


def _run_app(args: argparse.Namespace) -> int:
    return _window(args, args.source, None)


def _run_demo(args: argparse.Namespace) -> int:
    return _window(args, "synthetic", True)


def _run_replay(args: argparse.Namespace) -> int:
    path: Path = args.file
    _check_recording(path)
    return _window(args, str(path), False)


def _check_recording(path: Path) -> None:
    if not path.exists():
        raise CliError(f"{path}: no such file")
    if path.suffix.lower() not in (".bag", ".db3"):
        raise CliError(f"{path}: not a RealSense recording (expected .bag or .db3)")


def _run_record(args: argparse.Namespace) -> int:
    from holocall_desktop.capture.base import SourceError
    from holocall_desktop.capture.open import open_source
    from holocall_desktop.capture.recorder import record

    out: Path = args.output
    if out.suffix.lower() != ".db3":
        raise CliError(f"{out}: recordings are written as .db3 (rosbag2); use a .db3 name")
    if out.exists() and not args.force:
        raise CliError(f"{out} exists; pass --force to overwrite")
    if args.frames is None and args.seconds is None and args.source == "synthetic":
        raise CliError("the synthetic source never ends: give --frames or --seconds")
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        source = open_source(args.source, realtime=True, loop=False)
        summary = record(
            source, out, max_frames=args.frames, max_seconds=args.seconds, stop_event=stop
        )
    except SourceError as exc:
        raise CliError(str(exc)) from exc
    print(f"holocall: recorded {summary} to {out}")
    return 0
