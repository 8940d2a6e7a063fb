"""A peer that sends garbage on the data channels does not disturb the call: the victim (a
separate process) keeps receiving a well-behaved participant's frames and counts every rejected
message in frames_bad."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from holocall_desktop.codec.fragment import HEADER
from holocall_desktop.transport.api import CallConfig, CallState
from holocall_desktop.transport.invite import parse_invite
from tests.transport.conftest import SMALL, Participant, RunningServer, host_and_link
from tests.transport.engines import engine

Start = Callable[[list[str]], Participant]

# (channel, message) pairs that every receiver must reject, one count each
CRAFTED: list[tuple[str, bytes | str]] = [
    ("hologram", b"\x02\x56" + bytes(30)),  # wrong version
    ("hologram", b"\x01\x99" + bytes(30)),  # unknown type
    ("hologram", b"\x01"),  # shorter than the header
    ("hologram", b"\x01\x56\x00\x00\x01"),  # truncated fragment header
    ("hologram", HEADER.pack(1, 0x56, 0, 77, 0, 0) + b"xx"),  # zero fragments
    ("hologram", HEADER.pack(1, 0x56, 0, 78, 3, 2) + b"xx"),  # index past count
    ("hologram", HEADER.pack(1, 0x56, 0, 79, 0, 1) + b"VF\x01" + bytes(100)),  # corrupt frame
    ("hologram", b"\x01\x41\x00" + bytes(10)),  # truncated avatar frame
    ("hologram", b"\x01\x53\x00\x05alice" + struct.pack("<7f", 0, 0, 0, 0, 0, 0, 5)),  # anchor
    ("hologram", "a text message"),
    ("control", b"\x01"),
    ("control", b"\x01\x77"),
    ("control", b"\x09\x50" + bytes(12)),
    ("control", b"\x01\x50\x01"),  # truncated ping
    ("control", b"\x01\x56" + bytes(10)),  # a fragment on the wrong channel
    ("control", "text on control"),
]


def surely_bad(data: bytes) -> bool:
    """Rejected whatever the rest holds: no valid version, or no type we know."""
    return len(data) < 2 or data[0] != 1 or data[1] not in (0x56, 0x41, 0x53)


def peer_stats(line: dict[str, Any], user: str) -> dict[str, Any] | None:
    return next((p for p in line.get("peers", []) if p["user_id"] == user), None)


@pytest.mark.slow
def test_garbage_does_not_disturb_the_call(
    signal_server: RunningServer, participants: Start
) -> None:
    victim, link = host_and_link(participants, signal_server, [*SMALL, "--seconds", "90"])
    good = participants([link, "--name", "good", *SMALL, "--seconds", "90"])
    invite = parse_invite(link)

    def bad_count() -> int:
        stats = [peer_stats(x, "attacker") for x in victim.events("stats")]
        return max((s["frames_bad"] for s in stats if s), default=0)

    def frames_from_good() -> int:
        return int(victim.last_stats()["received"].get("good", 0))

    config_kw: dict[str, Any] = {
        "server": invite.server,
        "user_id": "attacker",
        "display_name": "Attacker",
        "room_id": invite.room_id,
        "invite_secret": invite.invite_secret,
    }
    with engine(CallConfig(**config_kw)) as (attacker, rec):
        rec.wait_state(CallState.JOINED)
        rec.wait_connected("host")
        victim.wait_for(
            lambda x: (peer_stats(x, "attacker") or {}).get("rtt_ms") is not None,
            20,
            "the attacker connected to the victim",
        )
        victim.wait_for(
            lambda x: x.get("event") == "stats" and x["received"].get("good", 0) >= 3,
            20,
            "frames from the good participant",
        )
        for channel, data in CRAFTED:
            attacker.send_raw(channel, data, to="host")
        victim.wait_for(
            lambda x: (peer_stats(x, "attacker") or {}).get("frames_bad", 0) >= len(CRAFTED),
            10,
            "every crafted message counted",
        )
        assert bad_count() == len(CRAFTED)

        @settings(
            max_examples=5,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(st.lists(st.binary(max_size=200), min_size=5, max_size=40))
        def fuzz(batch: list[bytes]) -> None:
            before_bad = bad_count()
            before_frames = frames_from_good()
            for data in batch:
                attacker.send_raw("hologram", data, to="host")
            must = sum(surely_bad(d) for d in batch)
            # frames from the good participant keep coming, the bad ones are counted
            victim.wait_for(
                lambda x: (
                    x.get("event") == "stats"
                    and x["received"].get("good", 0) >= before_frames + 3
                    and (peer_stats(x, "attacker") or {}).get("frames_bad", 0) >= before_bad + must
                ),
                15,
                "frames after the garbage",
            )
            assert bad_count() <= before_bad + len(batch)

        fuzz()
        assert victim.proc.poll() is None and good.proc.poll() is None
        stats = victim.last_stats()
        assert {p["userId"] for p in stats["participants"]} == {"good", "attacker"}
        assert peer_stats(stats, "good")["frames_bad"] == 0  # type: ignore[index]
    victim.terminate()
    good.terminate()
    assert victim.finish(30) == 0 and good.finish(30) == 0
