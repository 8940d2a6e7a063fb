"""A browser-like peer (only the signaling protocol, and a WebRTC stack that trickles its
candidates) hosts a room and calls the engine: the engine answers, adds the trickled candidates,
ignores the empty end-of-candidates one, and speaks the data-channel protocol on the channels
the browser created."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from concurrent.futures import Future
from typing import Any

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack

from holocall_desktop.codec import control as wire
from holocall_desktop.transport.api import CallConfig, CallState, MediaMode
from tests.transport.conftest import RunningServer
from tests.transport.engines import engine


async def browser(url: str, room: Future[dict[str, Any]], hello: Future[wire.Hello]) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/rooms", json={"userId": "browser"}) as resp:
            created = await resp.json()
        ws_url = url.replace("http://", "ws://") + f"/ws?token={created['accessToken']}"
        ws = await http.ws_connect(ws_url)
        await ws.send_json({"type": "join-room", "roomId": created["roomId"], "userId": "browser"})
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        control = pc.createDataChannel("control")
        pc.createDataChannel("hologram", ordered=False, maxRetransmits=0)

        @control.on("message")
        def on_message(message: Any) -> None:
            msg = wire.decode_control(message)
            if isinstance(msg, wire.Hello) and not hello.done():
                hello.set_result(msg)
                control.send(wire.encode_control(wire.Hello("Browser", wire.Mode.AVATAR)))

        try:
            while not hello.done():
                try:
                    frame = await ws.receive(timeout=0.2)
                except TimeoutError:
                    continue
                if frame.type != aiohttp.WSMsgType.TEXT:
                    break
                msg = json.loads(frame.data)
                if msg["type"] == "room-state":
                    room.set_result(created)
                elif msg["type"] == "user-joined":
                    await pc.setLocalDescription(await pc.createOffer())
                    lines = pc.localDescription.sdp.splitlines()
                    candidates = [x[2:] for x in lines if x.startswith("a=candidate:")]
                    mid = next(x[6:] for x in lines if x.startswith("a=mid:"))
                    assert candidates
                    # a trickling browser's offer has no candidates and no end-of-candidates
                    kept = [x for x in lines if not x.startswith(("a=candidate:", "a=end-of-cand"))]
                    offer = "\r\n".join(kept)
                    sdp = {"type": "offer", "sdp": offer + "\r\n"}
                    await ws.send_json({"type": "offer", "to": msg["userId"], "sdp": sdp})
                    # like a browser: each candidate on its own, then the empty end-of-candidates
                    for cand in [*candidates, ""]:
                        candidate = {"candidate": cand, "sdpMid": mid, "sdpMLineIndex": 0}
                        await ws.send_json(
                            {"type": "ice-candidate", "to": msg["userId"], "candidate": candidate}
                        )
                elif msg["type"] == "answer":
                    await pc.setRemoteDescription(RTCSessionDescription(**msg["sdp"]))
            await asyncio.sleep(1.5)  # let our hello reach the engine
        finally:
            await ws.close()
            await pc.close()


def _desktop_in(url: str, created: dict[str, Any]) -> CallConfig:
    """The engine's way into the room the browser-like peer created."""
    return CallConfig(
        server=url,
        user_id="desktop",
        display_name="Desktop",
        room_id=created["roomId"],
        invite_secret=created["inviteSecret"],
    )


