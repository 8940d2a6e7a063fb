"""Echo cancellation with WebRTC's AEC3 (through livekit) on a realistic echo path.

Far end: a synthetic talker played by the "speakers". Echo path: 25 ms of acoustic delay and a
room-like impulse response (exponentially decaying noise, RT60 ≈ 0.2 s) at -6 dB, plus -60 dBFS
microphone noise; the near end is silent except in the double-talk test.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from scipy.signal import fftconvolve

from holocall_desktop.audio import VoiceProcessor, VoiceSettings
from holocall_desktop.audio.synth import voice

FS = 48000
BLOCK = 480


def echo_path(far: np.ndarray, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(0.2 * FS)
    ir = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / n)  # -60 dB over 0.2 s
    ir *= 0.5 / np.sqrt(np.sum(ir**2))  # -6 dB echo return loss
    delay = int(0.025 * FS)
    echo = np.zeros(len(far))
    echo[delay:] = fftconvolve(far, ir)[: len(far) - delay]
    return echo + rng.standard_normal(len(far)) * 1e-3


def run(vp: VoiceProcessor, far: np.ndarray, mic: np.ndarray) -> np.ndarray:
    out = np.empty(len(mic), dtype=np.float32)
    stereo = np.empty((BLOCK, 2), dtype=np.float32)
    for i in range(0, len(mic) - BLOCK + 1, BLOCK):
        stereo[:] = far[i : i + BLOCK, None]  # the speakers play the mix in stereo
        vp.process_far(stereo)
        block = mic[i : i + BLOCK].astype(np.float32)
        vp.process_near(block)
        out[i : i + BLOCK] = block
    return out


def power(x: np.ndarray) -> float:
    return float(np.mean(np.square(x, dtype=np.float64)))


@pytest.fixture
def aec() -> VoiceProcessor:
    vp = VoiceProcessor(
        VoiceSettings(
            echo_cancellation=True, noise_suppression=False, auto_gain=False, high_pass=False
        )
    )
    if not vp.available:
        pytest.fail(vp.message)
    return vp


def test_echo_canceller_removes_15_db_of_echo_after_convergence(aec: VoiceProcessor) -> None:
    far = voice(10.0, seed=11)
    mic = echo_path(far)
    out = run(aec, far, mic)
    tail = slice(4 * FS, 10 * FS)  # after 4 s of convergence
    active = np.abs(far[tail]) > 0  # where the far end talks
    erle = 10 * np.log10(power(mic[tail][active]) / power(out[tail][active]))
    assert erle >= 15.0, f"ERLE {erle:.1f} dB"


def test_near_end_voice_survives_double_talk(aec: VoiceProcessor) -> None:
    far = voice(10.0, seed=11)
    near = voice(10.0, seed=12, f0=210.0, level_dbfs=-26.0)
    near[: 5 * FS] = 0.0  # the local user starts talking after the canceller converged
    mic = echo_path(far) + near
    out = run(aec, far, mic)
    seg = slice(6 * FS, 10 * FS)

    # WebRTC's band-split filter bank shifts phase, so compare 20 ms level envelopes, not
    # waveforms: the output follows the near-end voice, and keeps most of its level
    def envelope(x: np.ndarray) -> np.ndarray:
        frames = x[: len(x) // 960 * 960].reshape(-1, 960)
        return 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-10)

    env_out, env_near, env_echo = (
        envelope(out[seg]),
        envelope(near[seg]),
        envelope(mic[seg] - near[seg]),
    )
    assert np.corrcoef(env_out, env_near)[0, 1] > 0.65
    assert np.corrcoef(env_out, env_near)[0, 1] > np.corrcoef(env_out, env_echo)[0, 1] + 0.3
    kept = 10 * np.log10(power(out[seg]) / power(near[seg]))
    assert kept > -6.0, f"the near-end voice lost {-kept:.1f} dB"


def test_full_chain_keeps_the_echo_out() -> None:
    vp = VoiceProcessor()  # AEC + noise suppression + gain control + high-pass
    if not vp.available:
        pytest.fail(vp.message)
    far = voice(8.0, seed=21)
    mic = echo_path(far, seed=2)
    out = run(vp, far, mic)
    tail = slice(4 * FS, 8 * FS)
    erle = 10 * np.log10(power(mic[tail]) / power(out[tail]))
    assert erle >= 15.0, f"ERLE {erle:.1f} dB with the full chain"


def test_without_livekit_the_microphone_passes_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "livekit", None)  # import livekit -> ImportError
    vp = VoiceProcessor()
    assert not vp.available
    assert "Echo cancellation" in vp.message and "headphones" in vp.message
    block = voice(0.01, seed=1)
    before = block.copy()
    vp.process_far(np.zeros((BLOCK, 2), dtype=np.float32))
    vp.process_near(block)
    np.testing.assert_array_equal(block, before)


def test_wrong_block_size_is_a_clear_error(aec: VoiceProcessor) -> None:
    with pytest.raises(ValueError, match="480-sample blocks"):
        aec.process_near(np.zeros(512, dtype=np.float32))
