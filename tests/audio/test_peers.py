"""A voice through two real aiortc peers (Opus over DTLS-SRTP on this machine).

Sender: an AudioEngine fed a synthetic talker in real time (as a microphone would), its
MicrophoneTrack on one RTCPeerConnection. Receiver: a second RTCPeerConnection whose remote
track goes into another AudioEngine (jitter buffer + spatial mixer), read back from its mix.
The offer and answer are exchanged directly in the test.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import av
import numpy as np
import pytest
from aiortc import MediaStreamTrack, RTCPeerConnection

from holocall_desktop.audio import AudioEngine, VoiceSettings
from holocall_desktop.audio.synth import voice
from holocall_desktop.transport.tracks import low_latency_receiver
from holocall_desktop.transport.voice import use_resilient_voice

from .helpers import best_alignment, rms_db

OFF = VoiceSettings(False, False, False, False)


@contextlib.asynccontextmanager
async def peers(
    track: MediaStreamTrack, low_latency: bool = False
) -> AsyncIterator[MediaStreamTrack]:
    """Two connected peer connections; yields the receiving side's remote audio track. Voice is
    Opus as the call engine sends it (FEC on, decoded by libopus: ``use_resilient_voice``).

    ``low_latency``: the receiver passes packets on at once (``low_latency_receiver``).
    """
    assert use_resilient_voice()
    pc1, pc2 = RTCPeerConnection(), RTCPeerConnection()
    got: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()

    @pc2.on("track")
    def on_track(t: MediaStreamTrack) -> None:
        if t.kind == "audio" and not got.done():
            if low_latency:
                receivers = [tr.receiver for tr in pc2.getTransceivers() if tr.kind == "audio"]
                assert receivers and all(low_latency_receiver(r) for r in receivers)
            got.set_result(t)

    try:
        pc1.addTrack(track)
        await pc1.setLocalDescription(await pc1.createOffer())
        await pc2.setRemoteDescription(pc1.localDescription)
        await pc2.setLocalDescription(await pc2.createAnswer())
        await pc1.setRemoteDescription(pc2.localDescription)
        yield await asyncio.wait_for(got, 10)
    finally:
        for pc in (pc1, pc2):
            with contextlib.suppress(TimeoutError):  # aiortc's close can hang on a dead link
                await asyncio.wait_for(pc.close(), 5.0)


async def talk(engine: AudioEngine, signal: np.ndarray, block: int = 480) -> None:
    """Push ``signal`` into the engine's microphone path in real time, 10 ms at a time."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in range(0, len(signal), block):
        engine.push_capture(signal[i : i + block])
        await asyncio.sleep(max(0.0, start + (i + block) / 48000 - loop.time()))


async def test_voice_arrives_intact_and_spatialised_through_two_peers() -> None:
    sender = AudioEngine(capture=False, playback=False, voice=OFF)
    # a deep jitter buffer: this test checks fidelity, and shared CI machines stall for tens of
    # milliseconds (latency is measured by `holocall bench audio`)
    receiver = AudioEngine(capture=False, playback=False, voice=OFF, jitter_min_ms=150)
    mix: list[np.ndarray] = []
    receiver.add_output_tap(lambda block: mix.append(block.copy()))
    receiver.set_seat("alice", 3, 4)  # the viewer's left
    sender.start()
    receiver.start()
    sent = voice(3.0, seed=7, pauses=False)
    active_seen: set[str | None] = set()
    try:
        async with peers(sender.local_track, low_latency=True) as remote:
            receiver.on_remote_audio("alice", remote)
            feeding = asyncio.create_task(talk(sender, sent))
            while not feeding.done():
                active_seen.add(receiver.active_speaker())
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.4)
    finally:
        sender.close()
        receiver.close()
    y = np.concatenate(mix)
    left, right = y[:, 0], y[:, 1]
    assert rms_db(left) - rms_db(right) > 6.0
    # the near (left) ear carries the voice without delay or shadow: compare it with what was
    # sent. Global alignment first, then 250 ms windows each allowed ±20 ms of drift (the jitter
    # buffer may conceal or speed up now and then on a loaded machine)
    lag, corr = best_alignment(left, sent, len(left) - len(sent))
    win, slack = 12000, 960
    corrs = []
    for start in range(0, len(sent) - win, win):
        ref = sent[start : start + win]
        lo = max(0, lag + start - slack)
        _, c = best_alignment(left[lo : lo + win + 2 * slack], ref, 2 * slack)
        corrs.append(c)
    good = sum(c > 0.9 for c in corrs)
    assert good >= 0.7 * len(corrs), (corr, corrs)
    assert float(np.median(corrs)) > 0.93, corrs
    assert "alice" in active_seen
    stats = receiver.participant_audio()
    assert stats == [] or stats[0].jitter.received_ms > 2500


async def test_mute_sends_silence() -> None:
    sender = AudioEngine(capture=False, playback=False, voice=OFF)
    sender.start()
    sender.set_muted(True)
    assert sender.muted
    try:
        async with peers(sender.local_track) as remote:
            feeding = asyncio.create_task(talk(sender, voice(1.5, seed=3, pauses=False)))
            decoded: list[np.ndarray] = []
            while not feeding.done():
                frame = await asyncio.wait_for(remote.recv(), 2.0)
                assert isinstance(frame, av.AudioFrame)
                decoded.append(frame.to_ndarray())
            await feeding
    finally:
        sender.close()
    assert len(decoded) > 40  # ~1.5 s of 20 ms frames went through Opus
    # digital silence in; out, at most Opus' SILK layer (which carries the FEC) decoding it to
    # a floor of a few LSB, −76 dBFS: silence to the ear (under −60 dBFS)
    loudest = max(int(np.abs(d.astype(np.int32)).max()) for d in decoded)
    assert loudest <= 32, f"a muted microphone must decode to silence, got {loudest} LSB"
    # and the meter still shows that the user is talking while muted
    assert sender.input_level().rms_dbfs > -40


async def test_unmuted_track_produces_the_voice() -> None:
    engine = AudioEngine(capture=False, playback=False, voice=OFF)
    engine.start()
    try:
        sent = voice(0.5, seed=5, pauses=False)
        feeding = asyncio.create_task(talk(engine, sent))
        frames = [await asyncio.wait_for(engine.local_track.recv(), 1.0) for _ in range(20)]
        await feeding
    finally:
        engine.close()
    assert all(f.sample_rate == 48000 and f.samples == 960 for f in frames)
    assert [f.pts for f in frames] == [960 * i for i in range(20)]
    pcm = np.concatenate([f.to_ndarray()[0] for f in frames]).astype(np.float32) / 32768
    lag, corr = best_alignment(pcm, sent[: len(pcm) - 2000], 2000)
    assert corr > 0.99, (lag, corr)


@pytest.fixture(autouse=True)
def _quiet_aioice(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING")
