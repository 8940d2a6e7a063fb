"""The signaling server's hold on a Janus node (Janus 1.x, VideoRoom): rooms created and
destroyed through Janus' HTTP API.

Only the signaling server speaks Janus' API (the configuration in ``packaging/janus`` binds its
HTTP transport to loopback, turns the admin API off and requires the API secret on every
request); participants reach Janus only with media. :class:`VideoRoomAdmin` holds one Janus
session with the VideoRoom plugin attached, keeps it alive (Janus drops a session after 60 s of
silence) and opens a new one when Janus no longer knows it (Janus restarted). Each room is
private (not listed), has its own management secret and a pin that every participant's join
must carry, so holding the API secret alone does not let anyone into a call.

Participants' own handles (:meth:`VideoRoomAdmin.attach`, a :class:`VideoRoomHandle` each:
a publisher's join and publish, a subscriber's join and start) live on the same session. Their
requests are answered asynchronously by Janus: one long poll of the session's events hands each
answer to the request of the same transaction, and the other events of a handle (its
PeerConnection up or hung up, publishers joining or leaving) to its :attr:`VideoRoomHandle.events`.
When Janus forgets the session, every handle on it is gone: pending requests fail and each
handle's events say ``gone``.

Every request has a deadline; Janus' refusals raise :class:`JanusError` with its code and
reason, and an unreachable node raises it with code 0.

This module is the node control only: the signaling server does not yet use it for calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

#: Janus drops a session this long without a request (its ``session_timeout``) …
KEEPALIVE_S = 25.0
#: … and each request waits this long for Janus' answer
REQUEST_TIMEOUT_S = 5.0
#: a long poll of the session's events is answered within 30 s (Janus' own limit)
POLL_TIMEOUT_S = 40.0
#: events of a handle kept until read (the oldest are dropped beyond)
MAX_EVENTS = 64
#: Janus' codes for a session or handle it no longer knows (it restarted, or timed us out)
_GONE = {458, 459}
PLUGIN = "janus.plugin.videoroom"


@dataclasses.dataclass(frozen=True)
class JanusEvent:
    """One event of a handle: ``kind`` is Janus' (``event``, ``webrtcup``, ``hangup``,
    ``media``, ``slowlink``, ``detached``; ``gone``: the session is lost), ``data`` the
    VideoRoom's answer (``plugindata.data``), ``jsep`` an offer or answer if it carries one."""

    kind: str
    data: dict[str, Any]
    jsep: dict[str, Any] | None = None


