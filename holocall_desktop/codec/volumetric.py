"""The data-channel volumetric codec (``volumetric-dc``): one frame in, a few messages out.

Depth is coded near-losslessly (see :mod:`.depthcode`: inverse-depth quantisation with a step
derived from the sensor's accuracy, a 2-D predictor, zstd); colour is cropped to the person and
coded as JPEG, with blocks that no person pixel projects into flattened. Every frame is
self-contained (a keyframe): the channel is unordered and lossy, and inter frames did not pay
off (``docs/codec.md``). The byte layout is in ``docs/codec.md``.
"""

from __future__ import annotations

import io
import secrets
import struct
import zlib

import cv2
import numpy as np
import numpy.typing as npt
import zstandard
from PIL import Image

from holocall_desktop.codec import depthcode as dc
from holocall_desktop.codec.base import (
    DATACHANNEL,
    MAX_MESSAGE_BYTES,
    CodecError,
    Decoder,
    Encoder,
    Quality,
    VolumetricCodec,
)
from holocall_desktop.codec.fragment import Reassembler, fragment
from holocall_desktop.codec.wire import (
    Reader,
    pack_extrinsics,
    pack_intrinsics,
)
from holocall_desktop.model import DepthFrame, Extrinsics, Intrinsics

MAGIC = b"VF"
VERSION = 1
FLAG_COLOR = 0x01
FLAG_KEY = 0x02

FIXED = struct.Struct("<2sBBQdfd4H8I")
COLOR_FIXED = struct.Struct("<B4HI")
COLOR_FORMATS = {"jpeg": 1, "webp": 2}
#: libwebp effort 0..6: 2 is ~3 ms for a person at 848x480, within 5 % of the bytes of 4
WEBP_METHOD = 2
CRC = struct.Struct("<I")

#: colour blocks no person pixel falls in are flattened to this grey (cheap for JPEG)
BLOCK = 16
FILL = 128
#: every STRIDE-th valid depth pixel (both directions) is projected to find the colour region
STRIDE = 3
#: margin around the projected person in the colour image, pixels (covers the stride too)
MARGIN = 8

ZSTD_LEVEL = 1


def decimate(frame: DepthFrame, k: int) -> tuple[npt.NDArray[np.uint16], Intrinsics]:
    """Every ``k``-th depth pixel and the intrinsics of that grid (integer pixel = centre)."""
    intr = frame.depth_intrinsics
    if k == 1:
        return frame.depth, intr
    depth = np.ascontiguousarray(frame.depth[::k, ::k])
    h, w = depth.shape
    return depth, Intrinsics(
        w, h, intr.fx / k, intr.fy / k, intr.ppx / k, intr.ppy / k, intr.model, intr.coeffs
    )


def project_to_color(
    depth: npt.NDArray[np.uint16],
    units: float,
    depth_intr: Intrinsics,
    color_intr: Intrinsics,
    extr: Extrinsics,
    stride: int = 1,
) -> npt.NDArray[np.float32]:
    """Colour-image pixel coordinates ``(N, 2)`` of the valid depth pixels (every ``stride``-th).

    Pinhole model without distortion, integer pixel coordinates at pixel centres (as
    ``processing.deproject``). Points behind the colour camera are left out.
    """
    sub = depth[::stride, ::stride]
    v, u = np.nonzero(sub)
    z = sub[v, u].astype(np.float32) * np.float32(units)
    x = (u.astype(np.float32) * stride - depth_intr.ppx) / depth_intr.fx * z
    y = (v.astype(np.float32) * stride - depth_intr.ppy) / depth_intr.fy * z
    pts = np.stack([x, y, z], axis=1) @ extr.rotation.T.astype(np.float32)
    pts += extr.translation.astype(np.float32)
    front = pts[:, 2] > 1e-6
    pts = pts[front]
    uc = pts[:, 0] / pts[:, 2] * color_intr.fx + color_intr.ppx
    vc = pts[:, 1] / pts[:, 2] * color_intr.fy + color_intr.ppy
    return np.stack([uc, vc], axis=1).astype(np.float32)


