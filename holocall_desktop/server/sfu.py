"""Group calls through the SFU: the signaling server speaks Janus' VideoRoom API on behalf of
its participants (``sfu-publish``, ``sfu-subscribe``, ``sfu-start``), so that participants
never hold Janus' API secret and reach Janus only with media.

Each HoloCall room that someone publishes in gets a VideoRoom room of the same id on the Janus
node, created on first use. Its management secret and pin are derived from the API secret and
the room id (HMAC-SHA256), so that every signaling instance (Redis mode) finds the same ones
without storing them. Each participant has at most one publisher handle (its id in Janus is its
user id) and one subscriber handle; a new publish from the same user (a reconnect) replaces
the old handles. A participant's handles are released when it leaves or its connection ends,
and the Janus room is destroyed with the HoloCall room or when its last publisher leaves.

Each request waits for Janus in the handler of the client that sent it, and only there; Janus'
refusals come back as ``error {code: sfu-refused}`` with Janus' reason, an unreachable node as
``sfu-unavailable``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import logging
from typing import Any

from holocall_desktop.server.janus import JanusError, VideoRoomAdmin, VideoRoomHandle

log = logging.getLogger(__name__)

#: Janus' "no such room" (426) and "room exists" (427)
_NO_SUCH_ROOM, _ROOM_EXISTS = 426, 427


class SfuError(Exception):
    """A request the SFU could not do: ``code`` is ``sfu-refused`` or ``sfu-unavailable``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclasses.dataclass
class _Seat:
    session: str  # the signaling connection the handles belong to
    publisher: VideoRoomHandle | None = None
    private_id: int | None = None
    subscriber: VideoRoomHandle | None = None


