"""Playback of RealSense recordings (``.bag``, ``.db3``) through pyrealsense2.

How it reads: the file is first validated and indexed in Python (:mod:`.recording_index`: magic,
structure, the time of every depth and colour frame; that gives ``frame_count`` and ``duration``
without decoding). The SDK then plays it as a *playback device* whose sensors are started
directly (the pipeline returns only one frameset from some ``.bag`` files; the sensors give every
frame), always with ``set_real_time(False)``: the SDK reads one message, hands it to our callback
and waits until the callback returns, so nothing is ever dropped. Our callback copies the frame
into a small queue and blocks while the queue is full; ``read`` takes from it.

Real-time pacing (``realtime=True``) is done here against the wall clock using the frames'
timestamps (the recorded source clock) divided by ``speed``; ``realtime=False`` returns the next
frame at once. ``position``, ``duration`` and ``seek`` use the file's recording time (when the
recorder received each frame), which is what the SDK seeks by; :func:`~.recorder.record` paces
its writes so that the two agree.
Each depth frame is paired with the colour frame nearest to it in recording time. A seek reopens
the playback device (cheap) positioned at the colour frame preceding the target so the first
frame after a seek has colour too.

``timestamp`` is the SDK frame timestamp in seconds (the recorded source clock), continued
across loops; ``frame_number`` counts the frames this source delivered; ``position`` is the
recording time of the last delivered frame relative to the first depth frame.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import logging
import queue
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyrealsense2 as rs

from holocall_desktop.capture.base import RecordingFormatError, SourceError
from holocall_desktop.capture.filters import DepthFilterChain, FilterSettings
from holocall_desktop.capture.recording_index import RecordingIndex, index_recording
from holocall_desktop.capture.rsutil import (
    COLOR_FORMATS,
    SdkTimeout,
    call_with_timeout,
    depth_units_of,
    to_extrinsics,
    to_intrinsics,
    to_rgb,
)
from holocall_desktop.model import DepthFrame, Extrinsics, Intrinsics

log = logging.getLogger(__name__)

#: Longest the SDK may take to open a file or to produce the next frame before we give up.
OPEN_TIMEOUT_S = 10.0
STALL_TIMEOUT_S = 10.0
_TOL_NS = 1_000_000  # 1 ms: the SDK's positions and the index may differ by rounding


@dataclass(frozen=True)
class _Meta:
    depth_profile_key: tuple[int, int, int, int, int]  # stream index, format, w, h, fps
    color_profile_key: tuple[int, int, int, int, int] | None
    depth_intrinsics: Intrinsics
    color_intrinsics: Intrinsics | None
    depth_to_color: Extrinsics
    depth_units: float
    fps: float
    color_format: Any


def _key(p: Any) -> tuple[int, int, int, int, int]:
    v = p.as_video_stream_profile()
    return (int(p.stream_index()), int(p.format()), int(v.width()), int(v.height()), int(p.fps()))


def _find_profiles(dev: Any) -> tuple[Any, Any, Any, Any]:
    """(depth sensor, depth profile, colour sensor or None, colour profile or None)."""
    depth_sensor = depth_profile = color_sensor = color_profile = None
    for sensor in dev.query_sensors():
        for p in sensor.get_stream_profiles():
            st = p.stream_type()
            if st == rs.stream.depth and p.format() == rs.format.z16 and depth_profile is None:
                depth_sensor, depth_profile = sensor, p
            elif st == rs.stream.color and color_profile is None and p.format() in COLOR_FORMATS:
                color_sensor, color_profile = sensor, p
    return depth_sensor, depth_profile, color_sensor, color_profile


def _probe(path: Path) -> _Meta:
    ctx = rs.context()
    dev = ctx.load_device(str(path))
    ds, dp, _cs, cp = _find_profiles(dev)
    if dp is None:
        raise RecordingFormatError(f"{path.name}: the recording has no z16 depth stream")
    units = depth_units_of(ds.as_depth_sensor().get_depth_scale())
    di = to_intrinsics(dp.as_video_stream_profile().get_intrinsics())
    ci = None
    d2c = Extrinsics()
    if cp is not None:
        ci = to_intrinsics(cp.as_video_stream_profile().get_intrinsics())
        try:
            d2c = to_extrinsics(dp.get_extrinsics_to(cp))
        except RuntimeError:
            log.warning("%s: no depth->colour extrinsics recorded, assuming identity", path.name)
    return _Meta(
        depth_profile_key=_key(dp),
        color_profile_key=_key(cp) if cp is not None else None,
        depth_intrinsics=di,
        color_intrinsics=ci,
        depth_to_color=d2c,
        depth_units=units,
        fps=float(dp.fps()),
        color_format=cp.format() if cp is not None else None,
    )


@dataclass
class _Item:
    kind: str  # "depth", "color", "end", "error"
    data: npt.NDArray[Any] | None = None
    intrinsics: Intrinsics | None = None
    timestamp_ms: float = 0.0
    position_ns: int = 0
    message: str = ""


_LIVE_PASSES: weakref.WeakSet[_Pass] = weakref.WeakSet()


@atexit.register
def _close_live_passes() -> None:
    """Stop playbacks the program left open before the interpreter shuts down (see close)."""
    for p in list(_LIVE_PASSES):
        p.close()


@dataclass(frozen=True)
class _Out:
    frame: DepthFrame
    rec_s: float  # recording time relative to the first depth frame


class _Pass:
    """One run of the SDK playback device from a start position to the end of the file."""

    def __init__(self, path: Path, meta: _Meta, start_ns: int, filters: FilterSettings | None):
        self.queue: queue.Queue[_Item] = queue.Queue(maxsize=4)
        self.cancelled = threading.Event()
        self._meta = meta
        self._chain = (
            DepthFilterChain(filters) if filters is not None and filters.any_enabled else None
        )
        self._ctx = rs.context()
        self._dev = self._ctx.load_device(str(path))
        self._pb = self._dev.as_playback()
        self._pb.set_real_time(False)
        ds, dp, cs, cp = _find_profiles(self._dev)
        if dp is None or _key(dp) != meta.depth_profile_key:
            raise RecordingFormatError(f"{path.name}: the depth stream changed between opens")
        self._sensors: list[Any] = []
        if cs is not None and cp is not None and cs == ds:
            ds.open([dp, cp])
            self._sensors.append(ds)
        else:
            ds.open(dp)
            self._sensors.append(ds)
            if cs is not None and cp is not None:
                cs.open(cp)
                self._sensors.append(cs)
        self._pb.set_status_changed_callback(self._on_status)
        if start_ns > 0:
            self._pb.seek(datetime.timedelta(microseconds=start_ns / 1000.0))
        for s in self._sensors:
            s.start(self._on_frame)
        _LIVE_PASSES.add(self)

    def _put(self, item: _Item) -> None:
        while not self.cancelled.is_set():
            try:
                self.queue.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    def _on_status(self, status: Any) -> None:
        if status == rs.playback_status.stopped and not self.cancelled.is_set():
            self._put(_Item("end"))

    def _on_frame(self, frame: Any) -> None:
        if self.cancelled.is_set():
            return
        try:
            pos = int(self._pb.get_position())
            st = frame.get_profile().stream_type()
            if st == rs.stream.depth:
                if self._chain is not None:
                    frame = self._chain.process(frame)
                intr = to_intrinsics(frame.get_profile().as_video_stream_profile().get_intrinsics())
                data = np.array(np.asanyarray(frame.get_data()), dtype=np.uint16, copy=True)
                item = _Item("depth", data, intr, float(frame.get_timestamp()), pos)
            elif st == rs.stream.color:
                rgb = to_rgb(np.asanyarray(frame.get_data()), frame.get_profile().format())
                item = _Item("color", rgb, None, float(frame.get_timestamp()), pos)
            else:
                return
        except Exception as exc:  # never let an exception escape into the SDK's thread
            item = _Item("error", message=str(exc))
        self._put(item)

    def close(self) -> None:
        if self.cancelled.is_set():
            return
        self.cancelled.set()
        _LIVE_PASSES.discard(self)
        with contextlib.suppress(queue.Empty):
            while True:
                self.queue.get_nowait()

        def shutdown() -> None:
            for s in self._sensors:
                with contextlib.suppress(RuntimeError):
                    s.stop()
                with contextlib.suppress(RuntimeError):
                    s.close()

        try:
            call_with_timeout(shutdown, 5.0, "stop playback sensors")
        except SdkTimeout:
            log.warning("the RealSense SDK did not stop a playback within 5 s")
            return
        # Destroy the SDK objects now, on this thread: left for interpreter shutdown, their
        # threads call back into a finalising Python and the process aborts.
        self._sensors = []
        self._pb = self._dev = self._ctx = None


class PlaybackSource:
    """A recorded ``.bag`` / ``.db3`` file as a FrameSource with PlaybackControl."""

    has_depth = True

    def __init__(
        self,
        path: str | Path,
        realtime: bool = True,
        loop: bool = False,
        speed: float = 1.0,
        filters: FilterSettings | None = None,
    ) -> None:
        self.path = Path(path)
        self.index: RecordingIndex = index_recording(self.path)
        try:
            self._meta = call_with_timeout(
                lambda: _probe(self.path), OPEN_TIMEOUT_S, "open recording"
            )
        except SdkTimeout as exc:
            raise RecordingFormatError(
                f"{self.path.name}: the RealSense SDK hung opening the file (corrupt recording?)"
            ) from exc
        except RuntimeError as exc:
            if isinstance(exc, SourceError):
                raise
            raise RecordingFormatError(f"{self.path.name}: {_one_line(exc)}") from exc
        self.realtime = realtime
        self.loop = loop
        self._speed = 1.0
        self.speed = speed
        self.filters = filters
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._generation = 0  # bumped by every control call that invalidates a wait
        self._pass: _Pass | None = None
        self._running = False
        self._finished = False
        self._paused = False
        self._show_one = False
        self._loops = 0
        self._delivered = 0
        self._position = 0.0
        self._ready: deque[tuple[_Item, _Item | None]] = deque()  # (depth, colour) to deliver
        self._pending_depth: list[_Item] = []
        self._prev_color: _Item | None = None
        self._skip_before_ns = 0
        self._anchor: tuple[float, float] | None = None  # (wall time, frame timestamp)
        self._held: _Out | None = None  # next frame, not yet due (realtime)
        self._pass_expected = 0  # depth frames the current SDK pass should deliver
        self._pass_got = 0
        self._eof = False
        self._ts_offset = 0.0  # added to SDK timestamps so that they keep rising across loops
        self._rebase = False
        self._last_ts = 0.0
        self._last_item_time = 0.0

    # -- FrameSource ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return f"Recording {self.path.name}"

    @property
    def fps(self) -> float:
        return self._meta.fps

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def depth_units(self) -> float:
        return self._meta.depth_units

    @property
    def depth_intrinsics(self) -> Intrinsics:
        """Intrinsics of the recorded depth stream (before any decimation filter)."""
        return self._meta.depth_intrinsics

    @property
    def color_intrinsics(self) -> Intrinsics | None:
        return self._meta.color_intrinsics

    @property
    def depth_to_color(self) -> Extrinsics:
        return self._meta.depth_to_color

    def start(self) -> None:
        with self._lock:
            self._running = True
            self._loops = 0
            self._ts_offset = 0.0
            self._open_at(0)

    def stop(self) -> None:
        with self._lock:
            self._running = False
            if self._pass is not None:
                self._pass.close()
                self._pass = None

    def read(self, timeout: float = 1.0) -> DepthFrame | None:
        deadline = time.monotonic() + max(0.0, timeout)
        with self._lock:
            if not self._running:
                raise SourceError(f"{self.name}: read() before start() or after stop()")
            if self._finished:
                return None
            if self._paused and not self._show_one:
                pass
            else:
                return self._read_locked(deadline)
        time.sleep(max(0.0, min(deadline - time.monotonic(), 0.05)))
        return None

    # -- PlaybackControl --------------------------------------------------------------------

    @property
    def frame_count(self) -> int:
        return self.index.frame_count

    @property
    def duration(self) -> float:
        return self.index.duration_s

    @property
    def position(self) -> float:
        return self._position

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        if not 0.01 <= float(value) <= 100.0:
            raise ValueError(f"playback speed must be within 0.01..100, got {value}")
        self._speed = float(value)
        self._anchor = None
        self._changed()

    def pause(self) -> None:
        with self._lock:
            self._paused = True
            self._changed()

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            self._show_one = False
            self._anchor = None
            self._changed()

    def step(self) -> None:
        """While paused, deliver exactly the next frame (then stay paused)."""
        with self._lock:
            if self._paused:
                self._show_one = True
                self._changed()

    def _changed(self) -> None:
        if hasattr(self, "_cond"):
            with self._cond:
                self._generation += 1
                self._cond.notify_all()

    def seek(self, seconds: float) -> None:
        """Continue from the first frame at or after ``seconds`` (clamped to the recording)."""
        with self._lock:
            if not self._running:
                raise SourceError(f"{self.name}: seek() before start()")
            times = self.index.depth_times_ns
            target = int(times[0] + min(max(float(seconds), 0.0), self.duration) * 1e9)
            k = int(np.searchsorted(times, target - _TOL_NS))
            k = min(k, times.size - 1)
            self._finished = False
            self._open_at(k)
            if self._paused:
                self._show_one = True
            self._changed()

    # -- internals --------------------------------------------------------------------------

    def _open_at(self, k: int) -> None:
        """(Re)open the SDK playback so the next frame delivered is depth frame ``k``."""
        if self._pass is not None:
            self._pass.close()
            self._pass = None
        depth_ns = int(self.index.depth_times_ns[k])
        start_ns = depth_ns
        colors = self.index.color_times_ns
        if colors.size and k > 0:
            j = int(np.searchsorted(colors, depth_ns + _TOL_NS)) - 1
            if j >= 0:
                start_ns = min(start_ns, int(colors[j]))
        self._skip_before_ns = depth_ns - _TOL_NS if k > 0 else 0
        self._pass_expected = self.index.frame_count - k
        self._pass_got = 0
        self._ready.clear()
        self._pending_depth.clear()
        self._prev_color = None
        self._held = None
        self._anchor = None
        self._eof = False
        try:
            self._pass = call_with_timeout(
                lambda: _Pass(self.path, self._meta, max(0, start_ns - _TOL_NS), self.filters),
                OPEN_TIMEOUT_S,
                "open playback",
            )
        except SdkTimeout as exc:
            raise RecordingFormatError(
                f"{self.path.name}: the RealSense SDK hung opening the file"
            ) from exc
        except RuntimeError as exc:
            if isinstance(exc, SourceError):
                raise
            raise RecordingFormatError(f"{self.path.name}: {_one_line(exc)}") from exc
        self._last_item_time = time.monotonic()

    def _read_locked(self, deadline: float) -> DepthFrame | None:
        out = self._held
        if out is None:
            out = self._next_frame(deadline)
            if out is None:
                return None
        if self.realtime and not self._show_one:
            # Wait for the frame's time on the condition (which releases the lock, so that
            # pause/seek/speed from another thread are not blocked and wake us up).
            generation = self._generation
            self._held = out
            while True:
                now = time.monotonic()
                ts = out.frame.timestamp
                if self._anchor is None or ts < self._anchor[1] or now - self._due(ts) > 0.25:
                    self._anchor = (now, ts)  # (re)start the clock, don't rush to catch up
                wait = self._due(ts) - now
                if wait <= 0:
                    break
                if now >= deadline:
                    return None  # not due yet: keep it for the next read
                self._cond.wait(min(wait, deadline - now))
                if self._generation != generation or self._paused:
                    return None
        self._held = None
        self._show_one = False
        self._position = out.rec_s
        return out.frame

    def _due(self, timestamp: float) -> float:
        assert self._anchor is not None
        wall, ts0 = self._anchor
        return wall + (timestamp - ts0) / self._speed

    def _next_frame(self, deadline: float) -> _Out | None:
        """Pull SDK items until a depth frame (paired with colour) is ready."""
        while not self._ready:
            if self._eof:
                if not self.loop:
                    self._finished = True
                    return None
                self._loops += 1
                self._rebase = True
                self._open_at(0)
                continue
            assert self._pass is not None
            remaining = deadline - time.monotonic()
            try:
                item = self._pass.queue.get(timeout=max(0.0, min(remaining, 0.5)))
            except queue.Empty:
                if time.monotonic() - self._last_item_time > STALL_TIMEOUT_S:
                    raise RecordingFormatError(
                        f"{self.path.name}: playback stalled (no frame for "
                        f"{STALL_TIMEOUT_S:g} s; corrupt recording?)"
                    ) from None
                if time.monotonic() >= deadline:
                    return None
                continue
            self._last_item_time = time.monotonic()
            if item.kind == "error":
                raise RecordingFormatError(f"{self.path.name}: {item.message}")
            if item.kind == "end":
                if self._pass_got < self._pass_expected:
                    raise RecordingFormatError(
                        f"{self.path.name}: playback ended after {self._pass_got} of "
                        f"{self._pass_expected} frames (corrupt recording?)"
                    )
                self._flush_pending()
                self._eof = True
                continue
            self._accept(item)
        depth, color = self._ready.popleft()
        return self._build(depth, color)

    def _accept(self, item: _Item) -> None:
        if item.kind == "color":
            for d in self._pending_depth:
                self._ready.append((d, self._nearer(d, self._prev_color, item)))
            self._pending_depth.clear()
            self._prev_color = item
            return
        if item.position_ns < self._skip_before_ns:
            return
        self._pass_got += 1
        if self._meta.color_profile_key is None:
            self._ready.append((item, None))
            return
        self._pending_depth.append(item)
        if len(self._pending_depth) > 2:  # colour is sparse: don't wait forever
            d = self._pending_depth.pop(0)
            self._ready.append((d, self._prev_color))

    @staticmethod
    def _nearer(d: _Item, a: _Item | None, b: _Item) -> _Item:
        if a is None:
            return b
        return a if abs(a.position_ns - d.position_ns) <= abs(b.position_ns - d.position_ns) else b

    def _flush_pending(self) -> None:
        for d in self._pending_depth:
            self._ready.append((d, self._prev_color))
        self._pending_depth.clear()

    def _build(self, depth: _Item, color: _Item | None) -> _Out:
        assert depth.data is not None and depth.intrinsics is not None
        m = self._meta
        if self._rebase:  # first frame of a new loop: one frame interval after the last one
            self._ts_offset = self._last_ts + 1.0 / m.fps - depth.timestamp_ms / 1000.0
            self._rebase = False
        has_color = color is not None and color.data is not None and m.color_intrinsics is not None
        frame = DepthFrame(
            depth=depth.data,
            depth_units=m.depth_units,
            depth_intrinsics=depth.intrinsics,
            timestamp=depth.timestamp_ms / 1000.0 + self._ts_offset,
            frame_number=self._delivered,
            color=color.data if has_color and color is not None else None,
            color_intrinsics=m.color_intrinsics if has_color else None,
            depth_to_color=m.depth_to_color,
        )
        self._delivered += 1
        self._last_ts = frame.timestamp
        rec_s = (depth.position_ns - int(self.index.depth_times_ns[0])) / 1e9
        return _Out(frame, max(0.0, round(rec_s, 6)))


#: what the RealSense SDK's own error words mean for a user (substring → one line)
SDK_WORDS = (
    ("ROSLZ4", "compressed frame data in the recording is corrupt (LZ4)"),
    ("BZ2", "compressed frame data in the recording is corrupt (BZ2)"),
    ("unindexed", "the recording has no index (it was not closed properly)"),
)


def _one_line(exc: BaseException) -> str:
    """The SDK's error as one line a user can act on."""
    text = " ".join(str(exc).split())
    for word, meaning in SDK_WORDS:
        if word.lower() in text.lower():
            return meaning
    return text or type(exc).__name__
