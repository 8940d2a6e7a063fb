"""Fragmentation and reassembly over an unordered, lossy channel."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from holocall_desktop.codec.base import MAX_MESSAGE_BYTES, CodecError
from holocall_desktop.codec.fragment import (
    FEC_MESSAGE_BYTES,
    HEADER,
    HEADER_BYTES,
    MAX_FRAGMENTS,
    TYPE,
    Reassembler,
    fragment,
    parse_header,
    parse_header_k,
)


def test_small_payload_is_one_message() -> None:
    msgs = fragment(b"abc", 7)
    assert len(msgs) == 1
    assert msgs[0][:2] == b"\x01V"  # protocol version 1, message type 0x56
    assert parse_header(msgs[0]) == (7, 0, 1)
    assert Reassembler().push(msgs[0]) == b"abc"


def test_messages_respect_the_data_channel_limit() -> None:
    payload = random.Random(1).randbytes(200_000)
    msgs = fragment(payload, 1)
    assert len(msgs) == 4
    assert all(len(m) <= MAX_MESSAGE_BYTES for m in msgs)
    assert max(len(m) for m in msgs) == MAX_MESSAGE_BYTES


@given(
    size=st.integers(0, 5000),
    max_message=st.integers(HEADER_BYTES + 1, 700),
    seed=st.integers(0, 1000),
)
@settings(max_examples=60, deadline=None)
def test_out_of_order_and_duplicated_fragments_reassemble(
    size: int, max_message: int, seed: int
) -> None:
    rng = random.Random(seed)
    payload = rng.randbytes(size)
    if -(-size // (max_message - HEADER_BYTES)) > MAX_FRAGMENTS:
        with pytest.raises(CodecError):
            fragment(payload, 99, max_message)
        return
    msgs = fragment(payload, 99, max_message)
    arrived = msgs + rng.sample(msgs, k=min(2, len(msgs)))  # duplicates
    rng.shuffle(arrived)
    r = Reassembler()
    out = [x for x in (r.push(m) for m in arrived) if x is not None]
    assert out == [payload]
    assert r.stats.completed == 1


def test_a_newer_complete_frame_drops_older_incomplete_ones_and_late_fragments() -> None:
    r = Reassembler()
    old = fragment(bytes(300), 1, 100)
    new = fragment(b"n" * 300, 2, 100)
    assert r.push(old[0]) is None
    for m in new[:-1]:
        assert r.push(m) is None
    assert r.push(new[-1]) == b"n" * 300
    assert r.stats.dropped_incomplete == 1
    # the rest of frame 1 arrives too late: ignored, not an error
    assert all(r.push(m) is None for m in old[1:])
    assert r.stats.stale_fragments == len(old) - 1


def test_pending_frames_are_bounded() -> None:
    r = Reassembler(max_pending=3)
    for fid in range(10):
        r.push(fragment(bytes(300), fid, 100)[0])
    assert len(r._pending) == 3
    assert r.stats.dropped_incomplete == 7


def test_frame_ids_wrap_around() -> None:
    r = Reassembler()
    assert r.push(fragment(b"a", 0xFFFFFFFF)[0]) == b"a"
    assert r.push(fragment(b"b", 0)[0]) == b"b"


def test_a_restarted_sender_is_accepted() -> None:
    r = Reassembler()
    assert r.push(fragment(b"a", 5000)[0]) == b"a"
    assert r.push(fragment(b"b", 0)[0]) == b"b"


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (b"", "shorter"),
        (b"\x01V\x00", "shorter"),
        (HEADER.pack(1, 0x41, 0, 1, 0, 1), "message type 0x41"),  # an avatar frame
        (HEADER.pack(9, TYPE, 0, 1, 0, 1), "version"),
        (HEADER.pack(1, TYPE, 0, 1, 3, 3), "bad fragment"),
        (HEADER.pack(1, TYPE, 0, 1, 0, 0), "bad fragment"),
        (HEADER.pack(1, TYPE, 0, 1, 0, MAX_FRAGMENTS + 1), "bad fragment"),
        (HEADER.pack(1, TYPE, 0, 1, 0, 1) + bytes(MAX_MESSAGE_BYTES), "exceeds"),
    ],
)
def test_malformed_fragments_are_rejected(message: bytes, reason: str) -> None:
    with pytest.raises(CodecError, match=reason):
        Reassembler().push(message)


def test_fragment_count_may_not_change_within_a_frame() -> None:
    r = Reassembler()
    r.push(HEADER.pack(1, TYPE, 0, 5, 0, 3) + b"x")
    with pytest.raises(CodecError, match="count changed"):
        r.push(HEADER.pack(1, TYPE, 0, 5, 1, 4) + b"x")


def test_oversized_frames_are_refused_by_the_sender() -> None:
    with pytest.raises(CodecError, match="fragments"):
        fragment(bytes(MAX_FRAGMENTS * 100), 1, 100)


@settings(max_examples=40, deadline=None)
@given(
    size=st.integers(min_value=0, max_value=60_000),
    parity=st.sampled_from([0.1, 0.25, 0.5]),
    seed=st.integers(min_value=0, max_value=1000),
)
def test_any_k_fragments_with_parity_rebuild_the_frame(size: int, parity: float, seed: int) -> None:
    payload = random.Random(seed).randbytes(size)
    msgs = fragment(payload, 7, parity=parity)
    k = parse_header_k(msgs[0])[3]
    assert all(len(m) <= FEC_MESSAGE_BYTES for m in msgs) and len(msgs) > k >= 1
    kept = random.Random(seed).sample(msgs, k)
    r = Reassembler()
    out = [x for x in (r.push(m) for m in kept) if x is not None]
    assert out == [payload]


def test_malformed_fragments_with_parity_are_rejected() -> None:
    msgs = fragment(b"x" * 5000, 1, parity=0.25)
    k = parse_header_k(msgs[0])[3]
    too_many_needed = msgs[0][:2] + (len(msgs) + 1).to_bytes(2, "little") + msgs[0][4:]
    with pytest.raises(CodecError, match="rebuild"):
        parse_header_k(too_many_needed)
    with pytest.raises(CodecError, match="exceeds 1200"):
        parse_header_k(msgs[0] + b"x" * 1200)
    r = Reassembler()
    r.push(msgs[0])
    with pytest.raises(CodecError, match="different sizes"):
        r.push(msgs[1][:-1])
    # a length field that points past the data is refused, not read out of bounds
    shard = bytearray(msgs[0])
    shard[12:16] = (10**6).to_bytes(4, "little")
    r = Reassembler()
    with pytest.raises(CodecError, match="exceeds its fragments"):
        for m in [bytes(shard), *msgs[1:k]]:
            r.push(m)