class JanusError(RuntimeError):
    """Janus refused a request (``code``: Janus' or the VideoRoom's error code; 0: Janus could
    not be reached), in one line."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"janus: {reason} ({code})" if code else f"janus: {reason}")
        self.code = code
        self.reason = reason


class VideoRoomAdmin:
    """Room control on one Janus node at ``url`` (its HTTP API, e.g.
    ``http://127.0.0.1:8088/janus``) with its API secret. Use as an async context manager."""

    def __init__(self, url: str, api_secret: str, timeout_s: float = REQUEST_TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self._secret = api_secret
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._http: aiohttp.ClientSession | None = None
        self._ids: tuple[int, int] | None = None  # session, handle
        self._keepalive: asyncio.Task[None] | None = None
        self._poll: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # one session opened at a time
        self._pending: dict[str, asyncio.Future[JanusEvent]] = {}  # by transaction
        self._handles: dict[int, VideoRoomHandle] = {}

    async def __aenter__(self) -> VideoRoomAdmin:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- Janus' API --------------------------------------------------------------------------

    async def _post(
        self, path: str, body: dict[str, Any], transaction: str | None = None
    ) -> dict[str, Any]:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=self._timeout)
        transaction = transaction or secrets.token_hex(8)
        message = {**body, "transaction": transaction, "apisecret": self._secret}
        try:
            try:
                async with self._http.post(self.url + path, json=message) as response:
                    answer = await response.json(content_type=None)
            except aiohttp.ServerDisconnectedError:
                # a kept-alive connection to a Janus that restarted: once more, on a new one
                async with self._http.post(self.url + path, json=message) as response:
                    answer = await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise JanusError(
                0, f"{self.url} cannot be reached: {exc or type(exc).__name__}"
            ) from None
        if not isinstance(answer, dict):
            raise JanusError(0, f"{self.url} answered something that is not Janus'")
        if answer.get("janus") == "error":
            error = answer.get("error") or {}
            raise JanusError(int(error.get("code", 0) or 0), str(error.get("reason", "error")))
        return answer

    async def _open(self) -> tuple[int, int]:
        async with self._lock:
            if self._ids is None:
                session = int((await self._post("", {"janus": "create"}))["data"]["id"])
                attached = await self._post(f"/{session}", {"janus": "attach", "plugin": PLUGIN})
                self._ids = (session, int(attached["data"]["id"]))
                if self._keepalive is None:
                    self._keepalive = asyncio.ensure_future(self._keep_alive())
                if self._poll is not None:
                    self._poll.cancel()  # the lost session's, if it still waits
                self._poll = asyncio.ensure_future(self._poll_events(session))
            return self._ids

    def _lost(self, session: int, why: JanusError) -> None:
        """Janus no longer knows ``session``: its handles and their requests are gone."""
        if self._ids is not None and self._ids[0] == session:
            self._ids = None
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(why)
        handles, self._handles = self._handles, {}
        for handle in handles.values():
            handle.gone = True
            handle.push(JanusEvent("gone", {"reason": why.reason}))

    async def _poll_events(self, session: int) -> None:
        """Hand the session's events to the requests they answer and to their handles, until
        the session is replaced or lost."""
        timeout = aiohttp.ClientTimeout(total=POLL_TIMEOUT_S)
        url = f"{self.url}/{session}"
        while self._ids is not None and self._ids[0] == session and self._http is not None:
            try:
                params = {"maxev": "10", "apisecret": self._secret}
                async with self._http.get(url, params=params, timeout=timeout) as response:
                    answer = await response.json(content_type=None)
            except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
                self._lost(session, JanusError(0, f"{self.url} cannot be reached: {exc}"))
                return
            events = answer if isinstance(answer, list) else [answer]
            for event in events:
                if not isinstance(event, dict):
                    continue
                if event.get("janus") == "error":
                    error = event.get("error") or {}
                    code = int(error.get("code", 0) or 0)
                    if code in _GONE:
                        self._lost(session, JanusError(code, str(error.get("reason"))))
                        return
                    continue
                self._dispatch(event)

    def _dispatch(self, event: dict[str, Any]) -> None:
        kind = str(event.get("janus", ""))
        if kind in ("keepalive", "ack", "success"):
            return
        data = _plugin_data(event)
        jsep = event.get("jsep") if isinstance(event.get("jsep"), dict) else None
        item = JanusEvent(kind, data, jsep)
        future = self._pending.pop(str(event.get("transaction", "")), None)
        if future is not None and not future.done():
            future.set_result(item)
            return
        handle = self._handles.get(int(event.get("sender", 0) or 0))
        if handle is not None:
            if kind == "detached":
                self._handles.pop(handle.id, None)
            handle.push(item)

    async def attach(self) -> VideoRoomHandle:
        """A new VideoRoom handle on the session, for one participant's publisher or
        subscriber PeerConnection."""
        for attempt in range(2):
            session, _own = await self._open()
            try:
                answer = await self._post(f"/{session}", {"janus": "attach", "plugin": PLUGIN})
            except JanusError as exc:
                if exc.code in _GONE and attempt == 0:
                    self._lost(session, exc)
                    continue
                raise
            handle = VideoRoomHandle(self, session, int(answer["data"]["id"]))
            self._handles[handle.id] = handle
            return handle
        raise AssertionError("unreachable")

    async def _message(
        self, handle: VideoRoomHandle, body: dict[str, Any], jsep: dict[str, Any] | None
    ) -> JanusEvent:
        transaction = secrets.token_hex(8)
        future: asyncio.Future[JanusEvent] = asyncio.get_running_loop().create_future()
        self._pending[transaction] = future
        message: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            message["jsep"] = jsep
        try:
            answer = await self._post(f"/{handle.session}/{handle.id}", message, transaction)
            if answer.get("janus") == "success":  # answered at once (a synchronous request)
                return _checked(JanusEvent("event", _plugin_data(answer)))
            return _checked(await asyncio.wait_for(future, self._timeout.total))
        except TimeoutError:
            raise JanusError(0, f"no answer to {body.get('request')!r} in time") from None
        finally:
            self._pending.pop(transaction, None)

    async def _detach(self, handle: VideoRoomHandle) -> None:
        self._handles.pop(handle.id, None)
        if not handle.gone:
            with contextlib.suppress(JanusError):
                await self._post(f"/{handle.session}/{handle.id}", {"janus": "detach"})

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_S)
            ids = self._ids
            if ids is None:
                continue
            try:
                await self._post(f"/{ids[0]}", {"janus": "keepalive"})
            except JanusError as exc:
                log.warning("%s", exc)
                if exc.code in _GONE or exc.code == 0:
                    self._lost(ids[0], exc)  # the next request opens a new session

    async def request(self, body: dict[str, Any]) -> dict[str, Any]:
        """One synchronous VideoRoom request (``create``, ``destroy``, ``exists``,
        ``listparticipants``, ``kick``…): the plugin's answer, or :class:`JanusError`."""
        for attempt in range(2):
            session, handle = await self._open()
            try:
                answer = await self._post(
                    f"/{session}/{handle}", {"janus": "message", "body": body}
                )
            except JanusError as exc:
                if exc.code in _GONE and attempt == 0:
                    log.info("janus forgot our session (restarted?): opening a new one")
                    self._lost(session, exc)
                    continue
                raise
            return _checked(JanusEvent("event", _plugin_data(answer))).data
        raise AssertionError("unreachable")

    # ---- rooms -------------------------------------------------------------------------------

    async def create_room(
        self, room_id: str, secret: str, pin: str, publishers: int, description: str = ""
    ) -> None:
        """A private room ``room_id`` for up to ``publishers`` publishers, managed with
        ``secret`` and joined with ``pin``; Opus audio, VP8 video, data channels."""
        await self.request(
            {
                "request": "create",
                "room": room_id,
                "permanent": False,
                "description": description[:100] or room_id,
                "secret": secret,
                "pin": pin,
                "is_private": True,
                "publishers": publishers,
                "audiocodec": "opus",
                "videocodec": "vp8",
                "require_pvtid": True,
                "notify_joining": True,
            }
        )

    async def destroy_room(self, room_id: str, secret: str) -> None:
        await self.request({"request": "destroy", "room": room_id, "secret": secret})

    async def exists(self, room_id: str) -> bool:
        return bool((await self.request({"request": "exists", "room": room_id})).get("exists"))

    async def participants(self, room_id: str) -> list[dict[str, Any]]:
        """Who is in the room (Janus' ``listparticipants``: id, display, publisher)."""
        data = await self.request({"request": "listparticipants", "room": room_id})
        return list(data.get("participants") or [])

    async def close(self) -> None:
        """Give the session back to Janus (if it can still be told) and stop."""
        for task in (self._keepalive, self._poll):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._keepalive = self._poll = None
        ids, self._ids = self._ids, None
        if ids is not None:
            with contextlib.suppress(JanusError):
                await self._post(f"/{ids[0]}", {"janus": "destroy"})
        if self._http is not None:
            await self._http.close()
            self._http = None


