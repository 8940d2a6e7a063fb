"""Binary avatar frames for the ``hologram`` data channel (layout in ``docs/protocol.md``).

Little-endian, no padding. The first two bytes are the generic data-channel header (protocol
version, message type) that every message on our data channels starts with; byte 2 carries the
avatar's own flags. Without hands a frame is 91 bytes; each present hand adds 20 (131 with both).

    off  size  field
      0     1  version            uint8, 1
      1     1  type               uint8, 0x41 ('A', avatar frame)
      2     1  flags              bit 0: left hand present, bit 1: right hand present, others 0
      3     8  timestamp          uint64, microseconds
     11    12  head position      3 x float32, metres
     23    16  head rotation      4 x float32, unit quaternion x, y, z, w
     39    52  blendshapes        52 x uint8, round(score * 255), ARKit order
     91    20  left hand          if flags bit 0 (HandData, below)
   91/111  20  right hand         if flags bit 1

HandData (20 bytes): wrist position 3 x int16 millimetres, wrist rotation 4 x int16
(round(q * 32767), x, y, z, w), 5 x uint8 finger curl (thumb..little, round(curl * 255)),
uint8 confidence (round(c * 255)).

Integrity is the transport's job (SCTP checksums every packet), so there is no checksum here; the
decoder still rejects anything that is not a well-formed frame: wrong length, version or type,
reserved flag bits, non-finite numbers, a rotation that is not a unit quaternion.
"""

from __future__ import annotations

import struct

import numpy as np

from holocall_desktop.model.avatar import NUM_BLENDSHAPES, NUM_FINGERS, AvatarFrame, HandData

PROTOCOL_VERSION = 1
MSG_TYPE_AVATAR = 0x41  # 'A'

FLAG_LEFT_HAND = 0x01
FLAG_RIGHT_HAND = 0x02
_KNOWN_FLAGS = FLAG_LEFT_HAND | FLAG_RIGHT_HAND

_HEADER = struct.Struct("<BBB")
_BODY = struct.Struct(f"<Q3f4f{NUM_BLENDSHAPES}s")
_HAND = struct.Struct(f"<3h4h{NUM_FINGERS}sB")

HEADER_SIZE = _HEADER.size  # 3
HAND_SIZE = _HAND.size  # 20
FRAME_SIZE = HEADER_SIZE + _BODY.size  # 91: a frame without hands
FRAME_SIZE_WITH_HANDS = FRAME_SIZE + 2 * HAND_SIZE  # 131

_QUAT_TOLERANCE = 1e-3  # |q| must be 1 within this after float32 rounding
_MAX_MM = 32767
_MAX_TIMESTAMP_US = 2**64 - 1


class AvatarFrameError(ValueError):
    """A payload that is not a valid avatar frame (truncated, corrupt, other version or type)."""


def encoded_size(frame: AvatarFrame) -> int:
    hands = (frame.left_hand is not None) + (frame.right_hand is not None)
    return FRAME_SIZE + hands * HAND_SIZE


def _quantise(values: np.ndarray, scale: float) -> bytes:
    return bytes(np.rint(np.clip(values, 0.0, 1.0) * scale).astype(np.uint8))


def _encode_hand(hand: HandData) -> bytes:
    mm = np.rint(hand.wrist_position.astype(np.float64) * 1000.0)
    if np.any(np.abs(mm) > _MAX_MM):
        raise ValueError(
            f"wrist position {hand.wrist_position.tolist()} m is outside ±{_MAX_MM / 1000} m"
        )
    q = np.rint(hand.wrist_rotation.astype(np.float64) * 32767.0).astype(np.int64)
    conf = round(min(max(hand.confidence, 0.0), 1.0) * 255)
    return _HAND.pack(
        *(int(v) for v in mm), *(int(v) for v in q), _quantise(hand.finger_curl, 255), conf
    )


