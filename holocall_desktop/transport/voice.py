"""Voice that survives loss: Opus with in-band FEC, and a decoder that conceals what is lost.

aiortc's Opus (through PyAV/FFmpeg) sends 96 kbit/s without forward error correction and, on
the receiving side, simply decodes the packets that arrive: a lost packet is 20 ms of nothing.
Here:

- :class:`ResilientOpusEncoder` turns Opus' in-band FEC on (``fec``, with an expected loss of
  ``EXPECTED_LOSS_PERCENT``): each packet also carries a low-bitrate copy of the previous 20 ms
  (LBRR). Voice is sent at ``VOICE_BITRATE`` (64 kbit/s; about 55 kbit/s on the wire with FEC),
  leaving more of a slow link to the hologram.
- :class:`ResilientOpusDecoder` decodes with libopus itself (FFmpeg's wrapper can neither
  decode FEC nor conceal). When the RTP timestamps show a gap, the packet that ends it first
  gives back the 20 ms just before it from its FEC data, and anything lost before that is
  concealed by Opus' packet loss concealment (PLC), up to ``MAX_CONCEAL_MS``; a longer gap (a
  cut, a sender that restarted) is left as a gap for the playout buffer. Frames made up this
  way carry ``opaque`` = ``"fec"`` or ``"plc"``, so a meter can tell them from received audio.

:func:`use_resilient_voice` makes aiortc use both for every Opus stream of this process, and
announces ``useinbandfec=1`` in its SDP so that a browser may send FEC too (not tried with a
real browser yet); the libopus used is
the one PyAV ships (or the system's, for a PyAV built from source).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fractions
import glob
import logging
import os
from typing import Any

import numpy as np
from aiortc.codecs.opus import OpusEncoder
from av import AudioFrame

log = logging.getLogger(__name__)

SAMPLE_RATE = 48000
CHANNELS = 2  # what aiortc's Opus decoder hands on, and the SDP's opus/48000/2
VOICE_BITRATE = 64000
EXPECTED_LOSS_PERCENT = 10
#: at most this much lost audio is concealed; a longer gap stays a gap
MAX_CONCEAL_MS = 200
TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)
_MAX_FRAME = 5760  # 120 ms: the most one opus_decode call returns
PLC_FRAME = 960  # concealment is made 20 ms at a time
_OPUS_OK = 0


class MadeUp(str):
    """``opaque`` of a frame the decoder made up: ``"fec"`` or ``"plc"``. A new object for
    every frame: PyAV files ``opaque`` under the object's ``id`` and forgets it when *any* frame
    holding that object is freed, so a shared (interned) string would vanish from the others."""


class VoiceCodecError(RuntimeError):
    """libopus could not be found or refused to start."""


def _library_candidates() -> list[str]:
    import av

    here = os.path.dirname(av.__file__)
    found: list[str] = []
    for folder in (os.path.join(here, os.pardir, "av.libs"), os.path.join(here, ".dylibs"), here):
        for pattern in ("*opus*.so*", "*opus*.dylib", "*opus*.dll"):
            found += sorted(glob.glob(os.path.join(folder, pattern)))
    system = ctypes.util.find_library("opus")
    if system:
        found.append(system)
    return found


_lib: Any = None


def libopus() -> Any:
    """The libopus shared library, loaded once (:class:`VoiceCodecError` if there is none)."""
    global _lib
    if _lib is not None:
        return _lib
    for path in _library_candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        if not hasattr(lib, "opus_decode"):
            continue  # another library with opus in its name
        lib.opus_decoder_create.restype = ctypes.c_void_p
        lib.opus_decoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.c_void_p]
        lib.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
        lib.opus_decode.restype = ctypes.c_int
        lib.opus_decode.argtypes = [
            ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int32, ctypes.c_void_p, ctypes.c_int,
            ctypes.c_int,
        ]  # fmt: skip
        lib.opus_packet_get_nb_samples.restype = ctypes.c_int
        lib.opus_packet_get_nb_samples.argtypes = [ctypes.c_char_p, ctypes.c_int32, ctypes.c_int32]
        lib.opus_get_version_string.restype = ctypes.c_char_p
        _lib = lib
        return lib
    raise VoiceCodecError("no libopus found (it comes with PyAV: reinstall the 'av' package)")


class ResilientOpusEncoder(OpusEncoder):
    """aiortc's Opus encoder with in-band FEC on, at :data:`VOICE_BITRATE`."""

    def __init__(self) -> None:
        super().__init__()
        self.codec.bit_rate = VOICE_BITRATE
        self.codec.options = {
            "application": "voip",
            "fec": "1",
            "packet_loss": str(EXPECTED_LOSS_PERCENT),
        }


