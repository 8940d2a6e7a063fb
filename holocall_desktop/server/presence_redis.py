"""Presence shared by several server instances through Redis.

Rooms and members live in Redis hashes; joins and leaves are Lua scripts, so seats and the
users-per-room limit hold across instances. Each instance subscribes to its own pub/sub channel;
a message for a user goes to the channel of the instance that holds the user's connection.
Each instance refreshes a heartbeat key with a TTL; when one stops refreshing (crash, kill -9),
the other instances remove its members and tell their rooms ``user-left``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import defaultdict
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from holocall_desktop.server import messages as m
from holocall_desktop.server.config import ServerConfig
from holocall_desktop.server.presence import Presence
from holocall_desktop.server.rooms import JoinResult, Member, RoomInfo

log = logging.getLogger(__name__)

# KEYS: room, members, banned, instance members   ARGV: user, role, instance, session, now
_JOIN = """
local room = redis.call('GET', KEYS[1])
if not room then return cjson.encode({status='no-room'}) end
local info = cjson.decode(room)
local maxu = tonumber(info['max_users'])
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then
  return cjson.encode({status='banned', max=maxu})
end
local prev = redis.call('HGET', KEYS[2], ARGV[1])
local status = 'joined'
local seat = -1
local role = ARGV[2]
local joined_at = tonumber(ARGV[5])
if prev then
  local p = cjson.decode(prev)
  status = 'rejoined'
  seat = p['seat']
  role = p['role']
  joined_at = p['joined_at']
  if p['instance'] ~= ARGV[3] then
    redis.call('SREM', KEYS[5] .. p['instance'], ARGV[6])
  end
else
  if redis.call('HLEN', KEYS[2]) >= maxu then
    return cjson.encode({status='full', max=maxu})
  end
  local taken = {}
  for _, v in ipairs(redis.call('HVALS', KEYS[2])) do
    taken[cjson.decode(v)['seat']] = true
  end
  for s = 0, maxu - 1 do
    if not taken[s] then seat = s break end
  end
end
local rec = cjson.encode({user_id=ARGV[1], seat=seat, role=role, instance=ARGV[3],
  session=ARGV[4], connected=true, joined_at=joined_at})
