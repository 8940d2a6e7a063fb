"""Avatar frame codec: sizes, round trips, the documented test vectors, rejection of bad input."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from holocall_desktop.codec.avatar_frame import (
    FRAME_SIZE,
    FRAME_SIZE_WITH_HANDS,
    HAND_SIZE,
    AvatarFrameError,
    decode_avatar_frame,
    encode_avatar_frame,
    encoded_size,
)
from holocall_desktop.model.avatar import (
    ARKIT_BLENDSHAPES,
    BLENDSHAPE_INDEX,
    NUM_BLENDSHAPES,
    AvatarFrame,
    HandData,
    matrix_to_quaternion,
    quaternion_to_matrix,
)

PROTOCOL_MD = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def _expressive_shapes() -> np.ndarray:
    bs = np.zeros(NUM_BLENDSHAPES, np.float32)
    bs[BLENDSHAPE_INDEX["jawOpen"]] = 1.0
    bs[BLENDSHAPE_INDEX["eyeBlinkLeft"]] = 0.5
    bs[BLENDSHAPE_INDEX["mouthSmileRight"]] = 0.25
    return bs


def _vector_frames() -> dict[str, AvatarFrame]:
    half = math.radians(20) / 2
    return {
        "neutral": AvatarFrame(timestamp=0.0),
        "expressive": AvatarFrame(
            timestamp=12.345678,
            head_position=[0.01, -0.02, -0.5],
            head_rotation=[0, 0, math.sin(half), math.cos(half)],
            blendshapes=_expressive_shapes(),
        ),
        "hands": AvatarFrame(
            timestamp=1.5,
            blendshapes=_expressive_shapes(),
            left_hand=HandData(
                wrist_position=[-0.2, -0.3, -0.4],
                wrist_rotation=[0, 0, 0, 1],
                finger_curl=[0, 0.25, 0.5, 0.75, 1],
                confidence=1.0,
            ),
            right_hand=HandData(
                wrist_position=[0.2, -0.3, -0.4],
                wrist_rotation=[0.5, 0.5, 0.5, 0.5],
                finger_curl=[1, 1, 1, 1, 1],
                confidence=0.5,
            ),
        ),
    }


def _doc_vectors() -> dict[str, bytes]:
    text = PROTOCOL_MD.read_text(encoding="utf-8")
    section = text.split("## Avatar frame", 1)[1].split("\n## ", 1)[0]
    found = re.findall(r"```hex (\w+)\n([0-9a-f]+)\n```", section)
    return {name: bytes.fromhex(hexstr) for name, hexstr in found}


def _assert_frames_equal(a: AvatarFrame, b: AvatarFrame) -> None:
    assert a.timestamp == pytest.approx(b.timestamp, abs=1e-6)
    np.testing.assert_allclose(a.head_position, b.head_position, atol=1e-6)
    np.testing.assert_allclose(a.head_rotation, b.head_rotation, atol=1e-6)
    np.testing.assert_allclose(a.blendshapes, b.blendshapes, atol=0.5 / 255 + 1e-6)
    for ha, hb in ((a.left_hand, b.left_hand), (a.right_hand, b.right_hand)):
        assert (ha is None) == (hb is None)
        if ha is not None and hb is not None:
            np.testing.assert_allclose(ha.wrist_position, hb.wrist_position, atol=0.0005 + 1e-6)
            np.testing.assert_allclose(ha.wrist_rotation, hb.wrist_rotation, atol=1e-4)
            np.testing.assert_allclose(ha.finger_curl, hb.finger_curl, atol=0.5 / 255 + 1e-6)
            assert ha.confidence == pytest.approx(hb.confidence, abs=0.5 / 255 + 1e-6)


def test_sizes() -> None:
    assert FRAME_SIZE == 91
    assert HAND_SIZE == 20
    assert FRAME_SIZE_WITH_HANDS == 131
    frames = _vector_frames()
    assert len(encode_avatar_frame(frames["neutral"])) == 91 <= 100
    assert len(encode_avatar_frame(frames["hands"])) == 131
    one_hand = AvatarFrame(timestamp=1.0, right_hand=HandData())
    assert len(encode_avatar_frame(one_hand)) == encoded_size(one_hand) == 111


def test_documented_vectors_match_the_codec() -> None:
    vectors = _doc_vectors()
    frames = _vector_frames()
    assert set(vectors) == set(frames), "docs/protocol.md and the test disagree on the vectors"
    for name, frame in frames.items():
        assert encode_avatar_frame(frame) == vectors[name], name
        _assert_frames_equal(decode_avatar_frame(vectors[name]), frame)


def test_round_trip_random_frames() -> None:
    rng = np.random.default_rng(7)
    for i in range(200):
        q = rng.normal(size=4)
        hands = {}
        if i % 3 == 0:
            hands["left_hand"] = HandData(
                wrist_position=rng.uniform(-1, 1, 3),
                wrist_rotation=rng.normal(size=4),
                finger_curl=rng.uniform(0, 1, 5),
                confidence=float(rng.uniform()),
            )
        if i % 4 == 0:
            hands["right_hand"] = HandData(wrist_position=rng.uniform(-1, 1, 3))
        frame = AvatarFrame(
            timestamp=float(rng.uniform(0, 1e5)),
            head_position=rng.uniform(-2, 2, 3),
            head_rotation=q,
            blendshapes=rng.uniform(0, 1, NUM_BLENDSHAPES),
            **hands,
        )
        data = encode_avatar_frame(frame)
        assert len(data) == encoded_size(frame)
        _assert_frames_equal(decode_avatar_frame(data), frame)


def test_blendshapes_quantise_to_nearest_byte() -> None:
    shapes = np.linspace(0, 1, NUM_BLENDSHAPES)
    data = encode_avatar_frame(AvatarFrame(timestamp=0.0, blendshapes=shapes))
    np.testing.assert_array_equal(
        np.frombuffer(data[39:91], np.uint8), np.rint(shapes * 255).astype(np.uint8)
    )


@pytest.mark.parametrize("cut", [0, 1, 2, 3, 10, 50, 90])
def test_truncated_input_is_rejected(cut: int) -> None:
    data = encode_avatar_frame(_vector_frames()["expressive"])
    with pytest.raises(AvatarFrameError, match="truncated"):
        decode_avatar_frame(data[:cut])


def test_truncated_hands_are_rejected() -> None:
    data = encode_avatar_frame(_vector_frames()["hands"])
    with pytest.raises(AvatarFrameError, match="truncated"):
        decode_avatar_frame(data[:-1])


def test_wrong_version_and_type_are_rejected() -> None:
    data = bytearray(encode_avatar_frame(_vector_frames()["neutral"]))
    data[0] = 2
    with pytest.raises(AvatarFrameError, match="unsupported protocol version 2"):
        decode_avatar_frame(data)
    data[0] = 1
    data[1] = 0x56
    with pytest.raises(AvatarFrameError, match="not an avatar frame"):
        decode_avatar_frame(data)


def test_corrupt_input_is_rejected() -> None:
    good = encode_avatar_frame(_vector_frames()["expressive"])
    reserved = bytearray(good)
    reserved[2] = 0x80
    with pytest.raises(AvatarFrameError, match="flag"):
        decode_avatar_frame(reserved)
    too_long = good + b"\x00"
    with pytest.raises(AvatarFrameError, match="corrupt"):
        decode_avatar_frame(too_long)
    bad_quat = bytearray(good)
    bad_quat[23:27] = np.float32(0.9).tobytes()
    with pytest.raises(AvatarFrameError, match="unit quaternion"):
        decode_avatar_frame(bad_quat)
    nan_pos = bytearray(good)
    nan_pos[11:15] = np.float32(np.nan).tobytes()
    with pytest.raises(AvatarFrameError, match="not finite"):
        decode_avatar_frame(nan_pos)
    hand_says_but_missing = bytearray(good)
    hand_says_but_missing[2] = 0x01
    with pytest.raises(AvatarFrameError, match="truncated"):
        decode_avatar_frame(hand_says_but_missing)


def test_model_validates_its_inputs() -> None:
    with pytest.raises(ValueError, match="52"):
        AvatarFrame(timestamp=0.0, blendshapes=np.zeros(51))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        AvatarFrame(timestamp=0.0, blendshapes=np.full(52, 1.5))
    with pytest.raises(ValueError, match="quaternion"):
        AvatarFrame(timestamp=0.0, head_rotation=[0, 0, 0, 0])
    with pytest.raises(ValueError, match="timestamp"):
        AvatarFrame(timestamp=-1.0)


def test_blendshape_names_are_arkits_52() -> None:
    assert len(ARKIT_BLENDSHAPES) == len(set(ARKIT_BLENDSHAPES)) == 52
    assert ARKIT_BLENDSHAPES[-1] == "tongueOut"
    frame = AvatarFrame(timestamp=0.0, blendshapes=_expressive_shapes())
    assert frame.blendshape("jawOpen") == 1.0
    assert frame.blendshape_dict()["mouthSmileRight"] == 0.25


def test_quaternion_matrix_round_trip() -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        q = q if q[3] >= 0 else -q
        m = quaternion_to_matrix(q)
        np.testing.assert_allclose(m @ m.T, np.eye(3), atol=1e-12)
        np.testing.assert_allclose(matrix_to_quaternion(m), q, atol=1e-9)


def test_hand_out_of_range_is_refused_by_the_encoder() -> None:
    far = AvatarFrame(timestamp=0.0, left_hand=HandData(wrist_position=[40.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match="outside"):
        encode_avatar_frame(far)
    with pytest.raises(ValueError, match="finger_curl"):
        HandData(finger_curl=[0, 0, 0, 0, 2])


def test_hand_rotation_corruption_is_rejected() -> None:
    data = bytearray(encode_avatar_frame(_vector_frames()["hands"]))
    data[91 + 6 : 91 + 14] = bytes(8)  # left wrist quaternion all zero
    with pytest.raises(AvatarFrameError, match="left wrist rotation"):
        decode_avatar_frame(data)
