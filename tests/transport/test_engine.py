"""Two or three CallEngines in this process (each with its own network thread) through a real
signaling server: the API the UI uses, failures as states, reconnect, audio."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError

from holocall_desktop.capture.synthetic import SyntheticPersonSource
from holocall_desktop.model.avatar import AvatarFrame
from holocall_desktop.processing.background import remove_background
from holocall_desktop.transport.api import CallConfig, CallState, MediaMode
from holocall_desktop.transport.engine import EngineOptions
from holocall_desktop.transport.tracks import ToneTrack
from tests.transport.conftest import RunningServer, running_server
from tests.transport.engines import engine, guest_config, host_config


def frames(seed: int, count: int) -> list[Any]:
    src = SyntheticPersonSource(160, 120, fps=10, realtime=False, seed=seed)
    return [remove_background(src.frame(n)) for n in range(count)]


def test_engine_api_between_two_engines(signal_server: RunningServer) -> None:
    url = signal_server.url
    sent = frames(5, 40)
    with engine(host_config(url)) as (host, hrec):
        hrec.wait_state(CallState.JOINED)
        with engine(guest_config(host, url, "guest")) as (guest, grec):
            info = grec.wait_connected("host")
            assert info.seat == 0
            hrec.wait_connected("guest")
            grec.wait(lambda: any(i.display_name == "Host" for i in grec.infos), 10, "host's hello")
            # frames: the guest receives what the host sent, with its sequence and capture time
            got = None
            deadline = time.monotonic() + 15
            i = 0
            while got is None and time.monotonic() < deadline:
                host.send_frame(sent[i % len(sent)], time.time())
                i += 1
                time.sleep(0.1)
                got = guest.remote.frame("host").take()
            assert got is not None, "no frame arrived"
            assert got.user_id == "host"
            ref = sent[got.sequence % len(sent)]
            assert got.frame.frame_number == ref.frame_number
            assert np.array_equal(got.frame.depth > 0, ref.depth > 0)
            assert abs(got.capture_time - time.time()) < 2.0
            guest.frame_drawn(got)
            assert guest.summary.join_time_s is not None
            # avatar, anchor, mode, consent
            guest.set_mode(MediaMode.AVATAR)  # avatar frames go to everyone in AVATAR mode
            guest.send_avatar(AvatarFrame(timestamp=1.5, blendshapes=np.full(52, 0.5)))
            guest.send_anchor((1.0, 0.0, -2.0), (0.0, 0.0, 0.0, 1.0), "cloud-7")
            guest.set_consent(True, False, recording=True)
            avatar = host.remote.avatar("guest").wait(10)
            assert avatar is not None and avatar.frame.timestamp == pytest.approx(1.5, abs=1e-6)
            assert avatar.frame.blendshapes[0] == pytest.approx(0.5, abs=1 / 255)
            anchor = host.remote.anchor("guest").wait(10)
            assert anchor is not None and anchor.participant_id == "guest"
            assert anchor.position == pytest.approx((1.0, 0.0, -2.0))
            assert anchor.cloud_anchor_id == "cloud-7"
            changed = hrec.wait(
                lambda: [
                    i
                    for i in hrec.infos
                    if i.user_id == "guest" and i.mode == MediaMode.AVATAR and i.recording
                ],
                10,
                "mode and consent",
            )[-1]
            assert changed.allows_audio_recording and not changed.allows_hologram_recording
            # stats reach the listener
            stats = hrec.wait(
                lambda: [s for batch in hrec.stats for s in batch if s.rtt_ms is not None],
                10,
                "stats with a round trip",
            )[-1]
            assert stats.user_id == "guest" and stats.clock_offset_ms is not None

            # the guest's quality feedback about our stream comes back while we send
            def feedback() -> list[Any]:
                with hrec.cond:
                    return [s for b in hrec.stats for s in b if s.remote_loss is not None]

            deadline = time.monotonic() + 15
            while not feedback() and time.monotonic() < deadline:
                host.send_frame(sent[i % len(sent)], time.time())
                i += 1
                time.sleep(0.1)
            fed = feedback()
            assert fed, "no quality feedback with a loss figure"
            assert fed[-1].remote_loss <= 0.5 and fed[-1].remote_fps_in is not None
            assert abs(stats.clock_offset_ms) < 50  # same clock
            assert [p.user_id for p in host.participants] == ["guest"]
            guest.leave()
            assert guest.state == CallState.LEFT
            hrec.wait(lambda: ("guest", "left") in hrec.left, 10, "the guest leaving")
            assert host.participants == []
    assert hrec.states[-1][0] == CallState.LEFT


def test_failures_are_states_with_one_line(signal_server: RunningServer) -> None:
    url = signal_server.url
    cases = [
        (CallConfig("http://127.0.0.1:9", "u", "U", create_room=True), "cannot reach"),
        (
            CallConfig(url, "u", "U", room_id="nope", invite_secret="x" * 24),
            "the invite is not valid",
        ),
        (
            CallConfig(url, "u", "U", room_id="nope", access_token="not-a-jwt"),
            "the server refused the access token (invalid or expired); there is no refresh",
        ),
        (CallConfig(url, "u", "U"), "exactly one way"),
    ]
    for config, reason in cases:
        with engine(config) as (_eng, rec):
            message = rec.wait_state(CallState.FAILED)
            assert reason in message and "\n" not in message


def test_room_full_and_kicked(signal_server: RunningServer) -> None:
    url = signal_server.url
    with engine(host_config(url, max_peers=1)) as (host, hrec):
        hrec.wait_state(CallState.JOINED)
        with engine(guest_config(host, url, "g1")) as (_g1, g1rec):
            g1rec.wait_connected("host")
            with engine(guest_config(host, url, "g2")) as (_g2, g2rec):
                assert "the room is full (2 participants at most)" in g2rec.wait_state(
                    CallState.FAILED
                )

            async def kick() -> int:
                async with (
                    aiohttp.ClientSession() as session,
                    session.delete(
                        f"{url}/rooms/{host.room_id}/users/g1",
                        headers={"Authorization": f"Bearer {signal_server.server.admin_token}"},
                    ) as resp,
                ):
                    return resp.status

            assert asyncio.run(kick()) == 200
            assert g1rec.wait_state(CallState.FAILED) == "the host removed you from the room"
            hrec.wait(lambda: ("g1", "kicked") in hrec.left, 10, "g1 kicked")


class Proxy:
    """A TCP proxy on loopback whose connections the test can cut."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            with self.lock:
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with self.lock:
            conns, self.conns = self.conns, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self.listener.close()
        self.cut()


