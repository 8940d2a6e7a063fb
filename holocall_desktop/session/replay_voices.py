"""A recorded call's voices played back: the Opus packets of each participant's ``/voice``
channel, decoded and handed to the audio engine's jitter buffer for that participant, so that
the replay is heard from their seats like the call was.

:class:`ReplayVoices` is fed by the call player (:attr:`CallPlayer.on_voice`) on the room's
thread, only while playing at normal speed. A packet that does not decode is counted and
skipped. After a seek the buffers are emptied (:meth:`reset`).
"""

from __future__ import annotations

import logging

import av
import numpy as np

from holocall_desktop.audio.engine import AudioEngine
from holocall_desktop.recording.callfile import CallFileError, Record, split_voice
from holocall_desktop.session.call import Voices

log = logging.getLogger(__name__)

SAMPLERATE = 48000


class ReplayVoices:
    def __init__(self, audio: AudioEngine) -> None:
        self.audio = audio
        self._decoders: dict[str, av.AudioCodecContext] = {}
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLERATE)
        self.played: dict[str, int] = {}  # packets played per participant
        self.seats: Voices | None = None  # the room's seats for the voices (the owner's)
        self.bad = 0

    def play(self, record: Record) -> None:
        uid = record.user_id
        if uid is None:
            return
        try:
            _seq, timestamp, opus = split_voice(record.data)
            decoder = self._decoders.get(uid)
            if decoder is None:
                decoder = self._decoders[uid] = av.CodecContext.create("opus", "r")
            frames = decoder.decode(av.Packet(opus))
        except (CallFileError, av.FFmpegError, ValueError) as exc:
            self.bad += 1
            log.debug("replay: a voice packet of %s skipped: %s", uid, exc)
            return
        jitter = self.audio.voices.get(uid).jitter
        media = timestamp / SAMPLERATE
        for frame in frames:
            for mono in self._resampler.resample(frame):
                pcm = mono.to_ndarray().reshape(-1).astype(np.float32) * (1.0 / 32768.0)
                jitter.push(pcm, media_time=media)
                media += pcm.shape[0] / SAMPLERATE
        self.played[uid] = self.played.get(uid, 0) + 1

    def reset(self) -> None:
        """Forget what was buffered (a seek, a pause)."""
        for uid in self._decoders:
            self.audio.voices.get(uid).jitter.reset()
        self._decoders.clear()

    def close(self) -> None:
        if self.seats is not None:
            self.seats.close()
        self.audio.close()
