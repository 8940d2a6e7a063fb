"""The RealSense SDK depth post-processing filters, shared by the live camera and playback.

:class:`FilterSettings` switches each filter on or off with its main parameters;
:class:`DepthFilterChain` applies the enabled ones to SDK depth frames in the order librealsense
recommends: decimation → threshold → depth-to-disparity → spatial → temporal →
disparity-to-depth → hole filling. The spatial and temporal filters work in the disparity
domain, as in the SDK's own examples. Decimation changes the resolution: take the intrinsics of
the *filtered* frame's profile (the chain does not change them for you).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyrealsense2 as rs

from holocall_desktop.capture.base import SourceError


@dataclass(frozen=True)
class FilterSettings:
    """Which SDK post-processing filters run, with their main parameters (all off by default)."""

    #: Downsample depth by ``decimation_magnitude`` (2..8) in each direction (median of blocks).
    decimation: bool = False
    decimation_magnitude: int = 2
    #: Zero depth outside [threshold_min, threshold_max] metres.
    threshold: bool = False
    threshold_min: float = 0.15
    threshold_max: float = 4.0
    #: Edge-preserving spatial smoothing: alpha (0.25..1), delta (1..50 disparity steps).
    spatial: bool = False
    spatial_alpha: float = 0.5
    spatial_delta: float = 20.0
    spatial_magnitude: int = 2
    #: Temporal smoothing with persistence: alpha (0..1), delta, persistence mode (0..8).
    temporal: bool = False
    temporal_alpha: float = 0.4
    temporal_delta: float = 20.0
    temporal_persistence: int = 3
    #: Fill holes: 0 = fill from left, 1 = farthest from around, 2 = nearest from around.
    hole_filling: bool = False
    hole_filling_mode: int = 1

    def __post_init__(self) -> None:
        if not 2 <= self.decimation_magnitude <= 8:
            raise ValueError(f"decimation magnitude must be 2..8, got {self.decimation_magnitude}")
        if not 0.0 <= self.threshold_min < self.threshold_max:
            raise ValueError(
                f"threshold range must satisfy 0 <= min < max, got "
                f"{self.threshold_min}..{self.threshold_max}"
            )
        if self.hole_filling_mode not in (0, 1, 2):
            raise ValueError(f"hole filling mode must be 0, 1 or 2, got {self.hole_filling_mode}")

    @property
    def any_enabled(self) -> bool:
        return any(
            (self.decimation, self.threshold, self.spatial, self.temporal, self.hole_filling)
        )


def _set(block: Any, option: Any, value: float) -> None:
    try:
        block.set_option(option, float(value))
    except RuntimeError as exc:  # out-of-range values are reported with the option's name
        raise SourceError(f"depth filter option {option} = {value} rejected: {exc}") from exc


class DepthFilterChain:
    """The enabled filters of ``settings`` as SDK processing blocks, applied in order.

    Keeps state (the temporal filter): use one chain per stream, and a new one after a seek.
    """

    def __init__(self, settings: FilterSettings) -> None:
        self.settings = settings
        s = settings
        blocks: list[Any] = []
        if s.decimation:
            dec = rs.decimation_filter()
            _set(dec, rs.option.filter_magnitude, s.decimation_magnitude)
            blocks.append(dec)
        if s.threshold:
            thr = rs.threshold_filter()
            _set(thr, rs.option.min_distance, s.threshold_min)
            _set(thr, rs.option.max_distance, s.threshold_max)
            blocks.append(thr)
        if s.spatial or s.temporal:
            blocks.append(rs.disparity_transform(True))
            if s.spatial:
                sp = rs.spatial_filter()
                _set(sp, rs.option.filter_magnitude, s.spatial_magnitude)
                _set(sp, rs.option.filter_smooth_alpha, s.spatial_alpha)
                _set(sp, rs.option.filter_smooth_delta, s.spatial_delta)
                blocks.append(sp)
            if s.temporal:
                tp = rs.temporal_filter()
                _set(tp, rs.option.filter_smooth_alpha, s.temporal_alpha)
                _set(tp, rs.option.filter_smooth_delta, s.temporal_delta)
                _set(tp, rs.option.holes_fill, s.temporal_persistence)
                blocks.append(tp)
            blocks.append(rs.disparity_transform(False))
        if s.hole_filling:
            hf = rs.hole_filling_filter()
            _set(hf, rs.option.holes_fill, s.hole_filling_mode)
            blocks.append(hf)
        self._blocks = blocks

    def __len__(self) -> int:
        return len(self._blocks)

    def process(self, frame: Any) -> Any:
        """Filter one SDK depth frame; returns an SDK depth frame (possibly smaller)."""
        for block in self._blocks:
            frame = block.process(frame)
        return frame
