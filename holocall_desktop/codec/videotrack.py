"""The video-track volumetric codec (``hue-video``): depth and colour packed into one RGB image.

Metavido-style layout of the packed image (``2·Wp`` wide, ``S + Hp`` high, ``Wp``/``Hp`` the
depth size rounded up to a multiple of 16, ``S`` the metadata strip height)::

    +-----------------------------+-----------------------------+
    | metadata strip (S rows): header bytes as 4x4 black/white blocks                |
    +-----------------------------+-----------------------------+
    | colour, resized to W x H    | depth, hue-coded (huecode)  |
    +-----------------------------+-----------------------------+

The transport wraps the image in an ``av.VideoFrame`` and sends it on a VP8/H.264 track; the
receiver gives the decoded RGB image to :class:`VideoTrackDecoder`. The header (byte layout in
``docs/codec.md``) carries frame number, timestamp, depth units, the hue range and the
intrinsics/extrinsics, protected by a CRC-32. The depth range (near/far) follows the person,
rounded to 25 cm so that it rarely changes (a change recolours the whole depth half).
"""

from __future__ import annotations

import math
import struct
import zlib

import cv2
import numpy as np
import numpy.typing as npt

from holocall_desktop.codec import huecode
from holocall_desktop.codec.base import (
    VIDEOTRACK,
    CodecError,
    Decoder,
    Encoder,
    Quality,
    VolumetricCodec,
)
from holocall_desktop.codec.volumetric import decimate
from holocall_desktop.codec.wire import MAX_SIDE, check_size
from holocall_desktop.model import DepthFrame, Extrinsics, Intrinsics

U8 = npt.NDArray[np.uint8]

MAGIC = b"HT"
VERSION = 1
FLAG_COLOR = 0x01
HEAD = struct.Struct("<2sBBIdfff")
INTR = struct.Struct("<HH4fB5f")
EXTR = struct.Struct("<12f")
CRC = struct.Struct("<I")
HEADER_BYTES = HEAD.size + 2 * INTR.size + EXTR.size + CRC.size
ALIGN = 16
#: distortion models by index (pyrealsense2's ``rs.distortion`` names)
MODELS = (
    "none",
    "modified_brown_conrady",
    "inverse_brown_conrady",
    "ftheta",
    "brown_conrady",
    "kannala_brandt4",
)
RANGE_STEP = 0.25


