"""Presence: who is in which room, and how a message reaches a user on any instance.

:class:`Presence` is the interface; :class:`MemoryPresence` is the standalone backend. The Redis
backend that shares rooms across instances is in :mod:`holocall_desktop.server.presence_redis`.
"""

from __future__ import annotations

import abc
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from holocall_desktop.server.rooms import JoinResult, Member, RoomInfo, lowest_free_seat

# (room_id, user_id, message) for a user connected to this instance.
Deliver = Callable[[str, str, dict[str, Any]], Awaitable[None]]

CONTROL = "_control"  # message type of instance-to-instance control messages


class Presence(abc.ABC):
    """Rooms, members and message routing. Every method is safe to call concurrently."""

    def __init__(self, instance_id: str | None = None) -> None:
        self.instance_id = instance_id or uuid.uuid4().hex[:12]
        self._deliver: Deliver | None = None

    async def start(self, deliver: Deliver) -> None:
        """Begin routing; ``deliver`` hands a message to a user connected to this instance."""
        self._deliver = deliver

    async def stop(self) -> None:  # noqa: B027 - optional hook
        pass

    @property
    def shared(self) -> bool:
        """True when several instances share this presence."""
        return False

    # rooms
    @abc.abstractmethod
    async def create_room(self, info: RoomInfo, max_rooms_per_ip: int) -> bool:
        """Store a room; ``False`` if its creator already holds ``max_rooms_per_ip`` rooms."""

    @abc.abstractmethod
    async def get_room(self, room_id: str) -> RoomInfo | None: ...

    @abc.abstractmethod
    async def delete_room(self, room_id: str) -> list[Member]:
        """Remove a room; returns the members it had."""

    @abc.abstractmethod
    async def list_rooms(self) -> list[tuple[RoomInfo, int]]:
        """Every live room with its participant count."""

    @abc.abstractmethod
    async def ban(self, room_id: str, user_id: str) -> None: ...

    @abc.abstractmethod
    async def is_banned(self, room_id: str, user_id: str) -> bool:
        """``user_id`` was removed from the room: its tokens no longer open anything there."""

    # members
    @abc.abstractmethod
    async def join(self, room_id: str, user_id: str, role: str, session: str) -> JoinResult: ...

    @abc.abstractmethod
    async def leave(self, room_id: str, user_id: str, session: str | None = None) -> Member | None:
        """Remove a member (only if it still belongs to ``session`` when one is given)."""

    @abc.abstractmethod
    async def mark_disconnected(self, room_id: str, user_id: str, session: str) -> bool: ...

    @abc.abstractmethod
    async def members(self, room_id: str) -> list[Member]: ...

    @abc.abstractmethod
    async def member(self, room_id: str, user_id: str) -> Member | None: ...

    # messaging
    @abc.abstractmethod
    async def send(self, room_id: str, member: Member, message: dict[str, Any]) -> None:
        """Deliver ``message`` to ``member`` on whichever instance holds its connection."""

    async def broadcast(
        self, room_id: str, message: dict[str, Any], exclude: str | None = None
    ) -> None:
        for m in await self.members(room_id):
            if m.user_id != exclude and m.connected:
                await self.send(room_id, m, message)

    # rate limiting and single-use tokens
    @abc.abstractmethod
    async def consume_once(self, key: str, ttl: float) -> bool:
        """``True`` the first time ``key`` is seen within ``ttl`` seconds."""

    @abc.abstractmethod
    async def cooldown(self, key: str, seconds: float) -> float:
        """0 if ``key`` may go ahead now (and starts its cooldown), else seconds to wait."""

    async def sweep(self, room_idle_ttl: float) -> list[str]:
        """Delete rooms empty for longer than ``room_idle_ttl``; returns their ids."""
        return []


