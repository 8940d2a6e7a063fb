"""Live Intel RealSense camera (D400 family) as a FrameSource.

Streams depth (z16) and colour (rgb8) through an ``rs.pipeline`` at a mode validated against the
device's own stream profiles, applies the SDK post-processing filters of :class:`FilterSettings`
(see :mod:`.filters`; intrinsics are taken from the *filtered* depth frame, so decimation is
accounted for), and reports an unplugged camera as :class:`DeviceDisconnectedError` (from the
SDK's devices-changed callback, or when no frame arrives for ``DISCONNECT_AFTER_S`` while the
device is no longer listed).

No camera exists on the development machine: this module is exercised there only through
``list_devices`` (empty) and the "no camera" error; the filter chain it uses is tested on
recorded frames through :class:`~holocall_desktop.capture.playback.PlaybackSource`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyrealsense2 as rs

from holocall_desktop.capture.base import DeviceDisconnectedError, SourceError
from holocall_desktop.capture.filters import DepthFilterChain, FilterSettings
from holocall_desktop.capture.rsutil import depth_units_of, to_extrinsics, to_intrinsics, to_rgb
from holocall_desktop.model import DepthFrame, Extrinsics, Intrinsics

__all__ = ["DeviceInfo", "FilterSettings", "RealSenseSource", "list_devices"]

#: With the device gone from the device list, this long without frames means "unplugged".
DISCONNECT_AFTER_S = 2.0
#: Without any frame for this long the camera is treated as gone even if still listed.
STALL_AFTER_S = 10.0


@dataclass(frozen=True)
class DeviceInfo:
    name: str
    serial: str
    firmware: str
    usb_type: str
    product_line: str = ""


def _info(dev: Any, field: Any) -> str:
    try:
        return str(dev.get_info(field)) if dev.supports(field) else ""
    except RuntimeError:
        return ""


def list_devices() -> list[DeviceInfo]:
    """Connected RealSense devices (empty when there are none or the SDK cannot enumerate)."""
    try:
        devices = list(rs.context().query_devices())
    except RuntimeError:
        return []
    ci = rs.camera_info
    return [
        DeviceInfo(
            name=_info(d, ci.name),
            serial=_info(d, ci.serial_number),
            firmware=_info(d, ci.firmware_version),
            usb_type=_info(d, ci.usb_type_descriptor),
            product_line=_info(d, ci.product_line),
        )
        for d in devices
    ]


def _modes(sensor: Any, stream: Any, fmt: Any) -> set[tuple[int, int, int]]:
    out: set[tuple[int, int, int]] = set()
    for p in sensor.get_stream_profiles():
        if p.stream_type() == stream and p.format() == fmt and p.is_video_stream_profile():
            v = p.as_video_stream_profile()
            out.add((int(v.width()), int(v.height()), int(p.fps())))
    return out


class RealSenseSource:
    """A live RealSense camera. ``serial=None`` takes the first device found."""

    has_depth = True

    def __init__(
        self,
        serial: str | None = None,
        width: int = 848,
        height: int = 480,
        fps: int = 30,
        filters: FilterSettings | None = None,
        record_to: str | Path | None = None,
    ) -> None:
        self.serial = serial
        self.width, self.height, self._fps = int(width), int(height), int(fps)
        self.filters = filters if filters is not None else FilterSettings()
        #: A ``.db3`` path to record the raw streams to with the SDK's recorder, set before start.
        self.record_to = Path(record_to) if record_to is not None else None
        self._pipeline: Any = None
        self._chain: DepthFilterChain | None = None
        self._ctx: Any = None
        self._gone = threading.Event()
        self._device_name = "RealSense"
        self._depth_units = 0.001
        self._color_intr: Intrinsics | None = None
        self._color_fmt: Any = None
        self._d2c = Extrinsics()
        self._count = 0
        self._last_frame = 0.0

    @property
    def name(self) -> str:
        return f"{self._device_name} {self.serial or ''}".strip()

    @property
    def fps(self) -> float:
        return float(self._fps)

    @property
    def finished(self) -> bool:
        return False

    def _pick_device(self, ctx: Any) -> Any:
        devices = list(ctx.query_devices())
        if not devices:
            raise SourceError(
                "No RealSense camera found: connect one (USB 3) or choose a recording"
            )
        if self.serial is None:
            return devices[0]
        for d in devices:
            if _info(d, rs.camera_info.serial_number) == self.serial:
                return d
        found = ", ".join(_info(d, rs.camera_info.serial_number) for d in devices)
        raise SourceError(f"No RealSense camera with serial {self.serial} (found: {found})")

    def start(self) -> None:
        try:
            self._start()
        except RuntimeError as exc:
            if isinstance(exc, SourceError):
                raise
            raise SourceError(
                f"RealSense camera could not start: {' '.join(str(exc).split())}"
            ) from exc

    def _start(self) -> None:
        ctx = rs.context()
        dev = self._pick_device(ctx)
        self.serial = _info(dev, rs.camera_info.serial_number)
        self._device_name = _info(dev, rs.camera_info.name) or "RealSense"
        depth_sensor = dev.first_depth_sensor()
        mode = (self.width, self.height, self._fps)
        depth_modes = _modes(depth_sensor, rs.stream.depth, rs.format.z16)
        if mode not in depth_modes:
            usable = ", ".join(f"{w}x{h}@{f}" for w, h, f in sorted(depth_modes, reverse=True))
            raise SourceError(
                f"{self._device_name} cannot stream depth at {self.width}x{self.height} "
                f"@ {self._fps} fps; it offers {usable}"
            )
        color_mode = None
        for sensor in dev.query_sensors():
            cmodes = _modes(sensor, rs.stream.color, rs.format.rgb8)
            if mode in cmodes:
                color_mode = mode
            elif cmodes:
                same_fps = sorted(m for m in cmodes if m[2] == self._fps)
                color_mode = color_mode or (same_fps[-1] if same_fps else None)
        cfg = rs.config()
        cfg.enable_device(self.serial)
        cfg.enable_stream(rs.stream.depth, self.width, self.height, rs.format.z16, self._fps)
        if color_mode is not None:
            w, h, f = color_mode
            cfg.enable_stream(rs.stream.color, w, h, rs.format.rgb8, f)
        if self.record_to is not None:
            cfg.enable_record_to_file(str(self.record_to))
        self._gone.clear()
        ctx.set_devices_changed_callback(self._on_devices_changed)
        self._ctx = ctx
        pipe = rs.pipeline(ctx)
        profile = pipe.start(cfg)
        self._pipeline = pipe
        self._depth_units = depth_units_of(depth_sensor.get_depth_scale())
        dprof = profile.get_stream(rs.stream.depth)
        self._color_intr = None
        if color_mode is not None:
            cprof = profile.get_stream(rs.stream.color)
            self._color_intr = to_intrinsics(cprof.as_video_stream_profile().get_intrinsics())
            self._color_fmt = cprof.format()
            self._d2c = to_extrinsics(dprof.get_extrinsics_to(cprof))
        self._chain = DepthFilterChain(self.filters) if self.filters.any_enabled else None
        self._last_frame = time.monotonic()

    def _on_devices_changed(self, info: Any) -> None:
        with contextlib.suppress(Exception):
            for d in info.get_removed_devices():
                if _info(d, rs.camera_info.serial_number) in ("", self.serial):
                    self._gone.set()

    def _disconnected(self) -> DeviceDisconnectedError:
        return DeviceDisconnectedError(
            f"The RealSense camera was disconnected ({self.name}); reconnect it and start again"
        )

    def _still_listed(self) -> bool:
        return any(d.serial == self.serial for d in list_devices())

    def read(self, timeout: float = 1.0) -> DepthFrame | None:
        if self._pipeline is None:
            raise SourceError("RealSense camera: read() before start() or after stop()")
        if self._gone.is_set():
            raise self._disconnected()
        try:
            ok, frames = self._pipeline.try_wait_for_frames(max(1, int(timeout * 1000)))
        except RuntimeError as exc:
            raise self._disconnected() from exc
        now = time.monotonic()
        if not ok:
            quiet = now - self._last_frame
            if self._gone.is_set() or quiet > STALL_AFTER_S:
                raise self._disconnected()
            if quiet > DISCONNECT_AFTER_S and not self._still_listed():
                raise self._disconnected()
            return None
        self._last_frame = now
        depth = frames.get_depth_frame()
        if not depth:
            return None
        if self._chain is not None:
            depth = self._chain.process(depth)
        intr = to_intrinsics(depth.get_profile().as_video_stream_profile().get_intrinsics())
        color = frames.get_color_frame() if self._color_intr is not None else None
        rgb = to_rgb(np.asanyarray(color.get_data()), self._color_fmt) if color else None
        frame = DepthFrame(
            depth=np.array(np.asanyarray(depth.get_data()), dtype=np.uint16, copy=True),
            depth_units=self._depth_units,
            depth_intrinsics=intr,
            timestamp=float(depth.get_timestamp()) / 1000.0,
            frame_number=self._count,
            color=rgb,
            color_intrinsics=self._color_intr if rgb is not None else None,
            depth_to_color=self._d2c,
        )
        self._count += 1
        return frame

    def stop(self) -> None:
        pipe, self._pipeline = self._pipeline, None
        if pipe is not None:
            with contextlib.suppress(RuntimeError):
                pipe.stop()  # also finalises a recording made with record_to