def _color_box(
    uv: npt.NDArray[np.float32], width: int, height: int
) -> tuple[int, int, int, int] | None:
    inside = (uv[:, 0] > -MARGIN) & (uv[:, 0] < width + MARGIN)
    inside &= (uv[:, 1] > -MARGIN) & (uv[:, 1] < height + MARGIN)
    uv = uv[inside]
    if uv.shape[0] == 0:
        return None
    x0 = max(0, int(np.floor(uv[:, 0].min())) - MARGIN)
    y0 = max(0, int(np.floor(uv[:, 1].min())) - MARGIN)
    x1 = min(width, int(np.ceil(uv[:, 0].max())) + MARGIN + 1)
    y1 = min(height, int(np.ceil(uv[:, 1].max())) + MARGIN + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1 - x0, y1 - y0


def _flatten_unused_blocks(
    crop: npt.NDArray[np.uint8], uv: npt.NDArray[np.float32], x0: int, y0: int
) -> None:
    """Set every ``BLOCK``² block of ``crop`` that no projected point (dilated by one block)
    falls into to ``FILL``, in place."""
    h, w = crop.shape[:2]
    bh, bw = -(-h // BLOCK), -(-w // BLOCK)
    bx = np.floor((uv[:, 0] - x0) / BLOCK).astype(np.int64)
    by = np.floor((uv[:, 1] - y0) / BLOCK).astype(np.int64)
    ok = (bx >= 0) & (bx < bw) & (by >= 0) & (by < bh)
    used = np.zeros((bh + 2, bw + 2), dtype=np.uint8)
    used[by[ok] + 1, bx[ok] + 1] = 1
    grown = cv2.dilate(used, np.ones((3, 3), np.uint8))[1:-1, 1:-1].astype(bool)
    if grown.all():
        return
    full = cv2.resize(
        grown.astype(np.uint8), (bw * BLOCK, bh * BLOCK), interpolation=cv2.INTER_NEAREST
    )[:h, :w]
    cv2.copyTo(np.full_like(crop, FILL), (full == 0).astype(np.uint8), crop)  # in place


def _int(value: object) -> int:
    assert isinstance(value, int)
    return value


def decode_image(data: memoryview, fmt: int, width: int, height: int) -> npt.NDArray[np.uint8]:
    """Decode a JPEG/WebP colour crop after checking its format and size from its header."""
    names = {v: k for k, v in COLOR_FORMATS.items()}
    if fmt not in names:
        raise CodecError(f"unknown colour format {fmt}")
    try:
        with Image.open(io.BytesIO(data), formats=[names[fmt].upper()]) as im:
            if im.size != (width, height):
                raise CodecError(f"colour image is {im.size}, header says {(width, height)}")
            rgb = np.asarray(im.convert("RGB"))
    except CodecError:
        raise
    except Exception as exc:  # Pillow raises many types for corrupt images
        raise CodecError(f"colour image does not decode: {exc}") from None
    if rgb.shape != (height, width, 3):
        raise CodecError("colour image decodes to the wrong shape")
    return rgb


#: parity messages per data message of a frame (and one more): measured across an emulated
#: link at 5 % random loss, a frame kept whole lost 85 % of frames (one lost packet of ~16
#: lost its frame); with this parity nearly all arrive (docs/codec.md, Fragments)
DEFAULT_PARITY = 0.25


class VolumetricEncoder(Encoder[bytes]):
    """Encodes frames into data-channel messages (see :func:`encode_payload`); ``parity`` > 0
    adds erasure-code messages (:func:`~holocall_desktop.codec.fragment.fragment`)."""

    def __init__(
        self,
        quality: Quality | None = None,
        max_message: int = MAX_MESSAGE_BYTES,
        first_frame_id: int | None = None,
        parity: float = DEFAULT_PARITY,
    ) -> None:
        super().__init__(quality)
        self.max_message = max_message
        self.parity = parity
        self._zstd = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
        # random by default, so that a receiver does not take a restarted sender's frames for
        # late ones of the previous stream
        if first_frame_id is None:
            first_frame_id = secrets.randbits(32)
        self._frame_id = first_frame_id & 0xFFFFFFFF

    def _encode(self, frame: DepthFrame) -> list[bytes]:
        payload = encode_payload(frame, self.quality, self._zstd)
        messages = fragment(payload, self._frame_id, self.max_message, self.parity)
        self._frame_id = (self._frame_id + 1) & 0xFFFFFFFF
        return messages


def encode_payload(
    frame: DepthFrame, quality: Quality, compressor: zstandard.ZstdCompressor | None = None
) -> bytes:
    """The whole encoded frame, before fragmentation."""
    zc = compressor or zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    depth, dintr = decimate(frame, quality.decimation)
    k = dc.quantiser_constant(quality.depth_step_at_1m, frame.depth_units)
    mask_full = depth > 0
    if k >= float(depth.max(initial=0)) ** 2:  # the step is below one unit at every depth here
        k = 0.0
    x0, y0, bw, bh = dc.bounding_box(mask_full)
    box_depth = depth[y0 : y0 + bh, x0 : x0 + bw]
    codes = dc.quantise(box_depth, k)
    mask = codes > 0
    runs = dc.mask_runs(mask) if bw else np.zeros(0, np.int64)
    residuals = dc.predict_levels(codes, mask) if bw else np.zeros(0, np.int64)
    run_parts = dc.pack_unsigned(runs)
    res_parts = dc.pack_nibbles(dc.zigzag(residuals))
    zdepth = zc.compress(
        b"".join(p.astype(p.dtype.newbyteorder("<")).tobytes() for p in (*run_parts, *res_parts))
    )

    has_color = frame.color is not None and frame.color_intrinsics is not None and bw > 0
    color_part = b""
    if has_color:
        color_part = _encode_color(frame, depth, dintr, quality)
        has_color = bool(color_part)
    flags = FLAG_KEY | (FLAG_COLOR if has_color else 0)
    head = FIXED.pack(
        MAGIC,
        VERSION,
        flags,
        frame.frame_number & 0xFFFFFFFFFFFFFFFF,
        float(frame.timestamp),
        frame.depth_units,
        k,
        x0,
        y0,
        bw,
        bh,
        len(zdepth),
        *(int(p.size) for p in run_parts),
        int(residuals.size),
        *(int(p.size) for p in res_parts[1:]),
    )
    body = b"".join([head, pack_intrinsics(dintr), zdepth, color_part])
    return body + CRC.pack(zlib.crc32(body))


def _encode_color(
    frame: DepthFrame, depth: npt.NDArray[np.uint16], dintr: Intrinsics, quality: Quality
) -> bytes:
    assert frame.color is not None and frame.color_intrinsics is not None
    cintr = frame.color_intrinsics
    scale = quality.color_scale
    sintr = cintr if scale == 1.0 else cintr.scaled(scale)
    uv = project_to_color(depth, frame.depth_units, dintr, sintr, frame.depth_to_color, STRIDE)
    box = _color_box(uv, sintr.width, sintr.height)
    if box is None:
        return b""
    cx, cy, cw, ch = box
    if scale == 1.0:
        crop = frame.color[cy : cy + ch, cx : cx + cw]
    else:
        fx0, fy0 = int(cx / scale), int(cy / scale)
        fx1 = min(cintr.width, int(np.ceil((cx + cw) / scale)))
        fy1 = min(cintr.height, int(np.ceil((cy + ch) / scale)))
        crop = np.asarray(
            cv2.resize(frame.color[fy0:fy1, fx0:fx1], (cw, ch), interpolation=cv2.INTER_AREA),
            dtype=np.uint8,
        )
    crop = np.array(crop, copy=True)
    _flatten_unused_blocks(crop, uv, cx, cy)
    if quality.color_format == "webp":
        buf = io.BytesIO()
        Image.fromarray(crop).save(
            buf, "WEBP", quality=int(quality.color_quality), method=WEBP_METHOD
        )
        data = buf.getvalue()
    else:
        bgr = cv2.cvtColor(crop, cv2.COLOR_RGB2BGR)
        ok, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality.color_quality)])
        if not ok:
            raise CodecError("JPEG encoding failed")
        data = jpeg.tobytes()
    return b"".join(
        [
            pack_intrinsics(sintr),
            pack_extrinsics(frame.depth_to_color),
            COLOR_FIXED.pack(COLOR_FORMATS[quality.color_format], cx, cy, cw, ch, len(data)),
            data,
        ]
    )


