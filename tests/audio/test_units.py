"""The pieces on their own: ring buffer, spatial mixer, jitter buffer, levels and speakers."""

from __future__ import annotations

import time

import numpy as np
import pytest

from holocall_desktop.audio import AudioEngine, JitterBuffer, SpatialMixer, VoiceSettings
from holocall_desktop.audio.ring import AudioRing
from holocall_desktop.audio.synth import voice
from holocall_desktop.model.room import RoomLayout

B = 480
HEAD = np.array([0.0, 1.2, 0.0])  # a seated head above the seat


def test_ring_wraps_around_and_counts_losses() -> None:
    ring = AudioRing(1000, 1)
    data = np.arange(2600, dtype=np.float32)
    out = np.empty(700, dtype=np.float32)
    got: list[np.ndarray] = []
    pos = 0
    for _ in range(4):
        pos += ring.write(data[pos : pos + 700])
        n = ring.read_into(out)
        got.append(out[:n].copy())
    np.testing.assert_array_equal(np.concatenate(got), data[:2600][: sum(len(g) for g in got)])
    assert ring.underruns == 200  # the last read wanted 700, only 500 were left
    assert ring.write(np.zeros(1200, dtype=np.float32)) == 1000 and ring.overruns == 200
    assert ring.read_into(np.empty(1100, dtype=np.float32)) == 1000 and ring.underruns == 300


def listener_mixer() -> tuple[SpatialMixer, RoomLayout]:
    layout = RoomLayout()
    mixer = SpatialMixer()
    mixer.set_listener(layout.viewer_eye(), layout.seat(0, 2).facing)
    return mixer, layout


def run_mixer(mixer: SpatialMixer, sid: str, x: np.ndarray, move: object = None) -> np.ndarray:
    out = []
    for i in range(0, len(x) - B + 1, B):
        if move is not None and i == len(x) // 2 // B * B:
            mixer.set_source_position(sid, move)
        out.append(mixer.mix({sid: x[i : i + B]}).copy())
    return np.concatenate(out)


def test_seats_pan_by_side_and_distance() -> None:
    mixer, layout = listener_mixer()
    for seat in range(1, 6):
        mixer.set_source_position(f"p{seat}", layout.seat(seat, 6).position + HEAD)
    g = {s: mixer.geometry(f"p{s}") for s in range(1, 6)}
    assert g[1].gain_right > g[1].gain_left and g[5].gain_left > g[5].gain_right
    assert g[1].delay_left > 10 and g[1].delay_right == 0  # right source: left ear later
    assert g[3].gain_left == pytest.approx(g[3].gain_right)  # across the table: centre
    assert g[3].distance > g[2].distance > g[1].distance  # farther seats...
    assert g[3].gain_left + g[3].gain_right < g[1].gain_left + g[1].gain_right  # ...quieter


