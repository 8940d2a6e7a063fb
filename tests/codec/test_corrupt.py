"""Decoders reject corrupt, truncated, fuzzed and mismatched input with CodecError only."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from holocall_desktop.codec import volumetric as vol
from holocall_desktop.codec.base import CodecError, Quality
from holocall_desktop.codec.fragment import fragment
from holocall_desktop.model import DepthFrame


@pytest.fixture(scope="module")
def payload(person_frames: list[DepthFrame]) -> bytes:
    return vol.encode_payload(person_frames[0], Quality())


def _with_crc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def _decode_or_codec_error(data: bytes) -> None:
    try:
        frame = vol.decode_payload(data)
    except CodecError:
        return
    assert isinstance(frame, DepthFrame)  # a frame that parses is a valid frame


def test_every_truncation_is_rejected(payload: bytes) -> None:
    for n in list(range(0, 200)) + list(range(200, len(payload), 397)):
        with pytest.raises(CodecError):
            vol.decode_payload(payload[:n])


def test_bit_flips_are_caught_by_the_checksum(payload: bytes) -> None:
    rng = np.random.default_rng(0)
    for pos in rng.integers(0, len(payload), 50):
        bad = bytearray(payload)
        bad[pos] ^= 1 << int(rng.integers(0, 8))
        with pytest.raises(CodecError):
            vol.decode_payload(bytes(bad))


def test_version_mismatch_is_named(payload: bytes) -> None:
    bad = bytearray(payload[:-4])
    bad[2] = 2
    with pytest.raises(CodecError, match="version 2"):
        vol.decode_payload(_with_crc(bytes(bad)))


@given(data=st.data())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fuzzed_bodies_with_a_valid_checksum_never_crash(
    payload: bytes, data: st.DataObject
) -> None:
    """Past the checksum, every field is validated (counts, boxes, sizes, sections)."""
    body = bytearray(payload[:-4])
    # corrupt the header and early sections most, where the structure lives
    n = data.draw(st.integers(1, 8))
    for _ in range(n):
        pos = data.draw(st.integers(0, min(len(body) - 1, 400)))
        body[pos] = data.draw(st.integers(0, 255))
    _decode_or_codec_error(_with_crc(bytes(body)))


@given(junk=st.binary(max_size=3000))
@settings(max_examples=200, deadline=None)
def test_random_bytes_are_rejected(junk: bytes) -> None:
    with pytest.raises(CodecError):
        vol.decode_payload(junk)
    with pytest.raises(CodecError):
        vol.decode_payload(_with_crc(b"VF\x01" + junk))


def test_a_decompression_bomb_is_refused(payload: bytes) -> None:
    """A depth section that inflates past the size the header allows is rejected."""
    fields = list(vol.FIXED.unpack_from(payload))
    bomb = zstandard.ZstdCompressor().compress(bytes(500_000_000))  # 15 KB declaring 500 MB
    fields[11] = len(bomb)  # zlen
    head = vol.FIXED.pack(*fields)
    # depth intrinsics follow the fixed header unchanged; then the bomb instead of the section
    rest = payload[vol.FIXED.size : -4]
    intr_len = 2 + 2 + 32 + 1 + rest[36] + 20
    body = head + rest[:intr_len] + bomb
    with pytest.raises(CodecError, match="declares"):
        vol.decode_payload(_with_crc(body))
    # without a declared size, the output is bounded by the header's counts
    quiet = zstandard.ZstdCompressor(write_content_size=False).compress(bytes(5_000_000))
    fields[11] = len(quiet)
    body = vol.FIXED.pack(*fields) + rest[:intr_len] + quiet
    with pytest.raises(CodecError):
        vol.decode_payload(_with_crc(body))


def test_a_lying_box_is_refused(payload: bytes) -> None:
    fields = list(vol.FIXED.unpack_from(payload))
    fields[9] = 60000  # box width
    body = vol.FIXED.pack(*fields) + payload[vol.FIXED.size : -4]
    with pytest.raises(CodecError, match="box"):
        vol.decode_payload(_with_crc(body))


def test_decoder_rejects_foreign_messages_and_survives_them(
    person_frames: list[DepthFrame],
) -> None:
    dec = vol.VolumetricDecoder()
    with pytest.raises(CodecError):
        dec.decode(b"\x00" * 40)
    # a complete but corrupt frame is an error; the next good one decodes
    good = vol.VolumetricEncoder(first_frame_id=0).encode(person_frames[1])
    bad = fragment(b"VF\x01garbage", 0xFFFFFFF0)  # a frame id just before the encoder's first
    with pytest.raises(CodecError):
        dec.decode(bad[0])
    assert [f for f in (dec.decode(m) for m in good) if f is not None]
