"""The streams as they arrive, for whoever records the call.

The engine owns one :class:`StreamTap`; every peer offers it what arrives from its participant,
undecoded: each volumetric frame's payload once its fragments are together, each avatar frame,
each Opus packet of the voice (:func:`tap_rtp`). Nothing goes further unless a recorder set
:attr:`StreamTap.sink`, and then only what that participant's latest ``consent`` allows
(``RECORD_AUDIO`` for voice, ``RECORD_HOLOGRAM`` for holograms and avatars). The gate runs on
the network loop in the order messages arrive, so a withdrawn consent stops the very next
message. The sink must not block (a recorder queues).

The recorder's own streams come too, under its own user id: each hologram frame as it was sent
(the best profile of that frame, reassembled from its fragments: :meth:`StreamTap.own_frame`)
and its voice, encoded with the call's Opus encoder from the microphone track
(:meth:`StreamTap.own_voice`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from aiortc.mediastreams import MediaStreamError

from holocall_desktop.codec import control as wire
from holocall_desktop.codec.base import DATACHANNEL
from holocall_desktop.codec.registry import decoder_for_transport
from holocall_desktop.recording.callfile import voice_packet

log = logging.getLogger(__name__)

#: what each kind of stream needs the participant to allow
NEEDS = {
    "voice": wire.Consent.RECORD_AUDIO,
    "hologram": wire.Consent.RECORD_HOLOGRAM,
    "avatar": wire.Consent.RECORD_HOLOGRAM,
}


class TapSink(Protocol):
    def __call__(self, kind: str, user_id: str | None, data: bytes) -> None: ...


class StreamTap:
    def __init__(self) -> None:
        self.sink: TapSink | None = None  # set while recording (any thread)
        self._frames = decoder_for_transport(DATACHANNEL)  # reassembles our own fragments
        self._voice_seq = 0

    def own_frame(self, user_id: str, fragments: list[bytes]) -> None:
        """One of our hologram frames as sent (its fragments, parity included)."""
        if self.sink is None:
            return
        whole = None
        for fragment in fragments:
            whole = self._frames.assemble(fragment) or whole
        if whole is not None:
            self.sink("hologram", user_id, bytes(whole))

    async def own_voice(self, user_id: str, track: Any) -> None:
        """Consume ``track`` (our microphone, a relay of it) until it ends; while recording,
        encode it as the call does and hand the packets to the sink."""
        from holocall_desktop.transport.voice import ResilientOpusEncoder

        encoder = ResilientOpusEncoder()
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if self.sink is None:
                continue
            try:
                payloads, timestamp = encoder.encode(frame)
            except Exception:  # a frame the encoder refuses costs the recording, not the call
                log.exception("encoding our voice for the recording failed")
                continue
            for payload in payloads:
                self._voice_seq = (self._voice_seq + 1) & 0xFFFF
                self.sink("voice", user_id, voice_packet(self._voice_seq, timestamp, payload))

    def offer(self, kind: str, user_id: str, consent: wire.Consent, data: bytes) -> None:
        sink = self.sink
        if sink is not None and consent & NEEDS[kind]:
            sink(kind, user_id, data)


def tap_rtp(receiver: Any, on_packet: Callable[[bytes], None]) -> None:
    """Call ``on_packet`` with each RTP packet that reaches aiortc's ``RTCRtpReceiver``
    ``receiver``, before it is decoded, as a call file's voice message (sequence number,
    timestamp, payload: :func:`~holocall_desktop.recording.callfile.voice_packet`)."""
    handle = receiver._handle_rtp_packet

    async def tapped(packet: Any, arrival_time_ms: int) -> None:
        try:
            on_packet(voice_packet(packet.sequence_number, packet.timestamp, packet.payload))
        except Exception:  # recording must never cost the call its voice
            log.exception("tapping an RTP packet failed")
        await handle(packet, arrival_time_ms)

    receiver._handle_rtp_packet = tapped
