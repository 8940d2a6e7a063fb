"""Little-endian byte packing shared by the codecs, with bounds-checked reading.

:class:`Reader` raises :class:`~holocall_desktop.codec.base.CodecError` instead of
``struct.error``/``IndexError`` when the input ends early or holds impossible values.

Intrinsics (``2 + 2 + 4·8 + 1 + n + 5·4`` bytes)::

    u16 width, u16 height, f64 fx, f64 fy, f64 ppx, f64 ppy,
    u8 n, n bytes distortion model name (UTF-8), 5 × f32 distortion coefficients

Extrinsics (48 bytes): 9 × f32 rotation (row-major), 3 × f32 translation (metres).
"""

from __future__ import annotations

import math
import struct

import numpy as np

from holocall_desktop.codec.base import CodecError
from holocall_desktop.model import Extrinsics, Intrinsics

#: largest image side the decoders accept
MAX_SIDE = 4096

_INTR = struct.Struct("<HH4d")
_COEFFS = struct.Struct("<5f")
_EXTR = struct.Struct("<12f")


def pack_intrinsics(intr: Intrinsics) -> bytes:
    model = intr.model.encode("utf-8")[:255]
    return (
        _INTR.pack(intr.width, intr.height, intr.fx, intr.fy, intr.ppx, intr.ppy)
        + bytes([len(model)])
        + model
        + _COEFFS.pack(*intr.coeffs)
    )


def pack_extrinsics(extr: Extrinsics) -> bytes:
    values = np.concatenate([extr.rotation.ravel(), extr.translation.ravel()])
    return _EXTR.pack(*values.tolist())


class Reader:
    """Sequential reader over a bytes-like object."""

    def __init__(self, data: bytes | memoryview, offset: int = 0) -> None:
        self.data = memoryview(data)
        self.offset = offset

    def remaining(self) -> int:
        return len(self.data) - self.offset

    def take(self, n: int, what: str = "data") -> memoryview:
        if n < 0 or n > self.remaining():
            raise CodecError(f"truncated: {what} needs {n} bytes, {self.remaining()} left")
        out = self.data[self.offset : self.offset + n]
        self.offset += n
        return out

    def unpack(self, fmt: struct.Struct, what: str) -> tuple[object, ...]:
        return fmt.unpack(self.take(fmt.size, what))

    def intrinsics(self, what: str) -> Intrinsics:
        w, h, fx, fy, ppx, ppy = self.unpack(_INTR, what)
        n = self.take(1, what)[0]
        model = bytes(self.take(n, what))
        coeffs = self.unpack(_COEFFS, what)
        assert isinstance(w, int) and isinstance(h, int)
        check_size(w, h, what)
        floats = [float(x) for x in (fx, fy, ppx, ppy, *coeffs)]  # type: ignore[arg-type]
        if not all(math.isfinite(x) for x in floats) or floats[0] <= 0 or floats[1] <= 0:
            raise CodecError(f"{what}: invalid focal length, principal point or coefficients")
        try:
            name = model.decode("utf-8")
        except UnicodeDecodeError:
            raise CodecError(f"{what}: distortion model name is not UTF-8") from None
        c = floats[4:]
        return Intrinsics(
            w, h, floats[0], floats[1], floats[2], floats[3], name, (c[0], c[1], c[2], c[3], c[4])
        )

    def extrinsics(self, what: str) -> Extrinsics:
        values = np.array(self.unpack(_EXTR, what), dtype=np.float64)
        if not np.all(np.isfinite(values)):
            raise CodecError(f"{what}: non-finite extrinsics")
        return Extrinsics(values[:9].reshape(3, 3), values[9:])


def check_size(width: int, height: int, what: str) -> None:
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise CodecError(f"{what}: impossible image size {width}x{height}")