def test_signaling_drop_reconnects_and_the_call_goes_on(signal_server: RunningServer) -> None:
    url = signal_server.url
    proxy = Proxy(signal_server.server.port)
    try:
        sent = frames(2, 20)
        with engine(host_config(url)) as (host, hrec):
            hrec.wait_state(CallState.JOINED)
            proxied = guest_config(host, f"http://127.0.0.1:{proxy.port}", "g")
            with engine(proxied) as (guest, grec):
                grec.wait_connected("host")
                mark = len(grec.states)
                proxy.cut()
                assert "retrying" in grec.wait_state(CallState.RECONNECTING, 10, mark)
                assert grec.wait_state(CallState.JOINED, 15, mark) == "rejoined the room"
                # the peer connection never went away, frames still flow
                for i in range(30):
                    guest.send_frame(sent[i % len(sent)], time.time())
                    time.sleep(0.05)
                    if host.remote.frame("g").take() is not None:
                        break
                else:
                    raise AssertionError("no frame after the reconnect")
                assert hrec.left == [] and grec.left == []
                assert guest.summary.reconnects >= 1
    finally:
        proxy.close()


def test_reconnect_after_the_access_token_expired(jwt_pem: bytes) -> None:
    """Access tokens live 4 s here (no leeway): the engine refreshes them in the background,
    so a signaling drop after they expired still rejoins."""
    with running_server(jwt_pem, access_token_ttl=4.0, jwt_leeway=0.0) as server:
        proxy = Proxy(server.server.port)
        try:
            with engine(host_config(server.url)) as (host, hrec):
                hrec.wait_state(CallState.JOINED)
                proxied = guest_config(host, f"http://127.0.0.1:{proxy.port}", "g")
                with engine(proxied) as (_guest, grec):
                    grec.wait_connected("host")
                    time.sleep(6.0)  # the first access token has expired
                    mark = len(grec.states)
                    proxy.cut()
                    assert grec.wait_state(CallState.JOINED, 15, mark) == "rejoined the room"
                    assert hrec.left == [] and grec.left == []
        finally:
            proxy.close()


def test_server_gone_for_good_fails_after_the_reconnect_timeout(
    signal_server: RunningServer,
) -> None:
    options = EngineOptions(reconnect_timeout=2.0)
    with engine(host_config(signal_server.url), options) as (_host, rec):
        rec.wait_state(CallState.JOINED)
        asyncio.run_coroutine_threadsafe(signal_server.server.stop(), signal_server.loop).result(10)
        assert rec.wait_state(CallState.RECONNECTING)
        message = rec.wait_state(CallState.FAILED, 20)
        assert message.startswith("lost the signaling server for 2 s")


