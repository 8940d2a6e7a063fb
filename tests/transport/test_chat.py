"""Chat between separate `holocall join --headless` processes through a real signaling server
and real aiortc: every participant's messages reach the others in order, as the text sent
(markup stays characters), with the sender's name; a flood and malformed messages are cut
short without harming the call."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from typing import Any

import pytest

from holocall_desktop.transport.api import CallConfig, CallState
from holocall_desktop.transport.invite import parse_invite
from tests.transport.conftest import SMALL, Participant, RunningServer, host_and_link
from tests.transport.engines import engine

Start = Callable[[list[str]], Participant]

SAID = {
    "host": ["hello everyone", "<b>not bold</b> & <script>alert(1)</script>", "Grüße 👋\nline two"],
    "a": ["a here", "second from a"],
    "b": ["b here"],
}


def _says(user: str) -> list[str]:
    return [arg for text in SAID[user] for arg in ("--say", text)]


def chats_from(p: Participant, sender: str) -> list[str]:
    return [x["text"] for x in p.events("chat") if x["userId"] == sender]


@pytest.mark.slow
def test_chat_reaches_everyone_in_order_as_plain_text(
    signal_server: RunningServer, participants: Start
) -> None:
    host, link = host_and_link(
        participants, signal_server, [*SMALL, "--seconds", "90", *_says("host")]
    )
    guests = {
        name: participants([link, "--name", name, *SMALL, "--seconds", "90", *_says(name)])
        for name in ("a", "b")
    }
    everyone = {"host": host, **guests}
    for receiver, p in everyone.items():
        for sender in set(everyone) - {receiver}:
            p.wait_for(
                lambda _x, p=p, s=sender: len(chats_from(p, s)) >= len(SAID[s]),
                45,
                f"{receiver} getting {sender}'s chat",
            )
            assert chats_from(p, sender) == SAID[sender]  # in order, exactly as written
    line = next(x for x in guests["a"].events("chat") if x["userId"] == "host")
    assert line["name"] == "host" and abs(line["time"] - time.time()) < 60
    for p in everyone.values():
        p.terminate()
        assert p.finish(30) == 0, p.stderr[-10:]
        assert not any("Traceback" in line for line in p.stderr)
        assert p.events("summary")[-1]["chat"] == sum(
            len(SAID[s]) for s in everyone if p is not everyone[s]
        )


def _raw_chat(seq: int, text: bytes) -> bytes:
    return struct.pack("<BBIdH", 1, 0x54, seq, time.time(), len(text)) + text


def test_a_chat_flood_and_bad_chat_are_cut_short(
    signal_server: RunningServer, participants: Start
) -> None:
    victim, link = host_and_link(participants, signal_server, [*SMALL, "--seconds", "60"])
    invite = parse_invite(link)
    config = CallConfig(
        server=invite.server,
        user_id="flooder",
        display_name="Flooder",
        room_id=invite.room_id,
        invite_secret=invite.invite_secret,
    )
    with engine(config) as (flooder, rec):
        rec.wait_state(CallState.JOINED)
        rec.wait_connected("host")
        # the host's hello came (its codec is known): the flood goes out at once, instead of
        # waiting in the 50 messages kept for a peer whose hello is still on the way
        rec.wait(lambda: any(i.user_id == "host" and i.codec for i in rec.infos), 20, "the hello")
        victim.wait_for(
            lambda x: x.get("event") == "participant" and x["connection"] == "connected",
            20,
            "the flooder connected",
        )
        bad = [
            _raw_chat(1, b""),  # empty
            _raw_chat(2, b"\x1b[31mred"),  # a control character
            _raw_chat(3, b"\xff\xfe"),  # not UTF-8
            _raw_chat(4, b"x" * 2001),  # too long
            _raw_chat(5, b"abc")[:-1],  # truncated
        ]
        for data in bad:
            flooder.send_raw("control", data)
        for i in range(200):
            flooder.send_chat(f"spam {i}")
        time.sleep(2.0)
        flooder.send_chat("after the flood")  # the limit refills: one more gets through later
        victim.wait_for(
            lambda x: x.get("event") == "chat" and x["text"] == "after the flood",
            20,
            "a message after the flood",
        )
        shown = [x["text"] for x in victim.events("chat")]
        assert shown[:10] == [f"spam {i}" for i in range(10)]  # the burst, in order
        assert len(shown) < 20  # the rest of the 200 was cut

        def bad_count(x: dict[str, Any]) -> bool:
            peers = [p for p in x.get("peers", []) if p["user_id"] == "flooder"]
            return bool(peers) and peers[0]["frames_bad"] >= len(bad) + 150

        victim.wait_for(bad_count, 15, "the rejected chat counted")
    victim.terminate()
    assert victim.finish(30) == 0
    assert not any("Traceback" in line for line in victim.stderr)