def test_moving_a_voice_does_not_click() -> None:
    mixer, layout = listener_mixer()
    t = np.arange(48000) / 48000
    tone = (0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    mixer.set_source_position("a", layout.seat(1, 4).position + HEAD)
    y = run_mixer(mixer, "a", tone, move=layout.seat(3, 4).position + HEAD)
    # a jump from right to left: the largest sample-to-sample step stays that of the tone
    steady_step = 0.5 * 2 * np.pi * 300 / 48000
    assert np.abs(np.diff(y[B:], axis=0)).max() < 1.5 * steady_step
    left, right = y[-4800:, 0], y[-4800:, 1]
    assert np.sqrt(np.mean(left**2)) > 2 * np.sqrt(np.mean(right**2))  # it arrived on the left


def test_mixer_rejects_bad_input() -> None:
    mixer, _ = listener_mixer()
    with pytest.raises(ValueError, match="three finite numbers"):
        mixer.set_source_position("a", [0.0, float("nan"), 1.0])
    with pytest.raises(KeyError, match="place it first"):
        mixer.mix({"nobody": np.zeros(B, dtype=np.float32)})
    mixer.set_source_position("a", [1.0, 1.2, 0.0])
    with pytest.raises(ValueError, match="must be"):
        mixer.mix({"a": np.zeros(B + 1, dtype=np.float32)})
    with pytest.raises(ValueError, match="volume"):
        mixer.set_volume("a", -1.0)


def test_jitter_buffer_low_latency_when_steady_and_recovers_from_a_gap() -> None:
    jb = JitterBuffer()
    x = voice(2.0, seed=1, pauses=False)
    out = np.empty(B, dtype=np.float32)
    t = 100.0
    played: list[np.ndarray] = []
    buffered = []
    for k in range(0, len(x) - 960, 960):  # a packet every 20 ms, two pulls per packet
        if k != 48000:  # one packet lost at 1.0 s
            jb.push(x[k : k + 960], arrival=t, media_time=k / 48000)
        t += 0.02
        for _ in range(2):
            jb.pull(out)
            played.append(out.copy())
            buffered.append(jb.stats().buffered_ms)
    s = jb.stats()
    assert s.lost_ms == 20.0  # the lost packet's time is kept (played as silence)...
    assert s.jitter_ms < 5.0  # ...so the loss is not mistaken for network jitter
    assert s.underruns <= 1 and s.dropped_ms == 0  # at most one fade while it was missing
    assert max(buffered[20:]) <= 40.0  # steady: at most two packets held
    y = np.concatenate(played)
    assert np.abs(np.diff(y)).max() < 0.5  # concealment fades, no hard edge


def test_jitter_buffer_sheds_a_burst_by_speeding_up() -> None:
    jb = JitterBuffer()
    x = voice(8.0, seed=2, pauses=False)
    out = np.empty(B, dtype=np.float32)
    jb.push(x[:9600], arrival=0.0)  # 200 ms arrive at once (after a network stall)
    t = 0.0
    for k in range(9600, len(x) - 960, 960):
        t += 0.02
        jb.push(x[k : k + 960], arrival=t)
        jb.pull(out)
        jb.pull(out)
    s = jb.stats()
    assert s.stretched_ms > 150
    assert s.buffered_ms < 60
    assert s.dropped_ms == 0 and s.underruns == 0


def test_engine_levels_volume_and_active_speaker() -> None:
    engine = AudioEngine(
        capture=False, playback=False, voice=VoiceSettings(False, False, False, False)
    )
    engine.set_seat("ann", 1, 3)
    engine.set_seat("bo", 2, 3)
    with pytest.raises(ValueError, match="seat 0"):
        engine.set_seat("x", 0, 3)
    with pytest.raises(ValueError, match="volume"):
        engine.set_volume("ann", 10.0)
    engine.set_volume("bo", 0.5)
    assert engine.volume("bo") == 0.5
    engine.start()
    try:
        talk = voice(1.0, seed=4, pauses=False)
        parts = {p: engine.voices.get(p) for p in ("ann", "bo")}
        for k in range(0, len(talk), 960):  # ann talks, bo is silent
            parts["ann"].jitter.push(talk[k : k + 960])
            time.sleep(0.02)
            if k > 24000:
                assert engine.active_speaker() == "ann"
        levels = engine.levels()
        assert levels["ann"].rms_dbfs > -40 > levels["bo"].rms_dbfs
        assert engine.speaking() == {"ann"}
        time.sleep(0.8)  # hangover (0.5 s) over
        assert engine.active_speaker() is None
    finally:
        engine.close()


def test_a_failing_mix_tells_the_user_once_and_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    told: list[str] = []
    engine = AudioEngine(
        capture=False,
        playback=False,
        voice=VoiceSettings(False, False, False, False),
        on_error=lambda exc: told.append(str(exc)),
    )

    def broken(*_args: object) -> None:
        raise ValueError("boom")

    engine.mixer.mix = broken  # type: ignore[method-assign]
    engine.start()
    try:
        deadline = time.monotonic() + 5
        while not told and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # more failing blocks: still told once
    finally:
        engine.close()
    assert len(told) == 1 and "boom" in told[0] and "voice stopped" in told[0]
    assert engine.error is not None
    tracebacks = [r for r in caplog.records if r.getMessage() == "audio worker error"]
    assert len(tracebacks) == 1