def dominant_hz(samples: np.ndarray[Any, Any], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


def test_audio_tone_both_ways(signal_server: RunningServer) -> None:
    url = signal_server.url
    heard: dict[str, list[np.ndarray[Any, Any]]] = {"host": [], "guest": []}
    tasks: list[asyncio.Future[None]] = []

    def collector(me: str) -> Any:
        def on_remote_audio(user_id: str, track: Any) -> None:
            async def consume() -> None:
                while True:
                    try:
                        frame = await track.recv()
                    except MediaStreamError:
                        return
                    heard[me].append(frame.to_ndarray().reshape(-1, len(frame.layout.channels)))

            tasks.append(asyncio.ensure_future(consume()))

        return on_remote_audio

    with engine(
        host_config(url), local_audio=ToneTrack(440.0), on_remote_audio=collector("host")
    ) as (host, hrec):
        hrec.wait_state(CallState.JOINED)
        with engine(
            guest_config(host, url, "guest"),
            local_audio=ToneTrack(660.0),
            on_remote_audio=collector("guest"),
        ) as (_guest, grec):
            grec.wait_connected("host")
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and min(len(v) for v in heard.values()) < 60:
                time.sleep(0.1)
    for me, expect in (("guest", 440.0), ("host", 660.0)):
        assert len(heard[me]) >= 60, f"{me} heard {len(heard[me])} audio frames"
        samples = np.concatenate(heard[me][-50:])[:, 0].astype(np.float64)
        assert np.abs(samples).max() > 1000, "silence"
        assert dominant_hz(samples, 48000) == pytest.approx(expect, abs=5.0)


def sent_rung(rec: Any, ladder: Any) -> int:
    """The ladder index of the rung the last stats say we send (0 before any)."""
    with rec.cond:
        named = [s.send_rung for b in rec.stats for s in b if s.send_rung]
    return int(ladder.index(named[-1])) if named else 0


def test_sender_goes_down_the_ladder_when_a_receiver_asks_for_less(
    signal_server: RunningServer,
) -> None:
    from holocall_desktop.codec import control as wire
    from holocall_desktop.codec.base import Quality
    from holocall_desktop.transport.ladder import Ladder

    ladder = Ladder(Quality())
    url = signal_server.url
    sent = frames(6, 10)
    with engine(host_config(url)) as (host, hrec):
        hrec.wait_state(CallState.JOINED)
        with engine(guest_config(host, url, "guest")) as (guest, grec):
            grec.wait_connected("host")

            def rung() -> int:
                return sent_rung(hrec, ladder)

            def send_while(cond: Callable[[], bool], feedback: bytes) -> None:
                deadline = time.monotonic() + 20
                i = 0
                while cond() and time.monotonic() < deadline:
                    host.send_frame(sent[i % len(sent)], time.time())
                    guest.send_raw("control", feedback)
                    i += 1
                    time.sleep(0.05)

            # "I lose 20 %: at most 50 kbit/s please"
            ask = wire.encode_control(wire.QualityFeedback(0.2, 10.0, 80.0, 50))
            send_while(lambda: rung() < ladder.index("minimal"), ask)
            low = rung()
            assert low >= ladder.index("minimal"), ladder.rungs[low]
            ok = wire.encode_control(wire.QualityFeedback(0.0, 5.0, 40.0, 0))
            send_while(lambda: rung() > ladder.index("low"), ok)
            assert rung() <= ladder.index("low")  # back up once nobody asks for less


def test_a_receiver_that_cannot_keep_up_asks_for_less_by_itself(
    signal_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The receiver's half of the decode-headroom control: nothing injected, a slow decoder."""
    from holocall_desktop.codec.base import Quality
    from holocall_desktop.codec.registry import decoder_for_transport
    from holocall_desktop.transport import receiver
    from holocall_desktop.transport.ladder import START_RUNG, Ladder

    def slow(transport: str) -> Any:
        real = decoder_for_transport(transport)

        class Slow:
            def assemble(self, payload: Any) -> Any:
                return real.assemble(payload)

            def decode_whole(self, whole: Any) -> Any:
                time.sleep(0.2)  # 5 frames a second at most
                return real.decode_whole(whole)

            @property
            def pending(self) -> int:
                return real.pending

        return Slow()

    monkeypatch.setattr(receiver, "decoder_for_transport", slow)
    url = signal_server.url
    sent = frames(7, 10)
    with engine(host_config(url)) as (host, hrec):
        hrec.wait_state(CallState.JOINED)
        with engine(guest_config(host, url, "guest")) as (_guest, grec):
            grec.wait_connected("host")
            deadline = time.monotonic() + 20
            i = 0
            ladder = Ladder(Quality())
            start = START_RUNG  # where a call starts: only the feedback takes it lower
            while sent_rung(hrec, ladder) <= start and time.monotonic() < deadline:
                host.send_frame(sent[i % len(sent)], time.time())
                i += 1
                time.sleep(1 / 30)
            assert sent_rung(hrec, ladder) > start  # the guest's feedback sent us down
            dropped = [s for batch in grec.stats for s in batch if s.user_id == "host"]
            assert dropped and dropped[-1].frames_dropped > 0
