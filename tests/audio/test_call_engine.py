"""Voice through the real call engine: two in-process CallEngines and a real signaling server.

The host's AudioEngine talks (a synthetic talker pushed in real time as its microphone); the
guest's CallEngine hands the host's remote audio track to the guest's AudioEngine
(``on_remote_audio``), whose mix must carry the voice, from the host's seat side.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import pytest

from holocall_desktop.audio import AudioEngine, VoiceSettings
from holocall_desktop.audio.synth import voice
from holocall_desktop.server.auth import generate_private_key_pem
from holocall_desktop.transport.api import (
    CallConfig,
    CallState,
    ChatMessage,
    ParticipantInfo,
    PeerStats,
    ScreenInfo,
)
from holocall_desktop.transport.engine import CallEngine
from tests.transport.conftest import LOOPBACK_ENV, running_server

from .helpers import best_alignment, rms_db

OFF = VoiceSettings(False, False, False, False)


class Listener:
    def __init__(self) -> None:
        self.states: list[CallState] = []
        self.changed = threading.Event()

    def on_state(self, state: CallState, message: str) -> None:
        self.states.append(state)
        self.changed.set()

    def on_participant(self, info: ParticipantInfo) -> None:
        self.changed.set()

    def on_participant_left(self, user_id: str, reason: str) -> None:
        pass

    def on_stats(self, stats: list[PeerStats]) -> None:
        pass

    def on_chat(self, message: ChatMessage) -> None:
        pass

    def on_sharing(self, info: ScreenInfo | None, error: str | None) -> None:
        pass


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _envelope_db(x: np.ndarray) -> np.ndarray:
    """10 ms RMS levels in dB (floored at -80 dB)."""
    n = len(x) // 480
    blocks = x[: n * 480].reshape(n, 480).astype(np.float64)
    return 10.0 * np.log10(np.maximum((blocks**2).mean(axis=1), 1e-8))


def test_voice_through_two_call_engines(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in LOOPBACK_ENV.items():
        monkeypatch.setenv(key, value)
    host_audio = AudioEngine(capture=False, playback=False, voice=OFF)
    guest_audio = AudioEngine(capture=False, playback=False, voice=OFF, jitter_min_ms=150)
    mix: list[np.ndarray] = []
    guest_audio.add_output_tap(lambda block: mix.append(block.copy()))
    guest_audio.set_seat("host", 1, 4)  # the viewer's right
    host_audio.start()
    guest_audio.start()
    host_l, guest_l = Listener(), Listener()
    with running_server(generate_private_key_pem("RS256")) as server:
        host = CallEngine(
            CallConfig(server.url, "host", "Host", create_room=True),
            host_l,
            local_audio=host_audio.local_track,
            on_remote_audio=host_audio.on_remote_audio,
        )
        guest: CallEngine | None = None
        try:
            host.start()
            wait_until(lambda: CallState.JOINED in host_l.states, 15, "the host to join")
            assert host.room_id and host.invite_secret
            guest = CallEngine(
                CallConfig(
                    server.url,
                    "guest",
                    "Guest",
                    room_id=host.room_id,
                    invite_secret=host.invite_secret,
                ),
                guest_l,
                local_audio=guest_audio.local_track,
                on_remote_audio=guest_audio.on_remote_audio,
            )
            guest.start()
            wait_until(
                lambda: (
                    "host" in guest_audio.participants() and guest_audio.participant_audio() != []
                ),
                20,
                "the host's audio track",
            )
            time.sleep(2.5)  # the connection's start-up burst leaves the jitter estimate (2 s)
            sent = voice(2.5, seed=9, pauses=False)
            mix.clear()
            t0 = time.monotonic()
            for i in range(0, len(sent), 480):  # a microphone: 10 ms at a time, in real time
                host_audio.push_capture(sent[i : i + 480])
                time.sleep(max(0.0, t0 + (i + 480) / 48000 - time.monotonic()))
            time.sleep(0.5)
        finally:
            if guest is not None:
                guest.close()
            host.close()
            host_audio.close()
            guest_audio.close()
    y = np.concatenate(mix)
    left, right = y[:, 0], y[:, 1]
    assert rms_db(right) - rms_db(left) > 3.0  # the host sits to the right
    # The near (right) ear against what was sent, by their loudness envelopes (10 ms RMS in dB),
    # in 500 ms windows each allowed ±60 ms of drift. Envelopes, not waveforms: when the
    # machine is busy the jitter buffer sheds its backlog by playing 2.5-7.5 % faster, which
    # shifts the pitch (and ruins a waveform correlation) but keeps every syllable where it was.
    lag, corr = best_alignment(right, sent, len(right) - len(sent))
    env_r, env_s = _envelope_db(right[max(0, lag) :]), _envelope_db(sent)
    corrs = []
    for start in range(0, len(env_s) - 50, 50):
        target = env_s[start : start + 50]
        best = max(
            float(np.corrcoef(target, env_r[start + d : start + d + 50])[0, 1])
            for d in range(-6, 7)
            if start + d >= 0 and start + d + 50 <= len(env_r)
        )
        corrs.append(best)
    # every window follows what was said (unrelated sound scores near 0), most of them closely;
    # under load a window with a shed backlog scores in the 0.7s
    assert len(corrs) >= 4 and min(corrs) > 0.6, (corr, corrs)
    assert sum(c > 0.8 for c in corrs) >= 0.5 * len(corrs), (corr, corrs)