class MemoryPresence(Presence):
    """Standalone presence in this process's memory."""

    def __init__(self, instance_id: str | None = None) -> None:
        super().__init__(instance_id)
        self._rooms: dict[str, RoomInfo] = {}
        self._members: dict[str, dict[str, Member]] = {}
        self._empty_since: dict[str, float] = {}
        self._banned: dict[str, set[str]] = {}
        self._once: dict[str, float] = {}
        self._cooldowns: dict[str, float] = {}

    async def create_room(self, info: RoomInfo, max_rooms_per_ip: int) -> bool:
        if max_rooms_per_ip > 0:
            held = sum(1 for r in self._rooms.values() if r.created_by == info.created_by)
            if held >= max_rooms_per_ip:
                return False
        self._rooms[info.room_id] = info
        self._members[info.room_id] = {}
        self._empty_since[info.room_id] = time.monotonic()
        return True

    async def get_room(self, room_id: str) -> RoomInfo | None:
        return self._rooms.get(room_id)

    async def delete_room(self, room_id: str) -> list[Member]:
        self._rooms.pop(room_id, None)
        self._empty_since.pop(room_id, None)
        self._banned.pop(room_id, None)
        return list(self._members.pop(room_id, {}).values())

    async def list_rooms(self) -> list[tuple[RoomInfo, int]]:
        return [(r, len(self._members.get(r.room_id, {}))) for r in self._rooms.values()]

    async def ban(self, room_id: str, user_id: str) -> None:
        self._banned.setdefault(room_id, set()).add(user_id)

    async def is_banned(self, room_id: str, user_id: str) -> bool:
        return user_id in self._banned.get(room_id, ())

    async def join(self, room_id: str, user_id: str, role: str, session: str) -> JoinResult:
        info = self._rooms.get(room_id)
        if info is None:
            return JoinResult("no-room", 0)
        if user_id in self._banned.get(room_id, ()):
            return JoinResult("banned", info.max_users)
        members = self._members.setdefault(room_id, {})
        previous = members.get(user_id)
        if previous is not None:
            member = Member(
                user_id=user_id,
                seat=previous.seat,
                role=previous.role,
                instance=self.instance_id,
                session=session,
                connected=True,
                joined_at=previous.joined_at,
            )
            members[user_id] = member
            return JoinResult("rejoined", info.max_users, member, tuple(members.values()), previous)
        seat = lowest_free_seat({m.seat for m in members.values()}, info.max_users)
        if seat is None:
            return JoinResult("full", info.max_users, members=tuple(members.values()))
        member = Member(
            user_id=user_id,
            seat=seat,
            role=role,
            instance=self.instance_id,
            session=session,
            connected=True,
            joined_at=time.time(),
        )
        members[user_id] = member
        self._empty_since.pop(room_id, None)
        return JoinResult("joined", info.max_users, member, tuple(members.values()))

    async def leave(self, room_id: str, user_id: str, session: str | None = None) -> Member | None:
        members = self._members.get(room_id)
        if not members:
            return None
        current = members.get(user_id)
        if current is None or (session is not None and current.session != session):
            return None
        del members[user_id]
        if not members and room_id in self._rooms:
            self._empty_since[room_id] = time.monotonic()
        return current

    async def mark_disconnected(self, room_id: str, user_id: str, session: str) -> bool:
        members = self._members.get(room_id, {})
        current = members.get(user_id)
        if current is None or current.session != session:
            return False
        members[user_id] = Member(**{**current.to_json(), "connected": False})
        return True

    async def members(self, room_id: str) -> list[Member]:
        return list(self._members.get(room_id, {}).values())

    async def member(self, room_id: str, user_id: str) -> Member | None:
        return self._members.get(room_id, {}).get(user_id)

    async def send(self, room_id: str, member: Member, message: dict[str, Any]) -> None:
        if self._deliver is not None:
            await self._deliver(room_id, member.user_id, message)

    async def consume_once(self, key: str, ttl: float) -> bool:
        now = time.monotonic()
        if len(self._once) > 10_000:
            self._once = {k: t for k, t in self._once.items() if t > now}
        expiry = self._once.get(key)
        if expiry is not None and expiry > now:
            return False
        self._once[key] = now + ttl
        return True

    async def cooldown(self, key: str, seconds: float) -> float:
        if seconds <= 0:
            return 0.0
        now = time.monotonic()
        if len(self._cooldowns) > 10_000:
            self._cooldowns = {k: t for k, t in self._cooldowns.items() if t > now}
        until = self._cooldowns.get(key, 0.0)
        if until > now:
            return until - now
        self._cooldowns[key] = now + seconds
        return 0.0

    async def sweep(self, room_idle_ttl: float) -> list[str]:
        now = time.monotonic()
        expired = [r for r, t in self._empty_since.items() if now - t > room_idle_ttl]
        for room_id in expired:
            await self.delete_room(room_id)
        return expired