class ResilientOpusDecoder:
    """Decodes Opus RTP payloads (aiortc ``JitterFrame``: ``data``, ``timestamp``) to 48 kHz
    stereo s16 ``AudioFrame``s, recovering or concealing lost packets (see the module)."""

    def __init__(self) -> None:
        self._lib = libopus()
        error = ctypes.c_int(0)
        self._decoder = self._lib.opus_decoder_create(SAMPLE_RATE, CHANNELS, ctypes.byref(error))
        if error.value != _OPUS_OK or not self._decoder:
            raise VoiceCodecError(f"libopus refused to create a decoder (error {error.value})")
        self._pcm = (ctypes.c_int16 * (_MAX_FRAME * CHANNELS))()
        self._next: int | None = None  # the RTP timestamp the next packet should carry
        self.recovered = 0  # frames given back by FEC
        self.concealed = 0  # frames made up by PLC
        self.gaps = 0  # gaps left as they were (too long)

    def __del__(self) -> None:
        decoder, self._decoder = getattr(self, "_decoder", None), None
        if decoder:
            self._lib.opus_decoder_destroy(decoder)

    def _run(self, data: bytes | None, samples: int, fec: bool) -> np.ndarray[Any, Any] | None:
        n = self._lib.opus_decode(
            self._decoder, data, len(data) if data else 0, self._pcm, samples, int(fec)
        )
        if n <= 0:
            return None
        return np.ctypeslib.as_array(self._pcm)[: n * CHANNELS].copy()

    @staticmethod
    def _frame(pcm: np.ndarray[Any, Any], pts: int, made: str | None) -> AudioFrame:
        frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = pts
        frame.time_base = TIME_BASE
        if made is not None:
            frame.opaque = MadeUp(made)
        return frame

    def decode(self, encoded_frame: Any) -> list[AudioFrame]:
        data = bytes(encoded_frame.data)
        timestamp = int(encoded_frame.timestamp) & 0xFFFFFFFF
        duration = self._lib.opus_packet_get_nb_samples(data, len(data), SAMPLE_RATE)
        if duration <= 0:
            return []  # not an Opus packet: nothing to decode (and no change of state)
        out: list[AudioFrame] = []
        if self._next is not None:
            missing = (timestamp - self._next) & 0xFFFFFFFF
            if missing >= 0x80000000:
                return []  # older than what was already played
            if 0 < missing <= MAX_CONCEAL_MS * SAMPLE_RATE // 1000:
                out += self._fill(self._next, missing, data, duration)
            elif missing:
                self.gaps += 1
        pcm = self._run(data, duration, False)
        self._next = (timestamp + duration) & 0xFFFFFFFF
        if pcm is not None:
            out.append(self._frame(pcm, timestamp, None))
        return out

    def _fill(self, start: int, missing: int, data: bytes, duration: int) -> list[AudioFrame]:
        """Frames for ``missing`` samples lost from ``start`` on, before ``data`` (which lasts
        ``duration``): PLC first, then the FEC copy of the last lost frame."""
        out: list[AudioFrame] = []
        fec = duration if missing >= duration else 0
        plc = missing - fec
        pts = start
        while plc > 0:
            step = min(plc, PLC_FRAME)
            pcm = self._run(None, step, False)
            if pcm is None:
                break
            out.append(self._frame(pcm, pts, "plc"))
            self.concealed += 1
            pts, plc = (pts + step) & 0xFFFFFFFF, plc - step
        if fec:
            pcm = self._run(data, fec, True)
            if pcm is not None:
                out.append(self._frame(pcm, pts, "fec"))
                self.recovered += 1
        return out


_installed = False


def _announce_fec() -> None:
    """Say in our SDP that we decode Opus FEC (``a=fmtp:… useinbandfec=1``), so that a browser
    sends it too (aiortc's Opus codec entry carries no parameters)."""
    from aiortc.codecs import CODECS

    for codec in CODECS.get("audio", []):
        if codec.mimeType.lower() == "audio/opus":
            codec.parameters.setdefault("useinbandfec", 1)


def use_resilient_voice() -> bool:
    """Make aiortc encode and decode every Opus stream of this process with the classes here
    (once; later calls do nothing). Returns ``False``, changing nothing, when libopus is missing
    or aiortc is laid out differently (voice then works as aiortc's own, without FEC)."""
    global _installed
    if _installed:
        return True
    try:
        import aiortc.rtcrtpreceiver as receiver_module
        import aiortc.rtcrtpsender as sender_module

        version = libopus().opus_get_version_string().decode()
        original_decoder = receiver_module.get_decoder
        original_encoder = sender_module.get_encoder
    except (ImportError, AttributeError, VoiceCodecError) as exc:
        log.warning("voice without loss concealment: %s", exc)
        return False

    def get_decoder(codec: Any) -> Any:
        if codec.mimeType.lower() == "audio/opus":
            return ResilientOpusDecoder()
        return original_decoder(codec)

    def get_encoder(codec: Any) -> Any:
        if codec.mimeType.lower() == "audio/opus":
            return ResilientOpusEncoder()
        return original_encoder(codec)

    receiver_module.get_decoder = get_decoder
    sender_module.get_encoder = get_encoder
    _announce_fec()
    _installed = True
    log.info("voice: Opus with in-band FEC and concealment (%s)", version)
    return True