def _align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def strip_rows(packed_width: int) -> int:
    """Height of the metadata strip for a packed image ``packed_width`` pixels wide."""
    bits_per_block_row = packed_width // huecode.BIT
    if bits_per_block_row == 0:
        raise CodecError(f"packed image {packed_width} px wide is too narrow")
    block_rows = -(-HEADER_BYTES * 8 // bits_per_block_row)
    return _align(block_rows * huecode.BIT)


def _pack_intr(intr: Intrinsics | None) -> bytes:
    if intr is None:
        return bytes(INTR.size)
    model = MODELS.index(intr.model) if intr.model in MODELS else 255
    return INTR.pack(
        intr.width, intr.height, intr.fx, intr.fy, intr.ppx, intr.ppy, model, *intr.coeffs
    )


def _unpack_intr(data: bytes, what: str) -> Intrinsics:
    w, h, fx, fy, ppx, ppy, model, *coeffs = INTR.unpack(data)
    check_size(w, h, what)
    vals = [fx, fy, ppx, ppy, *coeffs]
    if not all(math.isfinite(x) for x in vals) or fx <= 0 or fy <= 0:
        raise CodecError(f"{what}: invalid intrinsics")
    name = MODELS[model] if model < len(MODELS) else "none"
    c = [float(x) for x in coeffs]
    return Intrinsics(
        w, h, float(fx), float(fy), float(ppx), float(ppy), name, (c[0], c[1], c[2], c[3], c[4])
    )


def depth_range(depth: npt.NDArray[np.uint16], units: float) -> tuple[float, float]:
    """A near/far pair around the valid depth, on a ``RANGE_STEP`` grid."""
    valid = depth[depth > 0]
    if valid.size == 0:
        return 0.5, 3.0
    lo = float(valid.min()) * units - 0.05
    hi = float(valid.max()) * units + 0.05
    near = max(RANGE_STEP, math.floor(lo / RANGE_STEP) * RANGE_STEP)
    far = max(near + RANGE_STEP, math.ceil(hi / RANGE_STEP) * RANGE_STEP)
    return near, far


def pack_frame(
    frame: DepthFrame, quality: Quality, depth_range_m: tuple[float, float] | None = None
) -> U8:
    """The packed RGB image of ``frame`` (see module doc)."""
    depth, dintr = decimate(frame, quality.decimation)
    h, w = depth.shape
    wp, hp = _align(w), _align(h)
    s = strip_rows(2 * wp)
    near, far = depth_range_m or depth_range(depth, frame.depth_units)
    image = np.zeros((s + hp, 2 * wp, 3), np.uint8)
    image[s : s + h, wp : wp + w] = huecode.depth_to_hue(depth, frame.depth_units, near, far)
    cintr: Intrinsics | None = None
    if frame.color is not None and frame.color_intrinsics is not None:
        ci = frame.color_intrinsics
        sx, sy = w / ci.width, h / ci.height
        cintr = Intrinsics(
            w, h, ci.fx * sx, ci.fy * sy, ci.ppx * sx, ci.ppy * sy, ci.model, ci.coeffs
        )
        color = frame.color
        if color.shape[:2] != (h, w):
            color = np.asarray(cv2.resize(color, (w, h), interpolation=cv2.INTER_AREA), np.uint8)
        image[s : s + h, :w] = color
    extr = frame.depth_to_color
    body = b"".join(
        [
            HEAD.pack(
                MAGIC,
                VERSION,
                FLAG_COLOR if cintr else 0,
                frame.frame_number & 0xFFFFFFFF,
                float(frame.timestamp),
                frame.depth_units,
                near,
                far,
            ),
            _pack_intr(dintr),
            _pack_intr(cintr),
            EXTR.pack(*np.concatenate([extr.rotation.ravel(), extr.translation]).tolist()),
        ]
    )
    header = body + CRC.pack(zlib.crc32(body))
    image[:s] = huecode.bytes_to_strip(header, 2 * wp, s)[..., None]
    return image


def unpack_frame(image: U8, erode: int = 1) -> DepthFrame:
    """Inverse of :func:`pack_frame` on a decoded (lossy) image; :class:`CodecError` if the
    image is not a packed frame or its header is damaged."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3:
        raise CodecError("packed frame must be an (H, W, 3) uint8 image")
    total_h, total_w = image.shape[:2]
    if image.shape[2] != 3 or total_w % (2 * ALIGN) or total_w > 2 * MAX_SIDE:
        raise CodecError(f"packed frame size {total_w}x{total_h} is not a packed layout")
    s = strip_rows(total_w)
    if total_h <= s:
        raise CodecError(f"packed frame {total_w}x{total_h} is shorter than its metadata strip")
    grey = image[:s].mean(axis=2).astype(np.uint8)
    header = huecode.strip_to_bytes(grey, HEADER_BYTES)
    body, (crc,) = header[: -CRC.size], CRC.unpack(header[-CRC.size :])
    if zlib.crc32(body) != crc:
        raise CodecError("packed frame metadata is damaged (checksum mismatch)")
    magic, version, flags, fnum, ts, units, near, far = HEAD.unpack_from(body)
    if magic != MAGIC:
        raise CodecError("not a packed volumetric frame")
    if version != VERSION:
        raise CodecError(f"unsupported packed frame version {version} (this build reads {VERSION})")
    o = HEAD.size
    dintr = _unpack_intr(body[o : o + INTR.size], "depth intrinsics")
    o += INTR.size
    cbytes = body[o : o + INTR.size]
    o += INTR.size
    rot_t = np.array(EXTR.unpack_from(body, o), dtype=np.float64)
    if not (
        math.isfinite(ts)
        and units > 0
        and 0 < near < far
        and math.isfinite(far)
        and np.all(np.isfinite(rot_t))
    ):
        raise CodecError("packed frame header holds impossible values")
    w, h = dintr.width, dintr.height
    wp = total_w // 2
    if w > wp or s + h > total_h:
        raise CodecError(f"depth {w}x{h} does not fit the packed frame {total_w}x{total_h}")
    depth = huecode.hue_to_depth(image[s : s + h, wp : wp + w], units, near, far)
    if erode > 0:
        k = np.ones((2 * erode + 1, 2 * erode + 1), np.uint8)
        keep = cv2.erode((depth > 0).astype(np.uint8), k).astype(bool)
        depth[~keep] = 0
    color = None
    cintr = None
    if flags & FLAG_COLOR:
        cintr = _unpack_intr(cbytes, "colour intrinsics")
        if (cintr.width, cintr.height) != (w, h):
            raise CodecError("colour of a packed frame must have the depth size")
        color = np.ascontiguousarray(image[s : s + h, :w])
    try:
        return DepthFrame(
            depth=depth,
            depth_units=float(units),
            depth_intrinsics=dintr,
            timestamp=float(ts),
            frame_number=int(fnum),
            color=color,
            color_intrinsics=cintr,
            depth_to_color=Extrinsics(rot_t[:9].reshape(3, 3), rot_t[9:]),
        )
    except ValueError as exc:  # DepthFrame's own checks
        raise CodecError(f"inconsistent frame: {exc}") from None


class VideoTrackEncoder(Encoder[U8]):
    """Packs frames for a video track. ``depth_range_m`` fixes near/far (metres); by default it
    follows the person."""

    def __init__(
        self, quality: Quality | None = None, depth_range_m: tuple[float, float] | None = None
    ) -> None:
        super().__init__(quality)
        self.depth_range_m = depth_range_m

    def _encode(self, frame: DepthFrame) -> list[U8]:
        return [pack_frame(frame, self.quality, self.depth_range_m)]


class VideoTrackDecoder(Decoder[U8]):
    """Unpacks decoded video frames. ``erode`` pixels are removed from every edge of the valid
    depth, where the codec blends depth with the black background."""

    def __init__(self, erode: int = 1) -> None:
        self.erode = erode

    def decode_whole(self, whole: U8) -> DepthFrame:
        return unpack_frame(whole, self.erode)


class HueVideoCodec(VolumetricCodec[U8]):
    """Hue-coded depth beside colour in one frame of a VP8/H.264 video track."""

    transport = VIDEOTRACK

    @classmethod
    def encoder(cls, quality: Quality | None = None) -> VideoTrackEncoder:
        return VideoTrackEncoder(quality)

    @classmethod
    def decoder(cls) -> VideoTrackDecoder:
        return VideoTrackDecoder()