class SfuRelay:
    """Participants' publishing and subscribing on one Janus node (see the module doc)."""

    def __init__(self, admin: VideoRoomAdmin, api_secret: str, max_publishers: int) -> None:
        self.admin = admin
        self._key = api_secret.encode()
        self.max_publishers = max_publishers
        self._seats: dict[tuple[str, str], _Seat] = {}
        self._rooms: set[str] = set()  # Janus rooms this instance created or found
        self._room_locks: dict[str, asyncio.Lock] = {}

    def _derive(self, purpose: str, room_id: str) -> str:
        return hmac.new(self._key, f"{purpose}:{room_id}".encode(), hashlib.sha256).hexdigest()

    async def _ensure_room(self, room_id: str) -> None:
        lock = self._room_locks.setdefault(room_id, asyncio.Lock())
        async with lock:
            if room_id in self._rooms:
                return
            try:
                await self.admin.create_room(
                    room_id,
                    secret=self._derive("secret", room_id),
                    pin=self._derive("pin", room_id),
                    publishers=self.max_publishers,
                )
            except JanusError as exc:
                if exc.code != _ROOM_EXISTS:  # another instance made it: the same secrets
                    raise _sfu_error(exc) from None
            self._rooms.add(room_id)

    async def publish(
        self, room_id: str, user_id: str, session: str, offer: dict[str, Any]
    ) -> dict[str, Any]:
        """Publish ``offer``'s streams (hologram data channel, voice…) in ``room_id`` as
        ``user_id``: Janus' answer."""
        seat = self._seats.get((room_id, user_id))
        if seat is not None and seat.session != session:
            await self.release(room_id, user_id)  # a reconnect: the old handles go first
            seat = None
        if seat is not None and seat.publisher is not None:
            answer = await self._ask(seat.publisher, {"request": "configure"}, offer)
            return self._jsep(answer)
        await self._ensure_room(room_id)
        seat = self._seats.setdefault((room_id, user_id), _Seat(session))
        handle = await self._attach()
        join = {"request": "join", "ptype": "publisher", "room": room_id, "id": user_id,
                "display": user_id, "pin": self._derive("pin", room_id)}  # fmt: skip
        try:
            try:
                joined = await self._ask(handle, join)
            except SfuError:
                if room_id in self._rooms:
                    raise  # refused for another reason than a room Janus lost
                await self._ensure_room(room_id)  # Janus restarted without it: made again
                joined = await self._ask(handle, join)
        except SfuError:
            await self._detach(handle)  # never joined: the next publish starts over
            raise
        seat.publisher = handle
        seat.private_id = int(joined.data.get("private_id") or 0) or None
        answer = await self._ask(handle, {"request": "publish", "data": True}, offer)
        return self._jsep(answer)

    async def subscribe(
        self, room_id: str, user_id: str, session: str, feeds: tuple[str, ...]
    ) -> tuple[dict[str, Any], list[str], list[dict[str, str]]]:
        """Subscribe ``user_id`` to the streams of ``feeds`` (those publishing): the SFU's
        offer, to be answered with :meth:`start`, the feeds it holds, and whose each media
        line is (``{"mid", "feed", "type"}``; the data line carries everyone's channels, each
        labelled with its publisher)."""
        seat = self._seats.get((room_id, user_id))
        if seat is None or seat.session != session or seat.private_id is None:
            raise SfuError("sfu-refused", "publish before subscribing")
        try:
            publishing = {
                str(p.get("id"))
                for p in await self.admin.participants(room_id)
                if p.get("publisher")
            }
        except JanusError as exc:
            raise _sfu_error(exc) from None
        streams = [{"feed": f} for f in feeds if f != user_id and f in publishing]
        if not streams:
            raise SfuError("sfu-refused", "none of them publishes (yet)")
        if seat.subscriber is not None:  # a new set of feeds: the old subscription goes
            old, seat.subscriber = seat.subscriber, None
            await self._detach(old)
        handle = await self._attach()
        seat.subscriber = handle
        join = {"request": "join", "ptype": "subscriber", "room": room_id, "streams": streams,
                "private_id": seat.private_id, "pin": self._derive("pin", room_id)}  # fmt: skip
        attached = await self._ask(handle, join)
        held: set[str] = set()
        lines: list[dict[str, str]] = []
        for stream in attached.data.get("streams") or []:  # media name their feed, data its sources
            if "feed_id" in stream:
                held.add(str(stream["feed_id"]))
                lines.append({"mid": str(stream.get("mid")), "feed": str(stream["feed_id"]),
                              "type": str(stream.get("type"))})  # fmt: skip
            held.update(str(x) for x in stream.get("source_ids") or [])
        return self._jsep(attached), sorted(held), lines

    async def start(self, room_id: str, user_id: str, session: str, answer: dict[str, Any]) -> None:
        """Our answer to the SFU's offer of :meth:`subscribe`: the subscription starts."""
        seat = self._seats.get((room_id, user_id))
        if seat is None or seat.session != session or seat.subscriber is None:
            raise SfuError("sfu-refused", "subscribe before starting")
        await self._ask(seat.subscriber, {"request": "start"}, answer)

    async def release(self, room_id: str, user_id: str, session: str | None = None) -> None:
        """Give back the participant's handles (it left, or its connection ended); the Janus
        room goes with its last publisher."""
        seat = self._seats.get((room_id, user_id))
        if seat is None or (session is not None and seat.session != session):
            return
        del self._seats[(room_id, user_id)]
        for handle in (seat.subscriber, seat.publisher):
            if handle is not None:
                await self._detach(handle)
        if not any(r == room_id for r, _u in self._seats):
            with contextlib.suppress(JanusError):
                # Janus may still list the one just released while it hangs up its media
                others = [
                    p for p in await self.admin.participants(room_id) if str(p.get("id")) != user_id
                ]
                if not others:
                    await self.close_room(room_id)

    async def close_room(self, room_id: str) -> None:
        """The HoloCall room is gone: so is its Janus room."""
        self._rooms.discard(room_id)
        self._room_locks.pop(room_id, None)
        for key in [k for k in self._seats if k[0] == room_id]:
            await self.release(*key)
        try:
            await self.admin.destroy_room(room_id, self._derive("secret", room_id))
        except JanusError as exc:
            if exc.code not in (_NO_SUCH_ROOM, 0):
                log.warning("destroying the SFU room %s: %s", room_id, exc)

    async def close(self) -> None:
        for key in list(self._seats):
            await self.release(*key)
        await self.admin.close()

    # ---- Janus -------------------------------------------------------------------------------

    async def _attach(self) -> VideoRoomHandle:
        try:
            return await self.admin.attach()
        except JanusError as exc:
            raise _sfu_error(exc) from None

    async def _ask(
        self, handle: VideoRoomHandle, body: dict[str, Any], jsep: dict[str, Any] | None = None
    ) -> Any:
        try:
            return await handle.message(body, jsep)
        except JanusError as exc:
            if exc.code == _NO_SUCH_ROOM:
                self._rooms.discard(str(body.get("room", "")))
            raise _sfu_error(exc) from None

    async def _detach(self, handle: VideoRoomHandle) -> None:
        with contextlib.suppress(JanusError):
            await handle.detach()

    @staticmethod
    def _jsep(event: Any) -> dict[str, Any]:
        jsep = event.jsep
        if not isinstance(jsep, dict) or not isinstance(jsep.get("sdp"), str):
            raise SfuError("sfu-refused", "the SFU sent no session description")
        return {"type": str(jsep.get("type")), "sdp": jsep["sdp"]}


def _sfu_error(exc: JanusError) -> SfuError:
    if exc.code == 0 or exc.code in (458, 459):
        return SfuError("sfu-unavailable", f"the SFU cannot be reached: {exc.reason}")
    return SfuError("sfu-refused", f"the SFU refused: {exc.reason} ({exc.code})")