def _plugin_data(message: dict[str, Any]) -> dict[str, Any]:
    """The VideoRoom's part of one of Janus' messages (``plugindata.data``)."""
    return dict((message.get("plugindata") or {}).get("data") or {})


def _checked(event: JanusEvent) -> JanusEvent:
    if "error_code" in event.data or "error" in event.data:
        code = int(event.data.get("error_code", 0) or 0)
        raise JanusError(code, str(event.data.get("error")))
    return event


class VideoRoomHandle:
    """One VideoRoom handle of the admin's session (see the module doc)."""

    def __init__(self, admin: VideoRoomAdmin, session: int, handle_id: int) -> None:
        self._admin = admin
        self.session = session
        self.id = handle_id
        self.gone = False  # the session was lost: this handle no longer exists in Janus
        self.events: asyncio.Queue[JanusEvent] = asyncio.Queue(MAX_EVENTS)

    def push(self, event: JanusEvent) -> None:
        if self.events.full():
            self.events.get_nowait()  # the oldest gives way
        self.events.put_nowait(event)

    async def message(self, body: dict[str, Any], jsep: dict[str, Any] | None = None) -> JanusEvent:
        """A VideoRoom request (``join``, ``publish``, ``configure``, ``start``,
        ``update``…), with an offer or answer if given: Janus' answer to it (an offer or
        answer in :attr:`JanusEvent.jsep`), or :class:`JanusError`."""
        if self.gone:
            raise JanusError(458, "the Janus session was lost")
        return await self._admin._message(self, body, jsep)

    async def detach(self) -> None:
        """Release the handle (and its PeerConnection) in Janus."""
        await self._admin._detach(self)
