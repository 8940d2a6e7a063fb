"""The control/anchor wire format: the hex test vectors of docs/protocol.md, round trips and
strict rejection of malformed input."""

from __future__ import annotations

import contextlib
import math
import re
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from holocall_desktop.codec.control import (
    ALL_CAPABILITIES,
    AnchorSync,
    ArrivalReport,
    Bye,
    ByeReason,
    Capability,
    Chat,
    Codec,
    Consent,
    ConsentMessage,
    ControlMessage,
    FrameArrival,
    Hello,
    Mode,
    ModeChange,
    Ping,
    Pong,
    QualityFeedback,
    ScreenState,
    WireError,
    clock_sample,
    decode_anchor,
    decode_control,
    encode_anchor,
    encode_control,
    is_control_char,
)

PROTOCOL_MD = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"

CONTROL: dict[str, ControlMessage] = {
    "hello": Hello("Alice", Mode.VOLUMETRIC, Codec.VOLUMETRIC_DC, ALL_CAPABILITIES, 1),
    "hello_utf8": Hello(
        "Zoë 🙂",
        Mode.AVATAR,
        Codec.HUE_VIDEO,
        Capability.HUE_VIDEO | Capability.AVATAR | Capability.AUDIO,
        1,
    ),
    "ping": Ping(7, 1700000000.25),
    "pong": Pong(7, 1700000000.25, 1700000000.3125, 1700000000.375),
    "quality": QualityFeedback(0.0125, 29.97, 48.0, 2500),
    "quality_unknown": QualityFeedback(None, 0.0, None, 0),
    "arrivals": ArrivalReport(
        12.5,
        (
            FrameArrival(7, 5, 5600, -31250, True),
            FrameArrival(8, 2, 2400, -1000, False),
            FrameArrival(9, 3, 3600, -500, True, late=True),
        ),
    ),
    "consent": ConsentMessage(Consent.RECORD_AUDIO | Consent.RECORD_HOLOGRAM),
    "mode": ModeChange(Mode.AVATAR),
    "bye": Bye(ByeReason.APP_EXIT),
    "chat": Chat(3, 1700000000.5, "Hi <b>all</b> 👋"),
    "screen": ScreenState(1280, 720, 10, "Slides — Q4"),
    "screen_stopped": ScreenState(),
}
S = math.sqrt(0.5)
ANCHORS = {
    "anchor": AnchorSync("alice", (0.5, 0.0, -1.25), (0.0, 0.0, 0.0, 1.0)),
    "anchor_cloud": AnchorSync("bob", (1.0, 2.0, 3.0), (0.0, S, 0.0, S), "ua-1234abcd"),
}


def doc_vectors() -> dict[str, bytes]:
    text = PROTOCOL_MD.read_text(encoding="utf-8")
    section = text.split("### Test vectors (control and anchor messages)", 1)[1]
    found = re.findall(r"```hex (\w+)\n([0-9a-f]+)\n```", section)
    return {name: bytes.fromhex(h) for name, h in found}


def test_docs_list_exactly_these_vectors() -> None:
    assert set(doc_vectors()) == set(CONTROL) | set(ANCHORS)


@pytest.mark.parametrize("name", sorted(CONTROL))
def test_control_vectors(name: str) -> None:
    data = doc_vectors()[name]
    assert encode_control(CONTROL[name]) == data
    decoded = decode_control(data)
    if isinstance(decoded, QualityFeedback):
        expected = CONTROL[name]
        assert isinstance(expected, QualityFeedback)
        assert decoded.loss == expected.loss and decoded.latency_ms == expected.latency_ms
        assert decoded.fps == pytest.approx(expected.fps)
        assert decoded.max_bitrate_kbps == expected.max_bitrate_kbps
    else:
        assert decoded == CONTROL[name]


