"""Record any FrameSource to a RealSense ``.db3`` file that :class:`PlaybackSource` plays back.

Non-camera sources (synthetic, playback) are recorded through the SDK itself: a
``rs.software_device`` with a depth sensor (z16, its intrinsics, the ``depth_units`` option) and,
when the source has colour, a colour sensor (rgb8, its intrinsics) with the depth→colour
extrinsics registered, wrapped in an ``rs.recorder``. Every frame is injected with the source's
timestamp (milliseconds, hardware-clock domain) and frame number. pyrealsense2 2.59 writes only
the rosbag2 ``.db3`` format.

The SDK stamps each message with the time it *received* it; to keep that file time (used by
seeking) in step with the frame timestamps, frames from a source that delivers faster than real
time are written at their timestamps' pace. The file is finalised (sensors stopped, recorder
destroyed) on every exit path — end of source, limits, ``stop_event``, ``KeyboardInterrupt``, an
error — so what was written is never lost.

A live camera (:class:`~holocall_desktop.capture.realsense.RealSenseSource`) is recorded by the
SDK's own recorder instead (``rs.config.enable_record_to_file``): see
:meth:`RealSenseSource.start_recording`.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyrealsense2 as rs

from holocall_desktop.capture.base import FrameSource, SourceError
from holocall_desktop.capture.rsutil import to_rs_extrinsics, to_rs_intrinsics
from holocall_desktop.model import DepthFrame, Intrinsics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordingSummary:
    path: Path
    frames: int
    #: Seconds between the first and the last recorded frame's timestamps.
    duration: float
    bytes: int
    #: Why recording ended: "finished", "max_frames", "max_seconds", "stopped", "interrupted",
    #: "error".
    reason: str
    error: str | None = None


class _SoftwareRecorder:
    """A software device with depth (+ colour) sensors, recorded to ``path``."""

    def __init__(self, path: Path, first: DepthFrame, fps: float) -> None:
        self.depth_intr = first.depth_intrinsics
        self.color_intr = first.color_intrinsics if first.color is not None else None
        fps_i = max(1, round(fps))
        self.dev = rs.software_device()
        self.depth_sensor = self.dev.add_sensor("Depth")
        self.depth_profile = self.depth_sensor.add_video_stream(
            _video_stream(rs.stream.depth, 0, rs.format.z16, 2, fps_i, self.depth_intr)
        )
        self.depth_sensor.add_read_only_option(rs.option.depth_units, float(first.depth_units))
        self.color_sensor: Any = None
        self.color_profile: Any = None
        if self.color_intr is not None:
            self.color_sensor = self.dev.add_sensor("Color")
            self.color_profile = self.color_sensor.add_video_stream(
                _video_stream(rs.stream.color, 1, rs.format.rgb8, 3, fps_i, self.color_intr)
            )
            self.depth_profile.register_extrinsics_to(
                self.color_profile, to_rs_extrinsics(first.depth_to_color)
            )
        self.recorder: Any = rs.recorder(str(path), self.dev)
        self.depth_sensor.open(self.depth_profile)
        self.depth_sensor.start(_ignore)
        if self.color_sensor is not None:
            self.color_sensor.open(self.color_profile)
            self.color_sensor.start(_ignore)

    def write(self, frame: DepthFrame) -> None:
        if frame.depth_intrinsics != self.depth_intr:
            raise SourceError(
                "the source changed its depth resolution or calibration mid-recording"
            )
        ts_ms = frame.timestamp * 1000.0
        _inject(self.depth_sensor, self.depth_profile, frame.depth, 2, ts_ms, frame.frame_number)
        if self.color_sensor is not None and frame.color is not None:
            if frame.color_intrinsics != self.color_intr:
                raise SourceError("the source changed its colour resolution mid-recording")
            _inject(
                self.color_sensor, self.color_profile, frame.color, 3, ts_ms, frame.frame_number
            )

    def close(self) -> None:
        sensors = [self.depth_sensor, self.color_sensor]
        for s in sensors:
            if s is not None:
                with contextlib.suppress(RuntimeError):
                    s.stop()
                with contextlib.suppress(RuntimeError):
                    s.close()
        # The recorder writes and closes the file when it is destroyed.
        self.recorder = None
        self.depth_profile = self.color_profile = None
        self.depth_sensor = self.color_sensor = None
        self.dev = None
        gc.collect()


def _ignore(_frame: Any) -> None:
    return None


def _video_stream(kind: Any, uid: int, fmt: Any, bpp: int, fps: int, intr: Intrinsics) -> Any:
    vs = rs.video_stream()
    vs.type = kind
    vs.index = 0
    vs.uid = uid
    vs.width = intr.width
    vs.height = intr.height
    vs.fps = fps
    vs.bpp = bpp
    vs.fmt = fmt
    vs.intrinsics = to_rs_intrinsics(intr)
    return vs


def _inject(
    sensor: Any, profile: Any, pixels: np.ndarray[Any, Any], bpp: int, ts_ms: float, n: int
) -> None:
    f = rs.software_video_frame()
    f.pixels = np.ascontiguousarray(pixels)
    f.stride = int(pixels.shape[1]) * bpp
    f.bpp = bpp
    f.timestamp = ts_ms
    f.domain = rs.timestamp_domain.hardware_clock
    f.frame_number = int(n)
    f.profile = profile.as_video_stream_profile()
    sensor.on_video_frame(f)


def check_output(out: Path) -> None:
    """A one-line :class:`SourceError` now if ``out`` cannot take a recording, rather than a
    failure deep in the SDK later: a folder, a name too long, a place one may not write."""
    try:
        name_max = os.pathconf(out.parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    size = len(os.fsencode(out.name))
    if size > name_max:
        raise SourceError(
            f"cannot record to '{out.name[:40]}…': the file name is too long "
            f"({size} bytes, at most {name_max})"
        )
    if out.is_dir():
        raise SourceError(f"cannot record to '{out}': it is a folder")
    existed = out.exists()
    try:
        with out.open("ab"):
            pass
    except OSError as exc:
        raise SourceError(f"cannot write '{out}': {exc.strerror or exc}") from None
    if not existed:
        out.unlink()


def saved_frames(path: Path) -> int:
    """How many depth frames the recording at ``path`` really holds (0 if it is unreadable)."""
    from holocall_desktop.capture.recording_index import index_recording

    try:
        return index_recording(path).frame_count
    except SourceError:
        return 0


def record(
    source: FrameSource,
    path: str | Path,
    max_frames: int | None = None,
    max_seconds: float | None = None,
    stop_event: threading.Event | None = None,
    *,
    start_source: bool = True,
    read_timeout: float = 1.0,
) -> RecordingSummary:
    """Record ``source`` to the ``.db3`` file ``path`` until it ends or a limit is reached.

    Starts and stops the source (unless ``start_source=False``). ``max_seconds`` counts source
    time (frame timestamps). Returns a summary; a ``KeyboardInterrupt`` is re-raised after the
    file has been closed, other errors are re-raised as they are (also after closing).
    """
    out = Path(path)
    if out.suffix.lower() != ".db3":
        raise SourceError(
            f"cannot record to '{out.name}': pyrealsense2 records the .db3 format only "
            "(give a path ending in .db3)"
        )
    if not out.parent.exists():
        raise SourceError(f"cannot record to '{out}': folder {out.parent} does not exist")
    check_output(out)
    if max_frames is not None and max_frames <= 0:
        raise ValueError("max_frames must be positive")
    if out.exists():
        out.unlink()  # rs.recorder would otherwise append to an existing database
    from holocall_desktop.capture.realsense import RealSenseSource

    camera = isinstance(source, RealSenseSource)
    if camera:
        # A live camera records its raw streams through the SDK's own recorder.
        assert isinstance(source, RealSenseSource)
        if not start_source:
            raise SourceError("a camera must be started by record() to record it")
        source.record_to = out
    writer: _SoftwareRecorder | None = None
    frames = 0
    first_ts = last_ts = 0.0
    wall0 = 0.0
    reason = "finished"
    error: str | None = None
    if start_source:
        source.start()
    try:
        while True:
            if stop_event is not None and stop_event.is_set():
                reason = "stopped"
                break
            frame = source.read(timeout=read_timeout)
            if frame is None:
                if source.finished:
                    break
                continue
            if frames == 0:
                first_ts = frame.timestamp
                wall0 = time.monotonic()
            if camera:
                pass
            elif writer is None:
                writer = _SoftwareRecorder(out, frame, source.fps)
            else:
                # Don't write faster than the source's clock (see module docstring).
                ahead = (frame.timestamp - first_ts) - (time.monotonic() - wall0)
                if ahead > 0:
                    time.sleep(min(ahead, 1.0))
            if max_seconds is not None and frame.timestamp - first_ts > max_seconds:
                reason = "max_seconds"
                break
            if writer is not None:
                writer.write(frame)
            frames += 1
            last_ts = frame.timestamp
            if max_frames is not None and frames >= max_frames:
                reason = "max_frames"
                break
    except KeyboardInterrupt:
        reason = "interrupted"
        raise
    except BaseException as exc:
        reason = "error"
        error = str(exc)
        raise
    finally:
        if writer is not None:
            try:
                writer.close()
            except Exception:  # closing must not mask the original outcome
                log.exception("closing the recording %s failed", out)
        if start_source:
            with contextlib.suppress(Exception):
                source.stop()  # for a camera this also finalises the SDK's recording
        if camera:
            assert isinstance(source, RealSenseSource)
            source.record_to = None
        if reason in ("interrupted", "error"):
            log.warning("recording %s ended early (%s); %d frames were saved", out, reason, frames)
    size = out.stat().st_size if out.exists() else 0
    return RecordingSummary(out, frames, max(0.0, last_ts - first_ts), size, reason, error)
