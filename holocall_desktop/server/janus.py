"""The signaling server's hold on a Janus node (Janus 1.x, VideoRoom): rooms created and
destroyed through Janus' HTTP API.

Only the signaling server speaks Janus' API (the configuration in ``packaging/janus`` binds its
HTTP transport to loopback, turns the admin API off and requires the API secret on every
request); participants reach Janus only with media. :class:`VideoRoomAdmin` holds one Janus
session with the VideoRoom plugin attached, keeps it alive (Janus drops a session after 60 s of
silence) and opens a new one when Janus no longer knows it (Janus restarted). Each room is
private (not listed), has its own management secret and a pin that every participant's join
must carry, so holding the API secret alone does not let anyone into a call.

Every request has a deadline; Janus' refusals raise :class:`JanusError` with its code and
reason, and an unreachable node raises it with code 0.

This module is the node control only: routing a call's media through the rooms it creates
(publishing, subscribing) is not built yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

#: Janus drops a session this long without a request (its ``session_timeout``) …
KEEPALIVE_S = 25.0
#: … and each request waits this long for Janus' answer
REQUEST_TIMEOUT_S = 5.0
#: Janus' codes for a session or handle it no longer knows (it restarted, or timed us out)
_GONE = {458, 459}
PLUGIN = "janus.plugin.videoroom"


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
        self._lock = asyncio.Lock()  # one session opened at a time

    async def __aenter__(self) -> VideoRoomAdmin:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- Janus' API --------------------------------------------------------------------------

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=self._timeout)
        message = {**body, "transaction": secrets.token_hex(8), "apisecret": self._secret}
        try:
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
            return self._ids

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
                    self._ids = None  # the next request opens a new session

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
                    self._ids = None
                    continue
                raise
            data = (answer.get("plugindata") or {}).get("data") or {}
            if "error_code" in data or "error" in data:
                raise JanusError(int(data.get("error_code", 0) or 0), str(data.get("error")))
            return dict(data)
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
        if self._keepalive is not None:
            self._keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive
            self._keepalive = None
        ids, self._ids = self._ids, None
        if ids is not None:
            with contextlib.suppress(JanusError):
                await self._post(f"/{ids[0]}", {"janus": "destroy"})
        if self._http is not None:
            await self._http.close()
            self._http = None