@pytest.mark.parametrize("name", sorted(ANCHORS))
def test_anchor_vectors(name: str) -> None:
    data = doc_vectors()[name]
    assert encode_anchor(ANCHORS[name]) == data
    decoded = decode_anchor(data)
    expected = ANCHORS[name]
    assert decoded.participant_id == expected.participant_id
    assert decoded.cloud_anchor_id == expected.cloud_anchor_id
    assert decoded.position == pytest.approx(expected.position)
    assert decoded.rotation == pytest.approx(expected.rotation, abs=1e-7)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (bytes.fromhex("0250") + bytes(12), "unsupported protocol version 2"),
        (b"\x01", "truncated"),
        (b"", "truncated"),
        (bytes.fromhex("0177"), "unknown control message type 0x77"),
        (bytes.fromhex("015007000000"), "truncated ping"),
        (bytes.fromhex("014201ff"), "trailing bytes"),
        (bytes.fromhex("014d07"), "unknown mode 7"),
        (bytes.fromhex("014308"), "reserved flag bits"),
        (bytes.fromhex("014203"), "unknown bye reason 3"),
        (struct.pack("<BBHHHI", 1, 0x46, 10001, 0, 0, 0), "more than 100 %"),
        (bytes.fromhex("0156") + bytes(10), "belongs on the hologram channel"),
        (bytes.fromhex("0141") + bytes(89), "belongs on the hologram channel"),
        (struct.pack("<BBId", 1, 0x50, 1, math.nan), "not a finite number"),
        (struct.pack("<BBdB", 1, 0x52, 1.0, 1), "truncated arrival report"),
        (struct.pack("<BBdB", 1, 0x52, 1.0, 0) + b"x", "trailing bytes"),
        (struct.pack("<BBdBIHBIi", 1, 0x52, 1.0, 1, 7, 1, 4, 9, 0), "reserved flag bits"),
        (struct.pack("<BBdBIHBIi", 1, 0x52, 1.0, 1, 7, 0, 1, 9, 0), "no fragments"),
        (struct.pack("<BBdB", 1, 0x52, math.inf, 0), "not a finite number"),
        (struct.pack("<BBBBHBB", 1, 0x48, 1, 9, 0x01, 1, 0), "unknown codec 9"),
        (struct.pack("<BBBBHBB", 1, 0x48, 1, 1, 0x01, 1, 3) + b"ab", "truncated hello"),
        (struct.pack("<BBBBHBB", 1, 0x48, 1, 1, 0x01, 1, 2) + b"\xff\xfe", "not valid UTF-8"),
        (struct.pack("<BBBBHBB", 1, 0x48, 1, 1, 0x01, 0, 0), "max_version"),
        (struct.pack("<BBIdH", 1, 0x54, 1, 1.0, 0), "chat: 0 bytes of text"),
        (struct.pack("<BBIdH", 1, 0x54, 1, 1.0, 5) + b"\x1b[31m", "control characters"),
        (struct.pack("<BBIdH", 1, 0x54, 1, 1.0, 2) + "\u0085".encode(), "control characters"),
        (struct.pack("<BBIdH", 1, 0x54, 1, 1.0, 2) + b"\xff\xfe", "not valid UTF-8"),
        (struct.pack("<BBIdH", 1, 0x54, 1, 1.0, 2001) + b"x" * 2001, "2001 bytes of text"),
        (struct.pack("<BBIdH", 1, 0x54, 1, 1.0, 3) + b"ab", "truncated chat"),
        (struct.pack("<BBIdH", 1, 0x54, 1, math.nan, 1) + b"a", "not a finite number"),
        (struct.pack("<BBId", 1, 0x54, 1, 1.0), "truncated chat"),
        (bytes.fromhex("01440800d0020a00"), "8x720 pixels (each side 16 to 4096"),
        (bytes.fromhex("01440005d0020000"), "screen: 0 fps"),
        (bytes.fromhex("01440005d0023d00"), "screen: 61 fps"),
        (bytes.fromhex("0144000000000003414243"), "a stop with a title"),
        (struct.pack("<BBHHBB", 1, 0x44, 640, 480, 5, 101) + b"x" * 101, "title of 101 bytes"),
        (struct.pack("<BBHHBB", 1, 0x44, 640, 480, 5, 2) + b"a\n", "control characters"),
        (struct.pack("<BBHHBB", 1, 0x44, 640, 480, 5, 2) + b"\xff\xfe", "not valid UTF-8"),
        (struct.pack("<BBHHBB", 1, 0x44, 640, 480, 5, 3) + b"ab", "truncated screen"),
        (struct.pack("<BBHHB", 1, 0x44, 640, 480, 5), "truncated screen"),
    ],
)
def test_control_rejects(data: bytes, reason: str) -> None:
    with pytest.raises(WireError, match=re.escape(reason)):
        decode_control(data)


def _anchor(pid: bytes, values: tuple[float, ...], flags: int = 0, tail: bytes = b"") -> bytes:
    return struct.pack("<BBBB", 1, 0x53, flags, len(pid)) + pid + struct.pack("<7f", *values) + tail


