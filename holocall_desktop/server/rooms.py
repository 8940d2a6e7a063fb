"""Rooms and their members: the records every presence backend stores."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

JoinStatus = Literal["joined", "rejoined", "full", "no-room", "banned"]


@dataclass(frozen=True)
class RoomInfo:
    room_id: str
    max_users: int
    created_at: float
    created_by: str  # client address of the creator (rooms-per-IP limit)
    invite_hash: str  # SHA-256 of the invite secret; the secret itself is never stored
    host_user_id: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(data: dict[str, Any]) -> RoomInfo:
        return RoomInfo(
            room_id=str(data["room_id"]),
            max_users=int(data["max_users"]),
            created_at=float(data["created_at"]),
            created_by=str(data["created_by"]),
            invite_hash=str(data["invite_hash"]),
            host_user_id=str(data["host_user_id"]),
        )


@dataclass(frozen=True)
class Member:
    """One seat in a room. ``session`` identifies the WebSocket that holds it."""

    user_id: str
    seat: int
    role: str
    instance: str
    session: str
    connected: bool
    joined_at: float

    def public(self) -> dict[str, Any]:
        """What other participants and REST clients see."""
        return {
            "userId": self.user_id,
            "seat": self.seat,
            "role": self.role,
            "connected": self.connected,
        }

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(data: dict[str, Any]) -> Member:
        return Member(
            user_id=str(data["user_id"]),
            seat=int(data["seat"]),
            role=str(data["role"]),
            instance=str(data["instance"]),
            session=str(data["session"]),
            connected=bool(data["connected"]),
            joined_at=float(data["joined_at"]),
        )


@dataclass(frozen=True)
class JoinResult:
    status: JoinStatus
    max_users: int
    member: Member | None = None
    members: tuple[Member, ...] = ()  # everyone in the room after the join
    previous: Member | None = None  # the record taken over on "rejoined"


def lowest_free_seat(taken: set[int], max_users: int) -> int | None:
    for seat in range(max_users):
        if seat not in taken:
            return seat
    return None