def decode_payload(payload: bytes | memoryview) -> DepthFrame:
    """Inverse of :func:`encode_payload`; :class:`CodecError` for anything malformed."""
    data = memoryview(payload)
    if len(data) < FIXED.size + CRC.size:
        raise CodecError(f"truncated frame: {len(data)} bytes")
    if bytes(data[:2]) != MAGIC:
        raise CodecError(f"not a volumetric frame (magic {bytes(data[:2])!r})")
    if data[2] != VERSION:
        raise CodecError(
            f"unsupported volumetric frame version {data[2]} (this build reads {VERSION})"
        )
    (crc,) = CRC.unpack(data[-CRC.size :])
    body = data[: -CRC.size]
    if zlib.crc32(body) != crc:
        raise CodecError("frame checksum mismatch (corrupt or truncated)")
    return _parse(body)


def _parse(body: memoryview) -> DepthFrame:
    rd = Reader(body)
    fields = rd.unpack(FIXED, "header")
    flags, fnum = _int(fields[2]), _int(fields[3])
    ts, units, k = (float(fields[i]) for i in (4, 5, 6))  # type: ignore[arg-type]
    x0, y0, bw, bh, zlen = (_int(v) for v in fields[7:12])
    counts = [_int(v) for v in fields[12:19]]
    n_runs, n_run_mid, n_run_huge, n_valid, n_res_esc, n_res_mid, n_res_huge = counts
    if flags & ~(FLAG_COLOR | FLAG_KEY):
        raise CodecError(f"unknown flags {flags:#x}")
    if not flags & FLAG_KEY:
        raise CodecError("inter frames are not part of format version 1")
    if not (np.isfinite(units) and units > 0 and np.isfinite(ts)):
        raise CodecError("bad depth units or timestamp")
    dc.check_constant(k)
    dintr = rd.intrinsics("depth intrinsics")
    area = bw * bh
    if x0 + bw > dintr.width or y0 + bh > dintr.height or (area == 0 and (bw or bh)):
        raise CodecError(f"depth box {x0},{y0} {bw}x{bh} outside {dintr.width}x{dintr.height}")
    if (
        n_valid > area
        or n_runs > area + 1
        or n_run_mid > n_runs
        or n_run_huge > n_run_mid
        or n_res_esc > n_valid
        or n_res_mid > n_res_esc
        or n_res_huge > n_res_mid
    ):
        raise CodecError("depth section counts inconsistent with the box")
    sizes = [
        n_runs,
        2 * n_run_mid,
        4 * n_run_huge,
        (n_valid + 1) // 2,
        n_res_esc,
        2 * n_res_mid,
        4 * n_res_huge,
    ]
    expected = sum(sizes)
    zdepth = rd.take(zlen, "depth section")
    try:
        # the frame header may declare any size, and then max_output_size is not enforced
        declared = zstandard.frame_content_size(zdepth)
        if declared > expected:
            raise CodecError(f"depth section declares {declared} bytes, header says {expected}")
        raw = zstandard.ZstdDecompressor().decompress(zdepth, max_output_size=expected)
    except zstandard.ZstdError as exc:
        raise CodecError(f"depth section: {exc}") from None
    if len(raw) != expected:
        raise CodecError(f"depth section holds {len(raw)} bytes, header says {expected}")
    depth = np.zeros((dintr.height, dintr.width), dtype=np.uint16)
    if area:
        offsets = np.cumsum([0, *sizes])
        lengths = [
            n_runs,
            n_run_mid,
            n_run_huge,
            (n_valid + 1) // 2,
            n_res_esc,
            n_res_mid,
            n_res_huge,
        ]
        dtypes = ("u1", "<u2", "<u4", "u1", "u1", "<u2", "<u4")
        arrays = [
            np.frombuffer(raw, dtype, n, int(o))
            for dtype, n, o in zip(dtypes, lengths, offsets, strict=False)
        ]
        runs = dc.unpack_unsigned(
            arrays[0], arrays[1].astype(np.uint16), arrays[2].astype(np.uint32)
        )
        mask = dc.runs_to_mask(runs, (bh, bw))
        residuals = dc.unzigzag(
            dc.unpack_nibbles(
                arrays[3],
                n_valid,
                arrays[4],
                arrays[5].astype(np.uint16),
                arrays[6].astype(np.uint32),
            )
        )
        codes = dc.reconstruct_levels(residuals, mask)
        depth[y0 : y0 + bh, x0 : x0 + bw] = dc.dequantise(codes, k)
    color = None
    cintr = None
    extr = Extrinsics()
    if flags & FLAG_COLOR:
        cintr = rd.intrinsics("colour intrinsics")
        extr = rd.extrinsics("extrinsics")
        fmt, cx, cy, cw, ch, clen = (_int(v) for v in rd.unpack(COLOR_FIXED, "colour header"))
        if cw == 0 or ch == 0 or cx + cw > cintr.width or cy + ch > cintr.height:
            raise CodecError(f"colour box {cx},{cy} {cw}x{ch} outside {cintr.width}x{cintr.height}")
        color = np.zeros((cintr.height, cintr.width, 3), dtype=np.uint8)
        color[cy : cy + ch, cx : cx + cw] = decode_image(rd.take(clen, "colour image"), fmt, cw, ch)
    if rd.remaining():
        raise CodecError(f"{rd.remaining()} unexpected bytes after the frame")
    try:
        return DepthFrame(
            depth=depth,
            depth_units=units,
            depth_intrinsics=dintr,
            timestamp=ts,
            frame_number=fnum,
            color=color,
            color_intrinsics=cintr,
            depth_to_color=extr,
        )
    except ValueError as exc:  # DepthFrame's own checks; the ones above should catch all first
        raise CodecError(f"inconsistent frame: {exc}") from None


class VolumetricDecoder(Decoder[bytes]):
    """Reassembles fragments (:meth:`assemble`) and decodes complete frames."""

    def __init__(self, max_pending: int = 4) -> None:
        self.reassembler = Reassembler(max_pending)

    def assemble(self, payload: bytes) -> bytes | None:
        return self.reassembler.push(payload)

    @property
    def pending(self) -> int:
        return self.reassembler.pending

    def decode_whole(self, whole: bytes) -> DepthFrame:
        return decode_payload(whole)


class VolumetricDataChannelCodec(VolumetricCodec[bytes]):
    """Depth + colour over the unordered ``hologram`` data channel."""

    transport = DATACHANNEL

    @classmethod
    def encoder(cls, quality: Quality | None = None) -> VolumetricEncoder:
        return VolumetricEncoder(quality)

    @classmethod
    def decoder(cls) -> VolumetricDecoder:
        return VolumetricDecoder()
