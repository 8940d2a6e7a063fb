"""REST endpoints: health, stats, metrics, rooms, invites and token refresh (see openapi.json)."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from pathlib import Path
from typing import Any

from aiohttp import web

from holocall_desktop.protocol.signaling import ErrorCode
from holocall_desktop.server import messages as m
from holocall_desktop.server.auth import (
    AuthError,
    Claims,
    TokenService,
    admin_token_matches,
    bearer,
    hash_secret,
    new_invite_secret,
    secret_matches,
)
from holocall_desktop.server.config import ServerConfig
from holocall_desktop.server.metrics import Metrics
from holocall_desktop.server.rooms import RoomInfo
from holocall_desktop.server.ws import SignalingHub, client_ip

OPENAPI_PATH = Path(__file__).with_name("openapi.json")


CORS_HEADERS = {
    "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Max-Age": "600",
}


def cors_middleware(origins: tuple[str, ...]) -> Any:
    """Let web pages from ``origins`` call the REST API (preflight included)."""

    def allowed(origin: str | None) -> str | None:
        if origin is None or not origins:
            return None
        if "*" in origins:
            return "*"
        return origin if origin in origins else None

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        origin = allowed(request.headers.get("Origin"))
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            if origin is None:
                return _error(403, ErrorCode.FORBIDDEN, "origin not allowed")
            return web.Response(
                status=204, headers={"Access-Control-Allow-Origin": origin, **CORS_HEADERS}
            )
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPException as exc:
            if origin is not None and request.path != "/ws":
                exc.headers["Access-Control-Allow-Origin"] = origin
            raise
        if origin is not None and not response.prepared:
            response.headers["Access-Control-Allow-Origin"] = origin
            if origin != "*":
                response.headers["Vary"] = "Origin"
        return response

    return middleware


@web.middleware
async def http_errors_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Answer an ``HTTPException`` (ours, or aiohttp's 404 and 405) as a plain response.

    Left to aiohttp, the raised exception stays in a reference cycle through its traceback
    (for a 404: exception -> traceback -> frame -> request -> match info -> exception), so each
    refused request would wait for the cyclic collector, which the server's GC tuning freezes.
    """
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except web.HTTPException as exc:
        exc.__traceback__ = None
        body = None if exc.empty_body else exc.body
        return web.Response(status=exc.status, reason=exc.reason, headers=exc.headers, body=body)


def _error(status: int, code: str, message: str, **headers: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status, headers=headers)