IDENTITY = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_anchor(b"alice", IDENTITY)[:-1], "truncated anchor_sync"),
        (_anchor(b"alice", IDENTITY) + b"\x00", "trailing bytes"),
        (_anchor(b"alice", IDENTITY, flags=2), "reserved flag bits"),
        (_anchor(b"al ce", IDENTITY), "participant id"),
        (_anchor(b"", IDENTITY), "participant id"),
        (_anchor(b"alice", (0, 0, math.inf, 0, 0, 0, 1)), "not finite"),
        (_anchor(b"alice", (0, 0, 0, 0, 0, 0, 2)), "not a unit quaternion"),
        (_anchor(b"alice", IDENTITY, flags=1), "cloud anchor id length missing"),
        (_anchor(b"alice", IDENTITY, flags=1, tail=b"\x00"), "empty cloud anchor id"),
        (_anchor(b"alice", IDENTITY, flags=1, tail=b"\x05abc"), "truncated anchor_sync"),
        (bytes.fromhex("0148"), "not an anchor_sync"),
    ],
)
def test_anchor_rejects(data: bytes, reason: str) -> None:
    with pytest.raises(WireError, match=re.escape(reason)):
        decode_anchor(data)


def test_encoders_refuse_values_that_do_not_fit() -> None:
    with pytest.raises(ValueError, match="display name"):
        encode_control(Hello("x" * 129, Mode.NONE))
    with pytest.raises(ValueError, match="unit quaternion"):
        encode_anchor(AnchorSync("a", (0, 0, 0), (0, 0, 0, 0.5)))
    with pytest.raises(ValueError, match="participant id"):
        encode_anchor(AnchorSync("not ok", (0, 0, 0), (0, 0, 0, 1)))


def test_clock_sample_recovers_offset_and_round_trip() -> None:
    # remote clock 2.5 s ahead, 10 ms each way, 1 ms spent answering
    t1 = 100.0
    t2 = t1 + 0.010 + 2.5
    t3 = t2 + 0.001
    t4 = t3 - 2.5 + 0.010
    rtt, offset = clock_sample(Pong(1, t1, t2, t3), t4)
    assert rtt == pytest.approx(0.020)
    assert offset == pytest.approx(2.5)


@given(st.binary(max_size=64))
def test_random_bytes_never_crash(data: bytes) -> None:
    for decode in (decode_control, decode_anchor):
        with contextlib.suppress(WireError):  # anything else (or a crash) fails the test
            decode(data)


names = st.text(max_size=40).filter(lambda s: len(s.encode()) <= 128)


@given(
    st.one_of(
        st.builds(
            Hello,
            names,
            st.sampled_from(Mode),
            st.sampled_from(Codec),
            st.integers(0, 0xFF).map(Capability),
            st.integers(1, 255),
        ),
        st.builds(Ping, st.integers(0, 2**32 - 1), st.floats(0, 2e9)),
        st.builds(Pong, st.integers(0, 2**32 - 1), *[st.floats(0, 2e9)] * 3),
        st.builds(ConsentMessage, st.integers(0, 7).map(Consent)),
        st.builds(ModeChange, st.sampled_from(Mode)),
        st.builds(
            ArrivalReport,
            st.floats(0, 1e6),
            st.lists(
                st.builds(
                    FrameArrival,
                    st.integers(0, 2**32 - 1),
                    st.integers(1, 0xFFFF),
                    st.integers(0, 2**32 - 1),
                    st.integers(-(2**31), 2**31 - 1),
                    st.booleans(),
                ),
                max_size=20,
            ).map(tuple),
        ),
        st.builds(Bye, st.sampled_from(ByeReason)),
        st.builds(
            Chat,
            st.integers(0, 2**32 - 1),
            st.floats(0, 2e9),
            st.text(min_size=1, max_size=500)
            .map(lambda t: "".join(c for c in t if not is_control_char(c)))
            .filter(lambda t: 1 <= len(t.encode("utf-8", "surrogatepass")) <= 2000)
            .filter(lambda t: not any(0xD800 <= ord(c) <= 0xDFFF for c in t)),
        ),
    )
)
def test_control_round_trip(message: ControlMessage) -> None:
    assert decode_control(encode_control(message)) == message


def test_hello_ignores_capabilities_of_later_versions() -> None:
    data = struct.pack("<BBBBHBB", 1, 0x48, 1, 1, 0xFC41, 1, 0)
    hello = decode_control(data)
    assert isinstance(hello, Hello)
    assert hello.capabilities == Capability.VOLUMETRIC_DC | Capability.ARRIVAL_REPORTS


@pytest.mark.parametrize(
    "text",
    ["", "x" * 2001, "bell\a", "esc\x1b[0m", "\x7f", "é" * 1001],
)
def test_chat_that_cannot_be_sent_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="chat text"):
        encode_control(Chat(1, 1.0, text))
