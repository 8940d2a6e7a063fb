"""Hue coding of depth for video codecs, and a block-coded byte strip for in-band metadata.

**Depth → colour.** Inverse depth between ``near`` and ``far`` is mapped linearly to a position
``v`` in ``0 .. 1275`` along the hue ramp red → yellow → green → cyan → blue → magenta (five
segments of 255 steps; the ramp stops at magenta so that its two ends never meet and a coding
error can't turn "near" into "far"). Invalid pixels are black. The decoder computes the hue from
``(max - min)`` of the channels, which survives the brightness and saturation changes a lossy
video codec makes; pixels that are too dark or too grey are invalid. Using inverse depth gives
fine steps near the camera and coarse ones far away, like the sensor itself.

**Bytes → strip.** Each bit is a ``BIT × BIT`` luma block, black (0) or white (1), row-major;
the decoder thresholds the mean of the central pixels of each block.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from holocall_desktop.codec.base import CodecError

U8 = npt.NDArray[np.uint8]
U16 = npt.NDArray[np.uint16]

LEVELS = 1275  # 5 hue segments of 255
#: a decoded pixel is valid when its brightest channel and its saturation reach these
MIN_VALUE = 100
MIN_CHROMA = 80
#: side of one bit block in the metadata strip, pixels
BIT = 4


def depth_to_hue(depth: U16, units: float, near: float, far: float) -> U8:
    """``(H, W, 3)`` RGB image of ``depth`` (depth units) hue-coded between ``near`` and ``far``
    metres (clamped); 0 → black."""
    valid = depth > 0
    inv_near, inv_far = 1.0 / near, 1.0 / far
    with np.errstate(divide="ignore"):
        inv = np.float32(1.0 / units) / depth.astype(np.float32)
    t = (inv - np.float32(inv_far)) * np.float32(1.0 / (inv_near - inv_far))
    np.clip(t, 0.0, 1.0, out=t)
    v = np.rint(t * LEVELS).astype(np.int32)
    seg = np.minimum(v // 255, 4)
    f = v - seg * 255  # 0..255 within the segment
    up = f.astype(np.uint8)
    down = (255 - f).astype(np.uint8)
    full = np.full(v.shape, 255, np.uint8)
    zero = np.zeros(v.shape, np.uint8)
    r = np.select([seg == 0, seg == 1, seg == 2, seg == 3], [full, down, zero, zero], up)
    g = np.select([seg == 0, seg == 1, seg == 2, seg == 3], [up, full, full, down], zero)
    b = np.select([seg == 0, seg == 1, seg == 2, seg == 3], [zero, zero, up, full], full)
    rgb = np.stack([r, g, b], axis=-1)
    rgb[~valid] = 0
    return rgb


def hue_to_depth(rgb: U8, units: float, near: float, far: float) -> U16:
    """Inverse of :func:`depth_to_hue` on a (possibly lossy) decoded image."""
    c = rgb.astype(np.int32)
    r, g, b = c[..., 0], c[..., 1], c[..., 2]
    mx = np.maximum(np.maximum(r, g), b)
    mn = np.minimum(np.minimum(r, g), b)
    chroma = mx - mn
    valid = (mx >= MIN_VALUE) & (chroma >= MIN_CHROMA)
    scale = 255.0 / np.maximum(chroma, 1).astype(np.float32)
    # hue in units of segments (0..6), HSV-style
    h = np.where(
        r == mx,
        (g - b) * scale / 255.0,
        np.where(g == mx, 2.0 + (b - r) * scale / 255.0, 4.0 + (r - g) * scale / 255.0),
    )
    # the ramp covers 0..5; negative hue (magenta side of red) wraps to 6 - |h|
    h = np.where(h < 0, h + 6.0, h)
    h = np.where(h > 5.5, 0.0, np.minimum(h, 5.0))
    t = h * np.float32(255.0 / LEVELS)
    inv_near, inv_far = 1.0 / near, 1.0 / far
    inv = t * np.float32(inv_near - inv_far) + np.float32(inv_far)
    depth = np.float32(1.0 / units) / inv
    out = np.rint(np.clip(depth, 1, 65535)).astype(np.uint16)
    out[~valid] = 0
    return out


def bytes_to_strip(data: bytes, width: int, rows: int) -> U8:
    """A ``(rows, width)`` grey image carrying ``data`` as ``BIT``-pixel blocks."""
    cols, lines = width // BIT, rows // BIT
    capacity = cols * lines
    bits = np.unpackbits(np.frombuffer(data, np.uint8))
    if bits.size > capacity:
        raise ValueError(
            f"{len(data)} bytes do not fit a {width}x{rows} strip ({capacity // 8} max)"
        )
    grid = np.zeros(capacity, np.uint8)
    grid[: bits.size] = bits * 255
    blocks = grid.reshape(lines, cols)
    strip = np.zeros((rows, width), np.uint8)
    strip[: lines * BIT, : cols * BIT] = np.repeat(np.repeat(blocks, BIT, axis=0), BIT, axis=1)
    return strip


def strip_to_bytes(strip: U8, n: int) -> bytes:
    """The first ``n`` bytes of a strip made by :func:`bytes_to_strip` (after lossy coding)."""
    rows, width = strip.shape
    cols, lines = width // BIT, rows // BIT
    if n * 8 > cols * lines:
        raise CodecError("metadata strip too small")
    blocks = strip[: lines * BIT, : cols * BIT].reshape(lines, BIT, cols, BIT).astype(np.int32)
    inner = blocks[:, 1 : BIT - 1, :, 1 : BIT - 1].mean(axis=(1, 3))
    bits = (inner.ravel()[: n * 8] >= 128).astype(np.uint8)
    return np.packbits(bits).tobytes()
