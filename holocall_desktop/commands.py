"""The ``holocall`` subcommands (``bench`` lives in ``holocall_desktop.bench``)."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path
from typing import Any

from holocall_desktop.errors import CliError


def register(sub: Any) -> None:
    app = sub.add_parser("app", help="the desktop app (the default when no command is given)")
    _window_options(app)
    app.add_argument(
        "--source",
        help="synthetic[:SEED], camera[:SERIAL], webcam[:N] (a colour camera: you appear as an "
        "avatar), webcam:VIDEO_FILE, or a recording path (.bag, .db3)",
    )
    app.set_defaults(handler=_run_app)

    demo = sub.add_parser(
        "demo",
        help="a full call on this machine: local server, a simulated participant, you",
    )
    _window_options(demo)
    demo.add_argument(
        "--no-call", action="store_true", help="only show your own synthetic hologram, no call"
    )
    demo.set_defaults(handler=_run_demo)

    replay = sub.add_parser(
        "replay", help="view a recording (.bag, .db3) or a recorded call (holocall join --record)"
    )
    replay.add_argument("file", type=Path, help="recording or call file to play")
    replay.add_argument(
        "--headless",
        action="store_true",
        help="(call file) no window: decode everything and print what it holds as one JSON line",
    )
    replay.add_argument("--save-frames", type=Path, help="(--headless) save decoded frames here")
    replay.add_argument("--save-limit", type=int, default=5, help="frames saved per participant")
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

    check = sub.add_parser(
        "check",
        help="what this machine gives HoloCall: OpenGL, the face model, audio, cameras",
    )
    check.set_defaults(handler=_run_check)

    _register_join(sub)


def _run_check(args: argparse.Namespace) -> int:
    from holocall_desktop.ui.check import run

    return run()


def _window_options(p: argparse.ArgumentParser) -> None:
    bg = p.add_mutually_exclusive_group()
    bg.add_argument(
        "--remove-background", dest="remove_background", action="store_true", default=None
    )
    bg.add_argument("--keep-background", dest="remove_background", action="store_false")
    p.add_argument("--screenshot", type=Path, help="save a PNG of the window, then exit")
    p.add_argument("--frames", type=int, help="exit after this many frames were drawn")
    p.add_argument("--seconds", type=float, help="exit after this many seconds")


def _scripted_frames(args: argparse.Namespace) -> int | None:
    """``--frames``; with ``--screenshot`` and neither ``--frames`` nor ``--seconds``: 30."""
    if args.screenshot is not None and args.frames is None and args.seconds is None:
        return 30
    return int(args.frames) if args.frames is not None else None


def _window(
    args: argparse.Namespace, source: str | None, remove_background: bool | None, demo: bool = False
) -> int:
    from holocall_desktop.ui.app import run_window

    frames = _scripted_frames(args)
    if args.remove_background is not None:
        remove_background = args.remove_background
    return run_window(source, remove_background, args.screenshot, frames, args.seconds, demo=demo)


def _run_app(args: argparse.Namespace) -> int:
    return _window(args, args.source, None)


def _run_demo(args: argparse.Namespace) -> int:
    return _window(args, "synthetic", True, demo=not args.no_call)


def _run_replay(args: argparse.Namespace) -> int:
    path: Path = args.file
    from holocall_desktop.recording.callfile import is_call_file

    if is_call_file(path):
        return _replay_call(args, path)
    if args.headless:
        raise CliError(f"{path}: --headless replays call files (holocall join --record)")
    _check_recording(path)
    return _window(args, str(path), False)


def _replay_call(args: argparse.Namespace, path: Path) -> int:
    from holocall_desktop.session.call_replay import CallFileError, CallReplay

    if not args.headless:
        from holocall_desktop.ui.call_replay_window import run_call_replay

        return run_call_replay(path, args.screenshot, _scripted_frames(args), args.seconds)
    if args.save_frames is not None:
        args.save_frames.mkdir(parents=True, exist_ok=True)
    try:
        report = CallReplay(path, args.save_frames, args.save_limit).run()
    except CallFileError as exc:
        raise CliError(str(exc)) from None
    print(json.dumps(report, ensure_ascii=False))
    return 0


def _check_recording(path: Path) -> None:
    if not path.exists():
        raise CliError(f"{path}: no such file")
    if path.suffix.lower() not in (".bag", ".db3"):
        raise CliError(f"{path}: not a RealSense recording (expected .bag or .db3)")


def _run_record(args: argparse.Namespace) -> int:
    from holocall_desktop.capture.base import SourceError
    from holocall_desktop.capture.open import open_source
    from holocall_desktop.capture.recorder import check_output, record, saved_frames

    out: Path = args.output
    if out.suffix.lower() != ".db3":
        raise CliError(f"{out}: recordings are written as .db3 (rosbag2); use a .db3 name")
    try:
        check_output(out)
    except SourceError as exc:
        raise CliError(str(exc)) from exc
    source_path = Path(args.source)
    if source_path.exists() and source_path.resolve() == out.resolve():
        raise CliError(f"{out} is the recording being read; record to another file")
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
    except (OSError, RuntimeError) as exc:  # the SDK's writer (disk full, file-size limit…)
        saved = saved_frames(out)
        raise CliError(f"recording to {out} failed after {saved} frames: {exc}") from exc
    saved = saved_frames(out)
    if saved < summary.frames:
        raise CliError(
            f"only {saved} of {summary.frames} frames were saved to {out} "
            "(is the disk full, or the file too large for this system?)"
        )
    mb = summary.bytes / 1e6
    print(
        f"holocall: recorded {summary.frames} frames ({summary.duration:.1f} s, {mb:.1f} MB) "
        f"to {out}"
    )
    return 0


# ---- join -------------------------------------------------------------------------------------


def _register_join(sub: Any) -> None:
    join = sub.add_parser(
        "join",
        help="join a call from an invite link (--headless: no window, JSON lines on stdout)",
        description="Join a call. URL is an invite link (holocall://HOST:PORT/ROOM?invite=SECRET "
        "or http://HOST:PORT/rooms|join/ROOM?invite=SECRET), or with --create the signaling server "
        "(http://HOST:PORT) on which to create a room; its invite link is the first JSON line.",
    )
    join.add_argument("url", help="invite link, or the server URL with --create")
    join.add_argument("--headless", action="store_true", help="no window: report JSON lines")
    join.add_argument("--create", action="store_true", help="create a new room and host it")
    join.add_argument(
        "--name", help="display name (default: the app's, or 'headless' with --headless)"
    )
    join.add_argument("--user-id", help="user id in the room (default: made from --name)")
    join.add_argument(
        "--source",
        help="synthetic[:SEED] (the default with --headless), camera[:SERIAL], webcam[:N] or a "
        "recording path; without --headless the app's own choice by default",
    )
    join.add_argument(
        "--screenshot", type=Path, help="(window) save a PNG after --frames remote frames, exit"
    )
    join.add_argument("--codec", default="volumetric-dc", help="volumetric-dc or hue-video")
    join.add_argument(
        "--ca-file",
        help="PEM file of the CA that signed a self-hosted https server's certificate "
        "(default: the system's trust store, or $HOLOCALL_CA_FILE)",
    )
    join.add_argument("--fps", type=float, help="frame rate of the synthetic source (30)")
    join.add_argument("--size", help="WIDTHxHEIGHT of the synthetic source (848x480)")
    join.add_argument("--preload", type=int, default=0, help="render N frames first and loop them")
    join.add_argument("--keep-background", action="store_true", help="send the whole scene")
    join.add_argument("--frames", type=int, help="stop once every peer delivered N frames")
    join.add_argument("--peers", type=int, default=1, help="peers --frames waits for (1)")
    join.add_argument(
        "--room-size",
        type=int,
        metavar="N",
        help="with --create: a room for N participants (3; more call through the server's SFU)",
    )
    join.add_argument("--seconds", type=float, help="stay this many seconds, then leave")
    join.add_argument(
        "--linger",
        type=float,
        default=0.0,
        help="after --frames arrived, stay this many seconds (so the others get theirs)",
    )
    join.add_argument(
        "--timeout", type=float, default=60.0, help="give up on --frames after this (60 s)"
    )
    join.add_argument("--save-frames", type=Path, help="save received frames (npz) here")
    join.add_argument("--save-limit", type=int, default=5, help="frames saved per peer (5)")
    join.add_argument("--peer-timeout", type=float, default=5.0, help="drop a silent peer (5 s)")
    join.add_argument(
        "--no-loss-protection",
        action="store_true",
        help="send holograms without parity and retransmission, and voice without FEC and loss "
        "concealment, as before them (to measure)",
    )
    join.add_argument(
        "--no-adapt",
        action="store_true",
        help="send the one quality to everyone, without the quality ladder (to measure)",
    )
    join.add_argument("--tone", type=float, help="send a test tone of this many Hz as audio")
    join.add_argument(
        "--hear",
        action="store_true",
        help="measure each participant's voice (frames, lost ms, dominant tone) in the stats",
    )
    join.add_argument(
        "--say",
        action="append",
        default=[],
        metavar="TEXT",
        help="(headless) write TEXT in the chat to each participant once they connect; "
        "repeat for several messages, sent in order",
    )
    join.add_argument(
        "--record",
        type=Path,
        metavar="FILE",
        help="(headless) record the call to FILE (a call file, whatever its name) from joining "
        "to leaving: each participant as far as they allow",
    )
    share = join.add_mutually_exclusive_group()
    share.add_argument(
        "--share-video",
        type=Path,
        metavar="FILE",
        help="(headless) share this video file as the screen once joined, in a loop",
    )
    share.add_argument(
        "--share-screen",
        type=int,
        nargs="?",
        const=1,
        metavar="N",
        help="(headless) share monitor N of the display (1, the first, by default) once joined",
    )
    share.add_argument(
        "--share-window",
        metavar="TITLE",
        help="(headless) share the first window whose title holds TITLE once joined (X11)",
    )
    join.add_argument(
        "--consent",
        choices=["no", "yes", "voice", "hologram"],
        default="no",
        help="(headless) what others may record of this participant: nothing (no, the default), "
        "voice and hologram (yes), or one of them",
    )
    join.add_argument(
        "--log-level",
        default="warning",
        choices=["debug", "info", "warning", "error"],
        help="log to stderr from this level on (warning)",
    )
    join.add_argument(
        "--latencies",
        action="store_true",
        help="add every frame's glass-to-glass latency (ms) to the stats lines",
    )
    join.set_defaults(handler=_run_join)


def _join_config(args: argparse.Namespace, user_id: str, name: str) -> Any:
    """The CallConfig that ``holocall join URL [--create]`` asks for."""
    from holocall_desktop.transport.api import CallConfig
    from holocall_desktop.transport.invite import InviteError, parse_invite

    if args.create:
        server = args.url.rstrip("/")
        if not server.startswith(("http://", "https://")):
            raise CliError(f"with --create, URL is the server, http://HOST:PORT (got {server!r})")
        return CallConfig(
            server=server,
            user_id=user_id,
            display_name=name,
            create_room=True,
            room_size=getattr(args, "room_size", None),
            codec=args.codec,
            ca_file=args.ca_file,
        )
    try:
        invite = parse_invite(args.url)
    except InviteError as exc:
        raise CliError(str(exc)) from exc
    return CallConfig(
        server=invite.server,
        user_id=user_id,
        display_name=name,
        room_id=invite.room_id,
        invite_secret=invite.invite_secret,
        codec=args.codec,
        ca_file=args.ca_file,
    )


def _run_join_window(args: argparse.Namespace) -> int:
    """``holocall join URL`` without --headless: the app, joining that call at once."""
    from holocall_desktop.ui.app import run_window

    # the app fills in its own user id and remembered name when these are empty
    config = _join_config(args, args.user_id or "", args.name or "")
    source = args.source
    frames = _scripted_frames(args)
    return run_window(source, None, args.screenshot, frames, args.seconds, join=config)


def _share_source(args: argparse.Namespace) -> Any:
    """What ``--share-video`` / ``--share-screen`` / ``--share-window`` share (None without
    them)."""
    from holocall_desktop.capture.screen import DisplayScreen, ScreenError, VideoFileScreen
    from holocall_desktop.capture.window_screen import WindowScreen, find_window

    try:
        if args.share_video is not None:
            if not args.share_video.is_file():
                raise CliError(f"--share-video: {args.share_video}: no such file")
            return VideoFileScreen(args.share_video)
        if args.share_screen is not None:
            return DisplayScreen(args.share_screen)
        if args.share_window is not None:
            return WindowScreen(find_window(args.share_window).window_id)
    except ScreenError as exc:
        raise CliError(str(exc)) from None
    return None


def _run_join(args: argparse.Namespace) -> int:
    if not args.headless:
        return _run_join_window(args)
    args.name = args.name or "headless"
    args.source = args.source or "synthetic"
    if args.screenshot is not None:
        raise CliError("--screenshot is for the window (without --headless)")
    from holocall_desktop.capture.base import SourceError
    from holocall_desktop.codec.base import CodecError
    from holocall_desktop.session.headless import HeadlessParticipant, user_id_for
    from holocall_desktop.transport.engine import EngineOptions

    if args.frames is None and args.seconds is None:
        raise CliError("give --frames N or --seconds S")
    import logging

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s: %(message)s"
    )
    for name in ("frames", "seconds", "fps", "timeout", "peer_timeout"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise CliError(f"--{name.replace('_', '-')} must be positive")
    if args.room_size is not None and not 1 <= args.room_size <= 64:
        raise CliError("--room-size must be 1 to 64")
    if args.peers < 1 or args.preload < 0 or args.save_limit < 0 or args.linger < 0:
        raise CliError("--peers must be ≥ 1; --preload, --save-limit and --linger ≥ 0")
    from holocall_desktop.transport.chat import chat_text

    try:
        say = [chat_text(text) for text in args.say]
    except ValueError as exc:
        raise CliError(f"--say: {exc}") from None
    size = None
    if args.size:
        try:
            w, h = (int(x) for x in args.size.lower().split("x"))
        except ValueError:
            raise CliError(f"--size must be WIDTHxHEIGHT, got {args.size!r}") from None
        size = (w, h)
    user_id = args.user_id or user_id_for(args.name)
    config = _join_config(args, user_id, args.name)
    if args.save_frames is not None:
        args.save_frames.mkdir(parents=True, exist_ok=True)
    share = _share_source(args)
    audio = None
    if args.tone is not None:
        from holocall_desktop.transport.tracks import ToneTrack

        audio = ToneTrack(args.tone)
    try:
        participant = HeadlessParticipant(
            config,
            args.source,
            fps=args.fps,
            size=size,
            preload=args.preload,
            background_removal=not args.keep_background,
            save_dir=args.save_frames,
            save_limit=args.save_limit,
            options=EngineOptions(
                peer_timeout=args.peer_timeout,
                loss_protection=not args.no_loss_protection,
                adapt_quality=not args.no_adapt,
            ),
            local_audio=audio,
            report_latencies=args.latencies,
            hear=args.hear,
            say=say,
            record=args.record,
            consent=(args.consent in ("yes", "voice"), args.consent in ("yes", "hologram")),
            share=share,
        )
    except (SourceError, CodecError) as exc:
        if share is not None:
            share.close()
        raise CliError(str(exc)) from exc
    signal.signal(signal.SIGTERM, lambda *_: participant.request_stop())
    try:
        return participant.run(
            frames=args.frames,
            seconds=args.seconds,
            peers=args.peers,
            timeout=args.timeout,
            linger=args.linger,
        )
    except SourceError as exc:
        raise CliError(str(exc)) from exc
