"""The room model: who is in the call, where they sit, what they send, who is speaking.

The one place that holds the state of the room, and the call's chat. It is plain Python (no Qt,
no threads of its own): whoever owns it applies changes on one thread (the GUI thread in the
app, the main thread of a headless participant) and every subscriber is called synchronously,
on that thread, with a typed event. The scene, the spatial audio and the Qt panels subscribe
as adapters; none of them keeps its own copy of seats or participants (napari's model →
adapter split).

Seats: the server gives each participant a seat number in the room; :func:`arrange_seats`
turns those into display seats around the table as the local viewer sees them (the viewer at
0, the others in the server's order), decided here once for the picture and the voices.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass

from holocall_desktop.model.room import arrange_seats
from holocall_desktop.transport.api import (
    CallState,
    ChatMessage,
    MediaMode,
    ParticipantInfo,
    PeerConnection,
    PeerStats,
    ScreenInfo,
)
from holocall_desktop.transport.ladder import AVATAR as AVATAR_RUNG
from holocall_desktop.transport.ladder import VOICE as VOICE_RUNG

log = logging.getLogger(__name__)

#: the room size used to order server seats (the server's seat numbers stay below it)
SEAT_ORDER_MODULUS = 64
#: chat messages the room keeps (the oldest go first)
CHAT_KEPT = 1000


@dataclass(frozen=True)
class Participant:
    """A remote participant as the room shows it."""

    user_id: str
    name: str
    server_seat: int = -1
    seat: int = 0  # display seat around the table (1 .. count-1; the viewer is 0)
    mode: MediaMode = MediaMode.NONE
    connection: PeerConnection = PeerConnection.CONNECTING
    codec: str | None = None
    allows_audio_recording: bool = False
    allows_hologram_recording: bool = False
    recording: bool = False
    speaking: bool = False
    screen: ScreenInfo | None = None  # the screen they share now

    @property
    def shows_avatar(self) -> bool:
        return self.mode is MediaMode.AVATAR

    @property
    def allows(self) -> list[str]:
        """What recordings may keep of them: ``"voice"``, ``"hologram"``, both or neither."""
        kept = (
            ("voice", self.allows_audio_recording),
            ("hologram", self.allows_hologram_recording),
        )
        return [name for name, on in kept if on]


@dataclass(frozen=True)
class ParticipantAdded:
    participant: Participant


@dataclass(frozen=True)
class ParticipantChanged:
    participant: Participant
    previous: Participant


@dataclass(frozen=True)
class ParticipantRemoved:
    participant: Participant
    reason: str


@dataclass(frozen=True)
class SeatsChanged:
    """Display seats of everyone (user id → seat) and how many seats the table has (you too)."""

    seats: dict[str, int]
    count: int


@dataclass(frozen=True)
class SpeakerChanged:
    user_id: str | None  # the active speaker, or None when nobody speaks


@dataclass(frozen=True)
class StatsUpdated:
    stats: list[PeerStats]


@dataclass(frozen=True)
class NetworkNotice:
    """The network took our hologram to ``user_id`` away (``down``: they get our avatar, or
    voice only, ``rung`` says which), or brought it back (``down`` False); ``message`` says so
    in plain words."""

    user_id: str
    down: bool
    message: str
    rung: str


@dataclass(frozen=True)
class ChatLine:
    """A chat message as the room shows it: who wrote it (``mine``: you) under which name,
    the text (plain), when (this machine's clock) and the writer's number for it."""

    user_id: str
    name: str
    text: str
    sent_time: float
    seq: int
    mine: bool = False


@dataclass(frozen=True)
class ChatPosted:
    line: ChatLine


@dataclass(frozen=True)
class SharingChanged:
    """Our own screen share started (``screen``), stopped (None), or failed (``error``)."""

    screen: ScreenInfo | None
    error: str | None = None


@dataclass(frozen=True)
class CallStateChanged:
    state: CallState
    message: str


RoomEvent = (
    ParticipantAdded
    | ParticipantChanged
    | ParticipantRemoved
    | SeatsChanged
    | SpeakerChanged
    | StatsUpdated
    | NetworkNotice
    | ChatPosted
    | SharingChanged
    | CallStateChanged
)
Subscriber = Callable[[RoomEvent], None]


class RoomModel:
    def __init__(self) -> None:
        self._participants: dict[str, Participant] = {}
        self._subscribers: list[Subscriber] = []
        self.my_seat = -1
        self.speaker: str | None = None
        self.state = CallState.IDLE
        self.message = ""
        self.stats: list[PeerStats] = []
        self.chat: list[ChatLine] = []  # this call's, oldest first
        self.my_screen: ScreenInfo | None = None  # what we share

    # ---- reading -----------------------------------------------------------------------------

    @property
    def participants(self) -> dict[str, Participant]:
        """Remote participants by user id (a copy)."""
        return dict(self._participants)

    def __contains__(self, user_id: object) -> bool:
        return user_id in self._participants

    def __len__(self) -> int:
        return len(self._participants)

    @property
    def seat_count(self) -> int:
        """Seats at the table: everyone in the room and you."""
        return len(self._participants) + 1

    # ---- subscribing -------------------------------------------------------------------------

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber`` with every event from now on; returns the unsubscribe call."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def _emit(self, event: RoomEvent) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:  # one broken view must not stop the others
                log.exception("room subscriber %r failed on %s", subscriber, type(event).__name__)

    # ---- changing ----------------------------------------------------------------------------

    def set_state(self, state: CallState, message: str) -> None:
        if (state, message) == (self.state, self.message):
            return
        self.state, self.message = state, message
        self._emit(CallStateChanged(state, message))

    def set_my_seat(self, seat: int) -> None:
        if seat != self.my_seat:
            self.my_seat = seat
            self._reseat()

    def update(self, info: ParticipantInfo) -> Participant:
        """A participant joined or changed (from the call engine's :class:`ParticipantInfo`)."""
        old = self._participants.get(info.user_id)
        new = Participant(
            user_id=info.user_id,
            name=info.display_name or info.user_id,
            server_seat=info.seat,
            mode=info.mode,
            connection=info.connection,
            codec=info.codec,
            allows_audio_recording=info.allows_audio_recording,
            allows_hologram_recording=info.allows_hologram_recording,
            recording=info.recording,
            screen=info.screen,
        )
        if old is None:
            self._participants[new.user_id] = new
            self._emit(ParticipantAdded(new))
            self._reseat()
        else:
            # what the room adds to the engine's view stays: seat, speaking
            new = dataclasses.replace(new, seat=old.seat, speaking=old.speaking)
            if new != old:
                self._participants[new.user_id] = new
                self._emit(ParticipantChanged(new, old))
                if new.server_seat != old.server_seat:
                    self._reseat()
        return self._participants[new.user_id]

    def set_sharing(self, screen: ScreenInfo | None, error: str | None = None) -> None:
        """Our screen share started, stopped or failed (from the engine)."""
        self.my_screen = screen
        self._emit(SharingChanged(screen, error))

    @property
    def sharers(self) -> list[Participant]:
        """The participants who share a screen now, by seat."""
        return sorted((p for p in self._participants.values() if p.screen), key=lambda p: p.seat)

    def remove(self, user_id: str, reason: str) -> None:
        gone = self._participants.pop(user_id, None)
        if gone is None:
            return
        if self.speaker == user_id:
            self.set_speaker(None)
        self._emit(ParticipantRemoved(gone, reason))
        self._reseat()

    def clear(self, reason: str) -> None:
        """Everyone leaves (the call ended)."""
        for user_id in list(self._participants):
            self.remove(user_id, reason)
        self.stats = []
        self.my_seat = -1
        if self.my_screen is not None:
            self.set_sharing(None)  # leaving stops our share

    def set_speaker(self, user_id: str | None) -> None:
        if user_id is not None and user_id not in self._participants:
            user_id = None
        if user_id == self.speaker:
            return
        previous, self.speaker = self.speaker, user_id
        for uid in (previous, user_id):
            p = self._participants.get(uid) if uid is not None else None
            if p is not None:
                self._replace(dataclasses.replace(p, speaking=uid == user_id))
        self._emit(SpeakerChanged(user_id))

    def set_stats(self, stats: list[PeerStats]) -> None:
        previous = {s.user_id: s.send_rung for s in self.stats}
        self.stats = stats
        self._emit(StatsUpdated(stats))
        off = (AVATAR_RUNG, VOICE_RUNG)
        for st in stats:
            was, now = previous.get(st.user_id), st.send_rung
            if now is None or was is None or was == now or (was not in off and now not in off):
                continue  # no news, or a hologram rung to another
            p = self._participants.get(st.user_id)
            name = p.name if p is not None else st.user_id
            slow = f"The network to {name} is too slow for your hologram"
            if st.receiver_busy:
                slow = f"{name}'s device cannot keep up with your hologram"
            if now == AVATAR_RUNG:
                text = f"{slow}: they see your avatar for now"
            elif now == VOICE_RUNG:
                text = f"{slow}: voice only for now"
            else:
                text = f"{name} sees your hologram again"
            self._emit(NetworkNotice(st.user_id, now in off, text, now))

    def add_chat(
        self, message: ChatMessage, name: str | None = None, mine: bool = False
    ) -> ChatLine:
        """A chat message arrived (or, ``mine``, was sent under ``name``): kept and posted.
        The writer's name is the one the room knows them by now."""
        if name is None:
            p = self._participants.get(message.user_id)
            name = p.name if p is not None else message.user_id
        line = ChatLine(message.user_id, name, message.text, message.sent_time, message.seq, mine)
        self.chat.append(line)
        del self.chat[:-CHAT_KEPT]
        self._emit(ChatPosted(line))
        return line

    def stats_of(self, user_id: str) -> PeerStats | None:
        """The last stats of ``user_id`` (None before the first)."""
        return next((s for s in self.stats if s.user_id == user_id), None)

    def _replace(self, new: Participant) -> None:
        old = self._participants[new.user_id]
        self._participants[new.user_id] = new
        self._emit(ParticipantChanged(new, old))

    def _reseat(self) -> None:
        others = {uid: max(0, p.server_seat) for uid, p in self._participants.items()}
        seats = arrange_seats(max(0, self.my_seat), others, SEAT_ORDER_MODULUS)
        for uid, seat in seats.items():
            p = self._participants[uid]
            if p.seat != seat:
                self._participants[uid] = dataclasses.replace(p, seat=seat)
        self._emit(SeatsChanged(seats, self.seat_count))