def test_browser_like_peer_with_trickled_candidates(signal_server: RunningServer) -> None:
    room: Future[dict[str, Any]] = Future()
    hello: Future[wire.Hello] = Future()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(browser(signal_server.url, room, hello))
        except BaseException as exc:
            errors.append(exc)
            if not room.done():
                room.set_exception(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    config = _desktop_in(signal_server.url, room.result(15))
    with engine(config) as (eng, rec):
        rec.wait_state(CallState.JOINED)
        rec.wait_connected("browser")
        # ICE could connect through a peer-reflexive candidate alone: check that the trickled
        # candidates themselves reached the ICE agent (host candidates on 127.0.0.1)
        ice = eng._topology.peers["browser"].pc.sctp.transport.transport
        remote = ice.getRemoteCandidates()
        assert [c.type for c in remote if c.ip == "127.0.0.1"].count("host") >= 1
        ours = hello.result(15)
        assert ours.display_name == "Desktop" and ours.mode == wire.Mode.VOLUMETRIC
        theirs = rec.wait(
            lambda: [i for i in rec.infos if i.display_name == "Browser"], 10, "browser's hello"
        )[-1]
        assert theirs.mode == MediaMode.AVATAR and theirs.seat == 0
        thread.join(10)
        rec.wait(lambda: rec.left, 15, "the browser leaving")
    assert not errors, errors


async def webcam_browser(url: str, room: Future[dict[str, Any]], seconds: float) -> None:
    """A plain WebRTC peer: a webcam (a video track) and a data channel, but none of our control
    protocol (no hello, no answers to pings), for ``seconds`` once connected."""
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/rooms", json={"userId": "webcam"}) as resp:
            created = await resp.json()
        ws_url = url.replace("http://", "ws://") + f"/ws?token={created['accessToken']}"
        ws = await http.ws_connect(ws_url)
        await ws.send_json({"type": "join-room", "roomId": created["roomId"], "userId": "webcam"})
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTrack(VideoStreamTrack())  # black 640x480 frames at 30 fps, like a covered webcam
        pc.createDataChannel("control")
        connected = asyncio.Event()
        pc.on(
            "connectionstatechange", lambda: pc.connectionState == "connected" and connected.set()
        )
        try:
            while not connected.is_set():
                try:
                    frame = await ws.receive(timeout=0.2)
                except TimeoutError:
                    continue
                msg = json.loads(frame.data)
                if msg["type"] == "room-state":
                    room.set_result(created)
                elif msg["type"] == "user-joined":
                    await pc.setLocalDescription(await pc.createOffer())
                    sdp = {"type": "offer", "sdp": pc.localDescription.sdp}
                    await ws.send_json({"type": "offer", "to": msg["userId"], "sdp": sdp})
                elif msg["type"] == "answer":
                    await pc.setRemoteDescription(RTCSessionDescription(**msg["sdp"]))
            # a browser keeps reading its WebSocket (which answers the server's heartbeat)
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                with contextlib.suppress(TimeoutError):
                    await ws.receive(timeout=min(1.0, max(0.01, deadline - time.monotonic())))
        finally:
            await ws.close()
            await pc.close()


def test_a_plain_webrtc_peer_with_a_webcam_stays_and_its_video_is_its_picture(
    signal_server: RunningServer, caplog: Any
) -> None:
    room: Future[dict[str, Any]] = Future()
    thread = threading.Thread(
        target=lambda: asyncio.run(webcam_browser(signal_server.url, room, 34.0)), daemon=True
    )
    thread.start()
    config = _desktop_in(signal_server.url, room.result(15))
    with caplog.at_level("INFO"), engine(config) as (eng, rec):
        rec.wait_connected("webcam")
        time.sleep(32.0)  # far past the peer timeout (3 s): no pongs, but a healthy connection
        assert not rec.left, rec.left
        peer = eng._topology.peers["webcam"]
        # drained until it is clear that no hello comes, then its camera picture (not decoded
        # as a hologram)
        assert peer.receiver.video_unused > 30 and peer.camera.pictures > 30, peer.camera.pictures
        assert peer.metrics.frames_bad == 0 and peer.metrics.frames_in == 0
        picture = eng.remote.video("webcam").take()
        assert picture is not None and picture.image.shape == (480, 640, 3)
        # aiortc's stand-in webcam sends all-zero YUV: one green everywhere
        assert (picture.image == (0, 135, 0)).all(), picture.image[0, 0]
        thread.join(15)
        rec.wait(lambda: rec.left, 40, "the webcam peer leaving")
    assert "Traceback" not in caplog.text and "never retrieved" not in caplog.text
    assert caplog.text.count("plain camera video") == 1
