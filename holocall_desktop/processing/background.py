"""Background removal on depth frames: keep a depth range, optionally only the largest blob.

Everything is vectorised: a range test on the whole image, and for ``largest_component`` one
call to OpenCV's connected-components labelling (8-connectivity) on the foreground mask.
"""

from __future__ import annotations

import cv2
import numpy as np

from holocall_desktop.model import DepthFrame


def foreground_mask(
    frame: DepthFrame, near: float = 0.2, far: float = 2.0, largest_component: bool = False
) -> np.ndarray[tuple[int, int], np.dtype[np.bool_]]:
    """Pixels kept by :func:`remove_background` (valid depth within ``[near, far]`` metres)."""
    if not 0.0 <= near < far:
        raise ValueError(f"need 0 <= near < far, got near={near}, far={far}")
    units = frame.depth_units
    lo = max(1, int(np.ceil(near / units - 1e-9)))
    hi = int(np.floor(far / units + 1e-9))
    depth = frame.depth
    mask: np.ndarray[tuple[int, int], np.dtype[np.bool_]] = (depth >= lo) & (depth <= hi)
    if largest_component and mask.any():
        count, labels, stats, _ = cv2.connectedComponentsWithStats(
            mask.view(np.uint8), connectivity=8, ltype=cv2.CV_32S
        )
        if count > 2:  # label 0 is the background
            biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
            mask = labels == biggest
    return mask


def remove_background(
    frame: DepthFrame, near: float = 0.2, far: float = 2.0, largest_component: bool = False
) -> DepthFrame:
    """A new frame whose depth is 0 outside ``[near, far]`` metres (and outside the largest
    connected blob when ``largest_component``). Colour and calibration are shared, not copied.
    """
    mask = foreground_mask(frame, near, far, largest_component)
    depth = np.where(mask, frame.depth, np.uint16(0)).astype(np.uint16, copy=False)
    return frame.with_depth(depth)