redis.call('HSET', KEYS[2], ARGV[1], rec)
redis.call('SADD', KEYS[4], ARGV[6])
redis.call('PERSIST', KEYS[1])
local result = {status=status, max=maxu, member=rec, members=redis.call('HVALS', KEYS[2])}
if prev then result['previous'] = prev end
return cjson.encode(result)
"""

# KEYS: members, room, instance-members prefix   ARGV: user, session ('' = any), idle ttl, entry
_LEAVE = """
local prev = redis.call('HGET', KEYS[1], ARGV[1])
if not prev then return false end
local p = cjson.decode(prev)
if ARGV[2] ~= '' and p['session'] ~= ARGV[2] then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[3] .. p['instance'], ARGV[4])
if redis.call('HLEN', KEYS[1]) == 0 and redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
return prev
"""

# KEYS: members, room   ARGV: user, dead instance, idle ttl
_REAP = """
local prev = redis.call('HGET', KEYS[1], ARGV[1])
if not prev then return false end
local p = cjson.decode(prev)
if p['instance'] ~= ARGV[2] then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HLEN', KEYS[1]) == 0 and redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
return prev
"""

# KEYS: members   ARGV: user, session
_DISCONNECT = """
local prev = redis.call('HGET', KEYS[1], ARGV[1])
if not prev then return 0 end
local p = cjson.decode(prev)
if p['session'] ~= ARGV[2] then return 0 end
p['connected'] = false
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(p))
return 1
"""


def _str(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _member(raw: str | bytes) -> Member:
    return Member.from_json(json.loads(raw))


class RedisPresence(Presence):
    def __init__(self, config: ServerConfig) -> None:
        super().__init__(config.instance_id)
        assert config.redis_url is not None
        self.url = config.redis_url
        self.prefix = config.redis_prefix
        self.ttl = config.instance_ttl
        self.beat = config.instance_heartbeat
        self.room_idle_ttl = config.room_idle_ttl
        self.redis: aioredis.Redis = aioredis.from_url(self.url, decode_responses=True)
        self._join = self.redis.register_script(_JOIN)
        self._leave = self.redis.register_script(_LEAVE)
        self._reap = self.redis.register_script(_REAP)
        self._disconnect = self.redis.register_script(_DISCONNECT)
        self._tasks: list[asyncio.Task[None]] = []
        self._pubsub: Any = None

    @property
    def shared(self) -> bool:
        return True

    # key names
    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def _room(self, room_id: str) -> str:
        return self._k("room", room_id)

    def _members(self, room_id: str) -> str:
        return self._k("members", room_id)

    def _channel(self, instance: str) -> str:
        return self._k("deliver", instance)

    async def _set(self, key: str) -> list[str]:
        return [_str(v) for v in await self.redis.smembers(key)]

    @staticmethod
    def _entry(room_id: str, user_id: str) -> str:
        return f"{room_id}\n{user_id}"

    # lifecycle
    async def start(self, deliver: Any) -> None:
        await super().start(deliver)
        try:
            await self.redis.ping()
        except (RedisError, OSError) as exc:
            raise ConnectionError(f"cannot reach Redis at {self.url}: {exc}") from exc
        await self._heartbeat_once()
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self._channel(self.instance_id))
        self._tasks = [
            asyncio.create_task(self._listen()),
            asyncio.create_task(self._heartbeat_loop()),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        with contextlib.suppress(RedisError, OSError):
            if self._pubsub is not None:
                await self._pubsub.unsubscribe()
                await self._pubsub.aclose()
            await self.redis.delete(self._k("instance", self.instance_id))
            await self.redis.srem(self._k("instances"), self.instance_id)
        await self.redis.aclose()

    async def _heartbeat_once(self) -> None:
        pipe = self.redis.pipeline()
        pipe.set(self._k("instance", self.instance_id), str(time.time()), px=int(self.ttl * 1000))
        pipe.sadd(self._k("instances"), self.instance_id)
        await pipe.execute()

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.beat)
            try:
                await self._heartbeat_once()
                await self.reap()
            except (RedisError, OSError) as exc:
                log.warning("Redis heartbeat failed: %s", exc)
            except Exception:
                log.exception("reaping dead instances failed")

    async def reap(self) -> int:
        """Remove the members of instances whose heartbeat expired; returns how many."""
        removed = 0
        for instance in await self._set(self._k("instances")):
            if instance == self.instance_id:
                continue
            if await self.redis.exists(self._k("instance", instance)):
                continue
            entries_key = self._k("instmembers", instance)
            for entry in await self._set(entries_key):
                room_id, _, user_id = entry.partition("\n")
                gone = await self._reap(
                    keys=[self._members(room_id), self._room(room_id)],
                    args=[user_id, instance, int(self.room_idle_ttl)],
                )
                await self.redis.srem(entries_key, entry)
                if gone:
                    removed += 1
                    log.info("%s left %s: instance %s is gone", user_id, room_id, instance)
                    await self.broadcast(room_id, m.user_left(room_id, user_id, "timeout"))
            if not await self.redis.scard(entries_key):
                await self.redis.srem(self._k("instances"), instance)
        return removed

    async def _listen(self) -> None:
        assert self._pubsub is not None
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except (RedisError, OSError) as exc:
                log.warning("Redis subscription failed: %s", exc)
                await asyncio.sleep(0.5)
                continue
            if message is None or message.get("type") != "message":
                continue
            try:
                envelope = json.loads(message["data"])
                room_id, targets, payload = envelope["room"], envelope["to"], envelope["msg"]
                for user_id in targets:
                    if self._deliver is not None:
                        await self._deliver(room_id, user_id, payload)
            except Exception:
                log.exception("bad message on the instance channel")

    # rooms
    async def create_room(self, info: RoomInfo, max_rooms_per_ip: int) -> bool:
        ip_key = self._k("iprooms", info.created_by)
        if max_rooms_per_ip > 0:
            live = 0
            for room_id in await self._set(ip_key):
                if await self.redis.exists(self._room(room_id)):
                    live += 1
                else:
                    await self.redis.srem(ip_key, room_id)
            if live >= max_rooms_per_ip:
                return False
        pipe = self.redis.pipeline()
        pipe.set(self._room(info.room_id), json.dumps(info.to_json()), ex=int(self.room_idle_ttl))
        pipe.sadd(self._k("rooms"), info.room_id)
        pipe.sadd(ip_key, info.room_id)
        await pipe.execute()
        return True

    async def get_room(self, room_id: str) -> RoomInfo | None:
        raw = await self.redis.get(self._room(room_id))
        return RoomInfo.from_json(json.loads(raw)) if raw else None

    async def delete_room(self, room_id: str) -> list[Member]:
        members = await self.members(room_id)
        pipe = self.redis.pipeline()
        pipe.delete(self._room(room_id), self._members(room_id), self._k("banned", room_id))
        pipe.srem(self._k("rooms"), room_id)
        for member in members:
            pipe.srem(self._k("instmembers", member.instance), self._entry(room_id, member.user_id))
        await pipe.execute()
        return members

    async def list_rooms(self) -> list[tuple[RoomInfo, int]]:
        out: list[tuple[RoomInfo, int]] = []
        for room_id in await self._set(self._k("rooms")):
            info = await self.get_room(room_id)
            if info is None:
                await self.redis.srem(self._k("rooms"), room_id)
                continue
            out.append((info, int(await self.redis.hlen(self._members(room_id)))))
        return out

    async def ban(self, room_id: str, user_id: str) -> None:
        key = self._k("banned", room_id)
        await self.redis.sadd(key, user_id)
        await self.redis.expire(key, int(max(self.room_idle_ttl, 24 * 3600)))

    async def is_banned(self, room_id: str, user_id: str) -> bool:
        return bool(await self.redis.sismember(self._k("banned", room_id), user_id))

    # members
    async def join(self, room_id: str, user_id: str, role: str, session: str) -> JoinResult:
        raw = await self._join(
            keys=[
                self._room(room_id),
                self._members(room_id),
                self._k("banned", room_id),
                self._k("instmembers", self.instance_id),
                self._k("instmembers", ""),
            ],
            args=[
                user_id,
                role,
                self.instance_id,
                session,
                time.time(),
                self._entry(room_id, user_id),
            ],
        )
        data = json.loads(raw)
        status = data["status"]
        max_users = int(data.get("max", 0))
        if status in ("no-room", "banned", "full"):
            return JoinResult(status, max_users)
        return JoinResult(
            status,
            max_users,
            member=_member(data["member"]),
            members=tuple(_member(x) for x in data["members"]),
            previous=_member(data["previous"]) if "previous" in data else None,
        )

    async def leave(self, room_id: str, user_id: str, session: str | None = None) -> Member | None:
        raw = await self._leave(
            keys=[self._members(room_id), self._room(room_id), self._k("instmembers", "")],
            args=[user_id, session or "", int(self.room_idle_ttl), self._entry(room_id, user_id)],
        )
        return _member(raw) if raw else None

    async def mark_disconnected(self, room_id: str, user_id: str, session: str) -> bool:
        return bool(await self._disconnect(keys=[self._members(room_id)], args=[user_id, session]))

    async def members(self, room_id: str) -> list[Member]:
        return [_member(v) for v in (await self.redis.hvals(self._members(room_id)))]

    async def member(self, room_id: str, user_id: str) -> Member | None:
        raw = await self.redis.hget(self._members(room_id), user_id)
        return _member(raw) if raw else None

    # messaging
    async def _publish(
        self, instance: str, room_id: str, targets: list[str], msg: dict[str, Any]
    ) -> None:
        if instance == self.instance_id:
            if self._deliver is not None:
                for user_id in targets:
                    await self._deliver(room_id, user_id, msg)
            return
        envelope = json.dumps({"room": room_id, "to": targets, "msg": msg})
        await self.redis.publish(self._channel(instance), envelope)

    async def send(self, room_id: str, member: Member, message: dict[str, Any]) -> None:
        await self._publish(member.instance, room_id, [member.user_id], message)

    async def broadcast(
        self, room_id: str, message: dict[str, Any], exclude: str | None = None
    ) -> None:
        by_instance: dict[str, list[str]] = defaultdict(list)
        for member in await self.members(room_id):
            if member.user_id != exclude and member.connected:
                by_instance[member.instance].append(member.user_id)
        for instance, targets in by_instance.items():
            await self._publish(instance, room_id, targets, message)

    async def consume_once(self, key: str, ttl: float) -> bool:
        return bool(await self.redis.set(self._k("once", key), "1", nx=True, px=int(ttl * 1000)))

    async def cooldown(self, key: str, seconds: float) -> float:
        if seconds <= 0:
            return 0.0
        full = self._k("cooldown", key)
        if await self.redis.set(full, "1", nx=True, px=int(seconds * 1000)):
            return 0.0
        left = await self.redis.pttl(full)
        return max(0.001, left / 1000.0) if left and left > 0 else 0.001

    async def sweep(self, room_idle_ttl: float) -> list[str]:
        # Empty rooms carry a Redis TTL; only the index sets need pruning here.
        expired: list[str] = []
        for room_id in await self._set(self._k("rooms")):
            if not await self.redis.exists(self._room(room_id)):
                await self.redis.srem(self._k("rooms"), room_id)
                expired.append(room_id)
        return expired
