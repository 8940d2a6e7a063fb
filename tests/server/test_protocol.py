"""Malformed frames and property-based fuzzing of every message type, over real sockets."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from holocall_desktop.protocol.signaling import SERVER_TYPES
from holocall_desktop.server.app import SignalingServer
from holocall_desktop.server.config import ServerConfig
from holocall_desktop.server.messages import SDP_TYPES
from tests.server.client import SignalClient, create_room, invite
from tests.server.conftest import ServerFactory

OFFER = {"type": "offer", "sdp": "v=0\r\n"}


async def _pair(
    http: aiohttp.ClientSession, server: SignalingServer
) -> tuple[SignalClient, SignalClient, str]:
    room = await create_room(http, server.http_url, "alice")
    alice = await SignalClient.connect(http, server.ws_url, room["accessToken"])
    await alice.join(room["roomId"], "alice")
    bob_t = await invite(http, server.http_url, room, "bob")
    bob = await SignalClient.connect(http, server.ws_url, bob_t["accessToken"])
    await bob.join(room["roomId"], "bob")
    await alice.expect("user-joined")
    return alice, bob, room["roomId"]


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "invalid-json"),
        ("{", "invalid-json"),
        ("[1, 2]", "invalid-message"),
        ('"offer"', "invalid-message"),
        ("{}", "invalid-message"),
        ('{"type": 7}', "invalid-message"),
        ('{"type": "dance"}', "unknown-type"),
        ('{"type": "join-room", "roomId": 5, "userId": "bob"}', "invalid-message"),
        ('{"type": "join-room", "roomId": "r"}', "invalid-message"),
        ('{"type": "offer", "to": "alice", "sdp": "v=0"}', "invalid-message"),
        (
            '{"type": "offer", "to": "alice", "sdp": {"type": "answer", "sdp": ""}}',
            "invalid-message",
        ),
        (
            '{"type": "answer", "to": ["alice"], "sdp": {"type": "answer", "sdp": ""}}',
            "invalid-message",
        ),
        ('{"type": "ice-candidate", "to": "alice", "candidate": "candidate:1"}', "invalid-message"),
        (
            '{"type": "ice-candidate", "to": "alice", '
            '"candidate": {"candidate": "c", "sdpMid": null, "sdpMLineIndex": true}}',
            "invalid-message",
        ),
        ('{"type": "leave-room", "roomId": "../../etc"}', "invalid-message"),
        ("[" * 100_00 + "]" * 100_00, "invalid-json"),
    ],
)
async def test_malformed_frame_gets_an_error(
    server: SignalingServer, http: aiohttp.ClientSession, frame: str, code: str
) -> None:
    alice, bob, _ = await _pair(http, server)
    await bob.send_raw(frame)
    err = await bob.expect("error")
    assert err["code"] == code, err
    assert isinstance(err["message"], str) and err["message"]
    await alice.nothing(0.05)
    # the same connection keeps working
    await bob.send(type="offer", to="alice", sdp=OFFER)
    assert (await alice.expect("offer"))["from"] == "bob"


async def test_binary_frame_gets_an_error(
    server: SignalingServer, http: aiohttp.ClientSession
) -> None:
    alice, bob, _ = await _pair(http, server)
    await bob.ws.send_bytes(b"\x00\x01binary")
    assert (await bob.expect("error"))["code"] == "binary-not-supported"
    await bob.send(type="offer", to="alice", sdp=OFFER)
    await alice.expect("offer")


async def test_oversized_frame_closes_only_that_connection(
    make_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await make_server(max_message_bytes=4096)
    alice, bob, _ = await _pair(http, server)
    await bob.send(type="offer", to="alice", sdp={"type": "offer", "sdp": "a" * 10_000})
    assert await bob.close_code() == 1009
    assert (await alice.expect("user-left"))["userId"] == "bob"
    carol_room = await create_room(http, server.http_url, "carol")
    carol = await SignalClient.connect(http, server.ws_url, carol_room["accessToken"])
    assert (await carol.join(carol_room["roomId"], "carol"))["type"] == "room-state"


async def test_repeated_violations_disconnect(
    make_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await make_server(max_violations=5)
    alice, bob, _ = await _pair(http, server)
    for _ in range(5):
        await bob.send_raw("garbage")
    codes = [(await bob.recv())["code"] for _ in range(6)]
    assert codes == ["invalid-json"] * 5 + ["too-many-errors"]
    assert await bob.close_code() == 1008
    assert (await alice.expect("user-left"))["userId"] == "bob"
    await alice.send(type="leave-room", roomId="nowhere")
    assert (await alice.expect("error"))["code"] == "not-in-room"


async def test_message_rate_limit(make_server: ServerFactory, http: aiohttp.ClientSession) -> None:
    server = await make_server(message_rate=5.0, message_burst=5, max_violations=100)
    alice, bob, _ = await _pair(http, server)
    for _ in range(10):
        await bob.send(type="offer", to="alice", sdp=OFFER)
    # the burst of 5 covers the join and 4 offers; the other 6 are dropped
    relayed = [await alice.expect("offer") for _ in range(4)]
    assert len(relayed) == 4
    await alice.nothing(0.1)
    limited = [await bob.expect("error") for _ in range(6)]
    assert {e["code"] for e in limited} == {"rate-limited"}


# ---- property-based fuzzing -------------------------------------------------------------------

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=10,
)


def _field(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(valid, valid, _json)


def _message(kind: str, fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[str]:
    """A frame of ``kind`` whose fields are each valid, garbage or missing."""
    return st.fixed_dictionaries(
        {"type": _field(st.just(kind))}, optional={k: _field(v) for k, v in fields.items()}
    ).map(json.dumps)


_ids = st.sampled_from(["alice", "bob", "ghost", "", "x" * 65, "a b"])
_sdp = st.fixed_dictionaries(
    {"type": _field(st.sampled_from(SDP_TYPES)), "sdp": _field(st.text(max_size=200))}
)
_candidate = st.fixed_dictionaries(
    {
        "candidate": _field(st.text(max_size=100)),
        "sdpMid": _field(st.none() | st.text(max_size=5)),
        "sdpMLineIndex": _field(st.none() | st.integers(-5, 2000)),
    },
    optional={"usernameFragment": _field(st.text(max_size=10))},
)
FRAMES: dict[str, st.SearchStrategy[str]] = {
    "join-room": _message("join-room", {"roomId": _field(st.just("ROOM")), "userId": _ids}),
    "leave-room": _message("leave-room", {"roomId": _field(st.just("ROOM"))}),
    "offer": _message("offer", {"to": _ids, "sdp": _sdp}),
    "answer": _message("answer", {"to": _ids, "sdp": _sdp}),
    "ice-candidate": _message("ice-candidate", {"to": _ids, "candidate": _candidate}),
    "raw": st.text(max_size=300),
}


class ThreadedServer:
    """A server on its own loop in a thread, so that synchronous hypothesis tests can use it."""

    def __init__(self, config: ServerConfig) -> None:
        self.server = SignalingServer(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> SignalingServer:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        return self.server

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture(scope="module")
def fuzz_server(rsa_pem: bytes) -> Iterator[SignalingServer]:
    config = ServerConfig(
        host="127.0.0.1",
        port=0,
        jwt_private_key_pem=rsa_pem,
        connection_cooldown=0,
        reconnect_grace=0,
        max_violations=10_000,
        message_rate=1e6,
        message_burst=1_000_000,
        max_rooms_per_ip=0,
        stun_urls=(),
    )
    with ThreadedServer(config) as server:
        yield server


def _check_server_frame(frame: dict[str, Any], sender: str) -> None:
    kind = frame.get("type")
    assert kind in SERVER_TYPES, frame
    if kind == "error":
        assert isinstance(frame["code"], str) and isinstance(frame["message"], str)
        # a handler that raised: the client was told "internal-error"; the fuzzer must see it
        assert frame["code"] != "internal-error", frame
    if kind in ("offer", "answer"):
        assert set(frame) == {"type", "from", "sdp"}, frame
        assert frame["from"] == sender
        assert set(frame["sdp"]) == {"type", "sdp"} and frame["sdp"]["type"] in SDP_TYPES
        assert isinstance(frame["sdp"]["sdp"], str)
    if kind == "ice-candidate":
        assert set(frame) == {"type", "from", "candidate"}, frame
        cand = frame["candidate"]
        assert isinstance(cand["candidate"], str)
        assert cand["sdpMid"] is None or isinstance(cand["sdpMid"], str)
        index = cand["sdpMLineIndex"]
        assert index is None or (type(index) is int and 0 <= index < 1024)
        assert set(cand) <= {"candidate", "sdpMid", "sdpMLineIndex", "usernameFragment"}


async def _fuzz_once(server: SignalingServer, frames: list[str]) -> None:
    async with aiohttp.ClientSession() as http:
        room = await create_room(http, server.http_url, "alice")
        rid = room["roomId"]
        alice = await SignalClient.connect(http, server.ws_url, room["accessToken"])
        await alice.join(rid, "alice")
        bob_t = await invite(http, server.http_url, room, "bob")
        bob = await SignalClient.connect(http, server.ws_url, bob_t["accessToken"])
        await bob.join(rid, "bob")
        await alice.expect("user-joined")
        for frame in frames:
            await bob.send_raw(frame.replace("ROOM", rid))
        # bring bob back into the room whatever the frames did, then a sentinel offer
        await bob.send(type="join-room", roomId=rid, userId="bob")
        await bob.send(type="offer", to="alice", sdp={"type": "offer", "sdp": "sentinel"})
        await bob.send_raw('{"type": "sentinel"}')
        while True:
            got = await bob.recv()
            _check_server_frame(got, "alice")
            if got.get("code") == "unknown-type" and "sentinel" in got["message"]:
                break
        while True:
            got = await alice.recv()
            _check_server_frame(got, "bob")
            if got.get("type") == "offer" and got["sdp"]["sdp"] == "sentinel":
                break
        assert not bob.ws.closed and not alice.ws.closed
        await alice.close()
        await bob.close()


def test_the_fuzzer_sees_a_crashed_handler(
    fuzz_server: SignalingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from holocall_desktop.server import messages

    real = messages.parse_client_message

    def crashing(text: str, max_sdp_chars: int = 60_000) -> messages.ClientMessage:
        if "crash-me" in text:
            raise KeyError("a bug in a handler")
        return real(text, max_sdp_chars)

    monkeypatch.setattr(messages, "parse_client_message", crashing)
    with pytest.raises(AssertionError, match="internal-error"):
        asyncio.run(_fuzz_once(fuzz_server, ['{"type": "crash-me"}']))


@pytest.mark.parametrize("kind", sorted(FRAMES))
def test_fuzz_message_types(fuzz_server: SignalingServer, kind: str) -> None:
    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(st.lists(FRAMES[kind], min_size=1, max_size=6))
    def run(frames: list[str]) -> None:
        asyncio.run(_fuzz_once(fuzz_server, frames))

    run()


async def test_abusive_client_loses_its_seat_despite_the_grace(
    make_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await make_server(max_violations=2, reconnect_grace=30.0)
    alice, bob, _ = await _pair(http, server)
    await bob.send_raw("x")
    await bob.send_raw("y")
    assert await bob.close_code() == 1008
    left = await alice.expect("user-left", timeout=2.0)
    assert left["userId"] == "bob" and left["reason"] == "disconnected"
