"""The session's room model without Qt or a window: joins, leaves, modes, seats, speakers."""

from __future__ import annotations

from holocall_desktop.session.media import decide_mode
from holocall_desktop.session.room import (
    CallStateChanged,
    ParticipantAdded,
    ParticipantChanged,
    ParticipantRemoved,
    RoomEvent,
    RoomModel,
    SeatsChanged,
    SpeakerChanged,
    StatsUpdated,
)
from holocall_desktop.transport.api import (
    CallState,
    MediaMode,
    ParticipantInfo,
    PeerConnection,
    PeerStats,
)


def _room() -> tuple[RoomModel, list[RoomEvent]]:
    room = RoomModel()
    events: list[RoomEvent] = []
    room.subscribe(events.append)
    return room, events


def test_join_and_leave_emit_typed_events() -> None:
    room, events = _room()
    room.update(ParticipantInfo("ava", "Ava", seat=1))
    assert isinstance(events[0], ParticipantAdded) and events[0].participant.name == "Ava"
    assert isinstance(events[1], SeatsChanged) and events[1].count == 2
    assert "ava" in room and len(room) == 1
    room.remove("ava", "left")
    removed = [e for e in events if isinstance(e, ParticipantRemoved)]
    assert removed and removed[0].reason == "left" and "ava" not in room
    room.remove("ava", "again")  # nothing twice
    assert len([e for e in events if isinstance(e, ParticipantRemoved)]) == 1


def test_mode_and_connection_changes_carry_the_previous_state() -> None:
    room, events = _room()
    room.update(ParticipantInfo("ava", "Ava", seat=1))
    events.clear()
    room.update(
        ParticipantInfo(
            "ava", "Ava", seat=1, mode=MediaMode.AVATAR, connection=PeerConnection.CONNECTED
        )
    )
    (change,) = [e for e in events if isinstance(e, ParticipantChanged)]
    assert change.previous.mode is MediaMode.NONE and change.participant.shows_avatar
    events.clear()
    room.update(
        ParticipantInfo(
            "ava", "Ava", seat=1, mode=MediaMode.AVATAR, connection=PeerConnection.CONNECTED
        )
    )
    assert events == []  # nothing changed: nothing said


def test_seats_follow_the_server_order_from_the_viewers_seat() -> None:
    room, events = _room()
    room.set_my_seat(1)
    for uid, seat in (("c", 0), ("a", 2), ("b", 3)):
        room.update(ParticipantInfo(uid, uid.upper(), seat=seat))
    seats = {uid: p.seat for uid, p in room.participants.items()}
    # after me (1) come 2, 3, then 0 around the table
    assert seats == {"a": 1, "b": 2, "c": 3}
    last = [e for e in events if isinstance(e, SeatsChanged)][-1]
    assert last.seats == seats and last.count == 4
    room.remove("a", "left")
    assert {uid: p.seat for uid, p in room.participants.items()} == {"b": 1, "c": 2}


def test_the_active_speaker_is_one_participant_in_the_room() -> None:
    room, events = _room()
    room.update(ParticipantInfo("ava", "Ava", seat=1))
    room.update(ParticipantInfo("bob", "Bob", seat=2))
    room.set_speaker("ava")
    assert room.participants["ava"].speaking and not room.participants["bob"].speaking
    room.set_speaker("bob")
    assert not room.participants["ava"].speaking and room.participants["bob"].speaking
    room.set_speaker("nobody-here")
    assert room.speaker is None and not room.participants["bob"].speaking
    speakers = [e.user_id for e in events if isinstance(e, SpeakerChanged)]
    assert speakers == ["ava", "bob", None]
    room.set_speaker("bob")
    room.remove("bob", "left")
    assert room.speaker is None


def test_stats_state_and_clear() -> None:
    room, events = _room()
    room.update(ParticipantInfo("ava", "Ava", seat=1))
    room.set_stats([PeerStats("ava", rtt_ms=12.0)])
    assert room.stats_of("ava") is not None and room.stats_of("bob") is None
    assert any(isinstance(e, StatsUpdated) for e in events)
    room.set_state(CallState.JOINED, "joined the room")
    room.set_state(CallState.JOINED, "joined the room")  # said once
    assert len([e for e in events if isinstance(e, CallStateChanged)]) == 1
    room.clear("you left")
    assert len(room) == 0 and room.stats == []


def test_a_broken_subscriber_does_not_stop_the_others() -> None:
    room = RoomModel()
    seen: list[RoomEvent] = []

    def broken(_event: RoomEvent) -> None:
        raise RuntimeError("boom")

    room.subscribe(broken)
    room.subscribe(seen.append)
    room.update(ParticipantInfo("ava", "Ava", seat=1))
    assert seen


def test_one_decision_of_what_is_sent() -> None:
    assert decide_mode(camera_on=False, avatar=True) is MediaMode.NONE
    assert decide_mode(camera_on=True, avatar=True) is MediaMode.AVATAR
    assert decide_mode(camera_on=True, avatar=False) is MediaMode.VOLUMETRIC