class RestApi:
    def __init__(
        self,
        config: ServerConfig,
        hub: SignalingHub,
        tokens: TokenService,
        metrics: Metrics,
        admin_token: str,
    ) -> None:
        self.config = config
        self.hub = hub
        self.presence = hub.presence
        self.tokens = tokens
        self.metrics = metrics
        self.admin_token = admin_token
        self.started = time.time()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/health", self.health),
            web.get("/stats", self.stats),
            web.get("/metrics", self.metrics_text),
            web.get("/openapi.json", self.openapi),
            web.get("/rooms", self.list_rooms),
            web.post("/rooms", self.create_room),
            web.delete("/rooms/{roomId}", self.delete_room),
            web.get("/rooms/{roomId}/users", self.room_users),
            web.delete("/rooms/{roomId}/users/{userId}", self.kick_user),
            web.post("/rooms/{roomId}/tokens", self.exchange_invite),
            web.post("/auth/refresh", self.refresh),
        ]

    # ---- helpers -------------------------------------------------------------------------------

    def _is_admin(self, request: web.Request) -> bool:
        return admin_token_matches(bearer(request.headers.get("Authorization")), self.admin_token)

    def _room_claims(self, request: web.Request, room_id: str) -> Claims | None:
        token = bearer(request.headers.get("Authorization"))
        if token is None:
            return None
        try:
            return self.tokens.verify(token, token_type="access", room_id=room_id)
        except AuthError:
            return None

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        try:
            data = await request.json()
        # ValueError: not JSON, or an integer too long to convert; RecursionError: nested too
        # deep; LookupError: an unknown charset; UnicodeDecodeError: not in that charset
        except (ValueError, RecursionError, LookupError, UnicodeDecodeError) as exc:
            raise web.HTTPBadRequest(
                text=json.dumps(
                    {"code": ErrorCode.INVALID_JSON, "message": f"body is not JSON: {exc}"}
                ),
                content_type="application/json",
            ) from None
        if not isinstance(data, dict):
            raise web.HTTPBadRequest(
                text=json.dumps(
                    {"code": ErrorCode.INVALID_BODY, "message": "body must be a JSON object"}
                ),
                content_type="application/json",
            )
        return data

    @staticmethod
    def _user_id(data: dict[str, Any]) -> str | web.Response:
        value = data.get("userId")
        if value is None:
            return "u-" + uuid.uuid4().hex[:10]
        if not isinstance(value, str) or not m.ID_PATTERN.fullmatch(value):
            return _error(
                400,
                ErrorCode.INVALID_USER_ID,
                "userId must be 1-64 characters of A-Z a-z 0-9 _ . -",
            )
        return value

    # ---- public ------------------------------------------------------------------------------

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "status": "shutting-down" if self.hub.shutting_down else "ok",
                "instance": self.presence.instance_id,
                "shared": self.presence.shared,
                "uptime": round(time.time() - self.started, 3),
            },
            status=503 if self.hub.shutting_down else 200,
        )

    async def stats(self, request: web.Request) -> web.Response:
        rooms = await self.presence.list_rooms()
        mt = self.metrics
        return web.json_response(
            {
                "instance": self.presence.instance_id,
                "connections": len(self.hub.connections),
                "localParticipants": len(self.hub.local),
                "rooms": len(rooms),
                "participants": sum(n for _, n in rooms),
                "connectionsTotal": int(mt.total("holocall_signal_connections_total")),
                "rejectedTotal": int(mt.total("holocall_signal_rejected_total")),
                "messagesTotal": int(mt.total("holocall_signal_messages_total")),
                "relayedTotal": int(mt.total("holocall_signal_relayed_total")),
                "errorsTotal": int(mt.total("holocall_signal_errors_total")),
                "uptime": round(time.time() - self.started, 3),
            }
        )

    async def metrics_text(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self.metrics.render().encode(),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )

    async def openapi(self, request: web.Request) -> web.Response:
        return web.Response(body=OPENAPI_PATH.read_bytes(), content_type="application/json")

    # ---- rooms -------------------------------------------------------------------------------

    async def create_room(self, request: web.Request) -> web.Response:
        data = await self._body(request)
        user_id = self._user_id(data)
        if isinstance(user_id, web.Response):
            return user_id
        max_users = data.get("maxUsers", self.config.max_users_per_room)
        if (
            isinstance(max_users, bool)
            or not isinstance(max_users, int)
            or not 1 <= max_users <= self.config.max_users_per_room
        ):
            return _error(
                400,
                ErrorCode.INVALID_MAX_USERS,
                f"maxUsers must be an integer 1..{self.config.max_users_per_room}",
            )
        invite = new_invite_secret()
        admin = self._is_admin(request)
        # rooms the admin creates do not count against the caller's address
        ip = "admin" if admin else client_ip(request, self.config.trusted_proxies)
        info = RoomInfo(
            room_id=secrets.token_urlsafe(9),
            max_users=max_users,
            created_at=time.time(),
            created_by=ip,
            invite_hash=hash_secret(invite),
            host_user_id=user_id,
        )
        limit = 0 if admin else self.config.max_rooms_per_ip
        if not await self.presence.create_room(info, limit):
            self.metrics.inc("holocall_signal_rejected_total", reason=ErrorCode.TOO_MANY_ROOMS)
            return _error(
                429,
                ErrorCode.TOO_MANY_ROOMS,
                f"at most {self.config.max_rooms_per_ip} active rooms per address",
            )
        pair = self.tokens.issue_pair(user_id=user_id, room_id=info.room_id, role="host")
        return web.json_response(
            {
                "roomId": info.room_id,
                "inviteSecret": invite,
                "userId": user_id,
                "role": "host",
                "maxUsers": max_users,
                **pair.as_json(),
            },
            status=201,
        )

    async def list_rooms(self, request: web.Request) -> web.Response:
        if not self._is_admin(request):
            return _error(403, ErrorCode.FORBIDDEN, "the admin token is required")
        rooms = await self.presence.list_rooms()
        return web.json_response(
            {
                "rooms": [
                    {
                        "roomId": info.room_id,
                        "participants": count,
                        "maxUsers": info.max_users,
                        "createdAt": info.created_at,
                        "host": info.host_user_id,
                    }
                    for info, count in sorted(rooms, key=lambda r: r[0].created_at)
                ]
            }
        )

    async def delete_room(self, request: web.Request) -> web.Response:
        room_id = request.match_info["roomId"]
        claims = self._room_claims(request, room_id)
        if not (self._is_admin(request) or (claims is not None and claims.is_host)):
            return _error(403, ErrorCode.FORBIDDEN, "the room's host or the admin may close it")
        if await self.presence.get_room(room_id) is None:
            return _error(404, ErrorCode.ROOM_NOT_FOUND, f"room {room_id} does not exist")
        closed = await self.hub.close_room(room_id)
        return web.json_response({"roomId": room_id, "closed": True, "participants": closed})

    async def room_users(self, request: web.Request) -> web.Response:
        room_id = request.match_info["roomId"]
        claims = self._room_claims(request, room_id)
        if claims is not None and await self.presence.is_banned(room_id, claims.user_id):
            claims = None  # removed from the room: its tokens read nothing there any more
        if not (self._is_admin(request) or claims is not None):
            return _error(
                403, ErrorCode.FORBIDDEN, "a token for this room or the admin token is required"
            )
        if await self.presence.get_room(room_id) is None:
            return _error(404, ErrorCode.ROOM_NOT_FOUND, f"room {room_id} does not exist")
        members = sorted(await self.presence.members(room_id), key=lambda x: x.seat)
        return web.json_response({"roomId": room_id, "users": [x.public() for x in members]})

    async def kick_user(self, request: web.Request) -> web.Response:
        room_id = request.match_info["roomId"]
        user_id = request.match_info["userId"]
        claims = self._room_claims(request, room_id)
        if not (self._is_admin(request) or (claims is not None and claims.is_host)):
            return _error(
                403, ErrorCode.FORBIDDEN, "only the room's host or the admin may remove users"
            )
        if claims is not None and claims.user_id == user_id:
            return _error(
                400, ErrorCode.INVALID_TARGET, "the host cannot remove itself; leave instead"
            )
        if not await self.hub.kick(room_id, user_id):
            return _error(404, ErrorCode.USER_NOT_FOUND, f"{user_id} is not in room {room_id}")
        return web.json_response({"roomId": room_id, "userId": user_id, "removed": True})

    # ---- tokens ------------------------------------------------------------------------------

    async def exchange_invite(self, request: web.Request) -> web.Response:
        room_id = request.match_info["roomId"]
        data = await self._body(request)
        invite = data.get("inviteSecret")
        if not isinstance(invite, str) or not invite:
            return _error(400, ErrorCode.INVALID_BODY, "inviteSecret (string) is required")
        user_id = self._user_id(data)
        if isinstance(user_id, web.Response):
            return user_id
        info = await self.presence.get_room(room_id)
        if info is None or not secret_matches(invite, info.invite_hash):
            self.metrics.inc("holocall_signal_rejected_total", reason=ErrorCode.BAD_INVITE)
            return _error(403, ErrorCode.FORBIDDEN, "unknown room or wrong invite secret")
        if user_id == info.host_user_id or await self.presence.member(room_id, user_id):
            return _error(409, ErrorCode.USER_ID_TAKEN, f"{user_id} is already used in this room")
        pair = self.tokens.issue_pair(user_id=user_id, room_id=room_id, role="guest")
        return web.json_response(
            {"roomId": room_id, "userId": user_id, "role": "guest", **pair.as_json()}
        )

    async def refresh(self, request: web.Request) -> web.Response:
        data = await self._body(request)
        token = data.get("refreshToken")
        if not isinstance(token, str):
            return _error(400, ErrorCode.INVALID_BODY, "refreshToken (string) is required")
        try:
            claims = self.tokens.verify(token, token_type="refresh")
        except AuthError as exc:
            return _error(401, exc.code, exc.message)
        if await self.presence.get_room(claims.room_id) is None:
            return _error(404, ErrorCode.ROOM_NOT_FOUND, f"room {claims.room_id} no longer exists")
        if await self.presence.is_banned(claims.room_id, claims.user_id):
            return _error(403, ErrorCode.FORBIDDEN, "you were removed from this room")
        ttl = max(1.0, claims.expires_at - time.time() + self.tokens.leeway)
        if not await self.presence.consume_once(f"refresh|{claims.jti}", ttl):
            return _error(401, ErrorCode.TOKEN_REUSED, "this refresh token was already used")
        pair = self.tokens.issue_pair(
            user_id=claims.user_id, room_id=claims.room_id, role=claims.role
        )
        return web.json_response(
            {
                "roomId": claims.room_id,
                "userId": claims.user_id,
                "role": claims.role,
                **pair.as_json(),
            }
        )