def encode_avatar_frame(frame: AvatarFrame) -> bytes:
    """The wire bytes of ``frame`` (91 bytes, + 20 per hand)."""
    flags = (FLAG_LEFT_HAND if frame.left_hand is not None else 0) | (
        FLAG_RIGHT_HAND if frame.right_hand is not None else 0
    )
    ts_us = round(frame.timestamp * 1e6)
    if ts_us > _MAX_TIMESTAMP_US:
        raise ValueError(f"timestamp {frame.timestamp} s does not fit in 64 bits of microseconds")
    parts = [
        _HEADER.pack(PROTOCOL_VERSION, MSG_TYPE_AVATAR, flags),
        _BODY.pack(
            ts_us,
            *(float(v) for v in frame.head_position),
            *(float(v) for v in frame.head_rotation),
            _quantise(frame.blendshapes, 255),
        ),
    ]
    if frame.left_hand is not None:
        parts.append(_encode_hand(frame.left_hand))
    if frame.right_hand is not None:
        parts.append(_encode_hand(frame.right_hand))
    return b"".join(parts)


def _decode_quaternion(values: tuple[float, ...], what: str) -> np.ndarray:
    q = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(q)):
        raise AvatarFrameError(f"corrupt avatar frame: {what} is not finite")
    if abs(float(np.linalg.norm(q)) - 1.0) > _QUAT_TOLERANCE:
        raise AvatarFrameError(
            f"corrupt avatar frame: {what} is not a unit quaternion (|q| = {np.linalg.norm(q):.4f})"
        )
    return q


def _decode_hand(data: bytes, offset: int, side: str) -> HandData:
    fields = _HAND.unpack_from(data, offset)
    q = np.asarray(fields[3:7], dtype=np.float64) / 32767.0
    # int16 rounding leaves |q| within ~1e-4 of 1; anything further is corruption.
    if abs(float(np.linalg.norm(q)) - 1.0) > 5e-3:
        raise AvatarFrameError(
            f"corrupt avatar frame: {side} wrist rotation is not a unit quaternion"
        )
    curls = np.frombuffer(fields[7], dtype=np.uint8).astype(np.float32) / 255.0
    return HandData(
        wrist_position=np.asarray(fields[0:3], dtype=np.float32) / 1000.0,
        wrist_rotation=q.astype(np.float32),
        finger_curl=curls,
        confidence=fields[8] / 255.0,
    )


def decode_avatar_frame(data: bytes | bytearray | memoryview) -> AvatarFrame:
    """Parse one avatar frame; ``AvatarFrameError`` says why a payload is not one."""
    buf = bytes(data)
    if len(buf) < HEADER_SIZE:
        raise AvatarFrameError(f"truncated avatar frame: {len(buf)} bytes, the header alone is 3")
    version, msg_type, flags = _HEADER.unpack_from(buf, 0)
    if version != PROTOCOL_VERSION:
        raise AvatarFrameError(
            f"unsupported protocol version {version} (this client speaks {PROTOCOL_VERSION})"
        )
    if msg_type != MSG_TYPE_AVATAR:
        raise AvatarFrameError(f"not an avatar frame: message type 0x{msg_type:02x}")
    if flags & ~_KNOWN_FLAGS:
        raise AvatarFrameError(
            f"corrupt avatar frame: unknown flag bits 0x{flags & ~_KNOWN_FLAGS:02x}"
        )
    expected = FRAME_SIZE + HAND_SIZE * (
        bool(flags & FLAG_LEFT_HAND) + bool(flags & FLAG_RIGHT_HAND)
    )
    if len(buf) != expected:
        kind = "truncated" if len(buf) < expected else "corrupt"
        raise AvatarFrameError(
            f"{kind} avatar frame: {len(buf)} bytes, flags 0x{flags:02x} need exactly {expected}"
        )
    fields = _BODY.unpack_from(buf, HEADER_SIZE)
    ts_us = fields[0]
    position = np.asarray(fields[1:4], dtype=np.float64)
    if not np.all(np.isfinite(position)):
        raise AvatarFrameError("corrupt avatar frame: head position is not finite")
    rotation = _decode_quaternion(fields[4:8], "head rotation")
    shapes = np.frombuffer(fields[8], dtype=np.uint8).astype(np.float32) / 255.0
    offset = FRAME_SIZE
    left = right = None
    if flags & FLAG_LEFT_HAND:
        left = _decode_hand(buf, offset, "left")
        offset += HAND_SIZE
    if flags & FLAG_RIGHT_HAND:
        right = _decode_hand(buf, offset, "right")
    return AvatarFrame(
        timestamp=ts_us / 1e6,
        head_position=position.astype(np.float32),
        head_rotation=rotation.astype(np.float32),
        blendshapes=shapes,
        left_hand=left,
        right_hand=right,
    )
