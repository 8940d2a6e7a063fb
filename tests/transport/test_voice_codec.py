"""Voice that survives loss (transport/voice.py): Opus packets from the encoder aiortc uses in a
call, decoded by the resilient decoder with packets taken away as a lossy link would."""

from __future__ import annotations

import fractions
from collections.abc import Iterable

import numpy as np
import pytest
from aiortc.jitterbuffer import JitterFrame
from av import AudioFrame

from holocall_desktop.audio.tone import ToneMeter
from holocall_desktop.transport import voice
from holocall_desktop.transport.voice import ResilientOpusDecoder, ResilientOpusEncoder

START = 123_456  # an RTP timestamp that is not 0


def _packets(seconds: float, hz: float = 440.0) -> list[bytes]:
    """A tone (rising and falling in level, as speech does) through the call's Opus encoder."""
    encoder = ResilientOpusEncoder()
    out: list[bytes] = []
    for i in range(int(seconds * 50)):
        t = (960 * i + np.arange(960)) / 48000
        mono = 9000 * np.sin(2 * np.pi * hz * t) * (1 + 0.5 * np.sin(3 * t))
        frame = AudioFrame.from_ndarray(
            mono.astype(np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = 48000
        frame.pts = 960 * i
        frame.time_base = fractions.Fraction(1, 48000)
        payloads, _ = encoder.encode(frame)
        out += payloads
    return out


def _decode(packets: list[bytes], lost: Iterable[int] = ()) -> tuple[ResilientOpusDecoder, list]:
    decoder = ResilientOpusDecoder()
    gone = set(lost)
    frames = []
    for i, data in enumerate(packets):
        if i not in gone:
            frames += decoder.decode(JitterFrame(data=data, timestamp=START + 960 * i))
    return decoder, frames


def _pcm(frames: list) -> np.ndarray:
    return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.float64)


def _snr_db(reference: np.ndarray, x: np.ndarray) -> float:
    return float(10 * np.log10((reference**2).sum() / max(1.0, ((reference - x) ** 2).sum())))


@pytest.fixture(scope="module")
def packets() -> list[bytes]:
    return _packets(3.0)


def test_packets_carry_fec_at_a_voice_bitrate(packets: list[bytes]) -> None:
    kbps = sum(map(len, packets)) * 8 / 3.0 / 1000
    assert 20 < kbps < voice.VOICE_BITRATE / 1000 + 10  # not aiortc's 96 kbit/s
    # a packet's FEC data gives back the previous 20 ms
    decoder, frames = _decode(packets, lost=[40])
    made = [f for f in frames if getattr(f, "opaque", None) == "fec"]
    assert decoder.recovered == 1 and len(made) == 1 and made[0].pts == START + 960 * 40
    assert np.abs(_pcm(made)).max() > 1000  # audio, not silence


def test_lost_packets_leave_no_gap_and_recovery_beats_concealment(packets: list[bytes]) -> None:
    lost = list(range(25, len(packets), 10))  # 10 % of the packets, one at a time
    _, clean = _decode(packets)
    decoder, frames = _decode(packets, lost)
    assert [f.pts for f in frames] == [START + 960 * i for i in range(len(packets))]
    assert decoder.recovered == len(lost) and decoder.concealed == 0
    by_pts = {f.pts: f for f in frames}
    recovered = np.mean([_snr_db(_pcm([clean[i]]), _pcm([by_pts[START + 960 * i]])) for i in lost])
    # the same losses concealed by PLC only (a decoder that never sees the FEC)
    plc = ResilientOpusDecoder()
    concealed = {}
    for i, data in enumerate(packets):
        if i in lost:
            (concealed[i],) = plc._fill(START + 960 * i, 960, b"", 0)
        else:
            plc.decode(JitterFrame(data=data, timestamp=START + 960 * i))
    # waveform SNR (a harsh measure for a speech codec's copy) averaged over the losses
    guessed = np.mean([_snr_db(_pcm([clean[i]]), _pcm([concealed[i]])) for i in lost])
    assert recovered > guessed + 6.0, (recovered, guessed)
    # what a meter hears: the whole tone, nothing missing
    meter = ToneMeter()
    for f in frames:
        meter.add(f)
    summary = meter.summary()
    assert summary["lostMs"] == 0 and summary["recoveredMs"] == 20 * len(lost)
    assert summary["toneHz"] == pytest.approx(440.0, abs=2.0) and summary["toneShare"] > 0.9


def test_a_burst_is_concealed_then_recovered_and_a_long_gap_stays_a_gap(
    packets: list[bytes],
) -> None:
    decoder, frames = _decode(packets, lost=[30, 31, 32])  # 60 ms
    assert decoder.concealed == 2 and decoder.recovered == 1
    assert [f.pts for f in frames] == [START + 960 * i for i in range(len(packets))]
    assert [getattr(f, "opaque", None) for f in frames[30:33]] == ["plc", "plc", "fec"]
    decoder, frames = _decode(packets, lost=range(40, 60))  # 400 ms: a cut, not a loss
    assert decoder.gaps == 1 and decoder.concealed == 0 and decoder.recovered == 0
    assert len(frames) == len(packets) - 20


def test_garbage_and_old_packets_are_dropped_without_raising(packets: list[bytes]) -> None:
    decoder = ResilientOpusDecoder()
    assert len(decoder.decode(JitterFrame(data=packets[0], timestamp=START))) == 1
    assert decoder.decode(JitterFrame(data=b"", timestamp=START + 960)) == []
    assert decoder.decode(JitterFrame(data=packets[0], timestamp=START - 960)) == []  # older
    # RTP timestamps wrap at 2**32 without a gap
    wrap = ResilientOpusDecoder()
    base = 2**32 - 960
    first = wrap.decode(JitterFrame(data=packets[0], timestamp=base))
    second = wrap.decode(JitterFrame(data=packets[1], timestamp=0))
    assert len(first) == len(second) == 1 and wrap.gaps == 0 and wrap.recovered == 0


def test_aiortc_uses_it_for_opus_only() -> None:
    import aiortc.rtcrtpreceiver as receiver_module
    import aiortc.rtcrtpsender as sender_module
    from aiortc.codecs import get_capabilities

    assert voice.use_resilient_voice() and voice.use_resilient_voice()  # once, then a no-op
    by_mime = {c.mimeType.lower(): c for c in get_capabilities("audio").codecs}
    opus = by_mime["audio/opus"]
    assert isinstance(receiver_module.get_decoder(opus), ResilientOpusDecoder)
    assert isinstance(sender_module.get_encoder(opus), ResilientOpusEncoder)
    pcmu = by_mime["audio/pcmu"]
    assert not isinstance(receiver_module.get_decoder(pcmu), ResilientOpusDecoder)


async def test_our_sdp_says_we_decode_opus_fec() -> None:
    from aiortc import RTCPeerConnection

    assert voice.use_resilient_voice()
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("audio")
        await pc.setLocalDescription(await pc.createOffer())
        lines = pc.localDescription.sdp.splitlines()
    finally:
        await pc.close()
    (opus,) = [line for line in lines if line.startswith("a=rtpmap:") and "opus/48000" in line]
    pt = opus.split(":")[1].split()[0]
    assert f"a=fmtp:{pt} useinbandfec=1" in lines
