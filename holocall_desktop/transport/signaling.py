"""Signaling client: room tokens over REST, the WebSocket, join, relay, reconnect.

Runs on the engine's event loop. :meth:`SignalingClient.run` returns when the client left on
purpose or gave up; every room message is handed to the :class:`SignalingHandler`, every state
change (connecting, joined, reconnecting, failed with a one-line reason) to ``on_state``.

Token flow (``docs/server.md``): ``POST /rooms`` (host of a new room), ``POST
/rooms/{id}/tokens {inviteSecret, userId}`` (guest), or a given access token; the pair is
refreshed with ``POST /auth/refresh`` before the access token expires. Reconnects back off
exponentially (0.25 s doubling to 8 s, with jitter) for at most ``reconnect_timeout`` seconds;
the server keeps the seat for its reconnect grace (15 s by default) so the others see no change.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
import ssl
import time
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from holocall_desktop.protocol.signaling import CloseCode, ErrorCode, MessageType
from holocall_desktop.transport.api import CallConfig, CallState

log = logging.getLogger(__name__)

#: refresh the access token when less than this many seconds are left
REFRESH_MARGIN_S = 60.0
BACKOFF_FIRST_S = 0.25
BACKOFF_MAX_S = 8.0
JOIN_TIMEOUT_S = 10.0
HTTP_TIMEOUT_S = 10.0

#: close codes after which reconnecting cannot help, with what the user is told
_FATAL_CLOSE = {
    CloseCode.FORBIDDEN: "you were removed from this room earlier",
    CloseCode.REPLACED: "you joined this room again from somewhere else",
    CloseCode.KICKED: "the host removed you from the room",
    CloseCode.ROOM_CLOSED: "the host closed the room",
    CloseCode.POLICY_VIOLATION: "the server disconnected this client for protocol errors",
    CloseCode.MESSAGE_TOO_BIG: "the server refused a message that was too large",
}


class SignalingError(Exception):
    """A failure with a one-line message for the user; ``retry`` says whether reconnecting
    may help (network trouble) or not (bad invite, room full, kicked…)."""

    def __init__(
        self,
        message: str,
        retry: bool = False,
        retry_after: float = 0.0,
        token_rejected: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retry = retry
        self.retry_after = retry_after
        #: the server refused the access token: refresh it once and reconnect
        self.token_rejected = token_rejected


class SignalingHandler(Protocol):
    async def on_signal(self, message: dict[str, Any]) -> None:
        """A room message (``room-state``, ``user-joined``, ``user-left``, ``offer``,
        ``answer``, ``ice-candidate``, ``error``)."""
        ...

    def on_signal_state(self, state: CallState, message: str) -> None: ...


@dataclass
class Tokens:
    room_id: str
    user_id: str
    access_token: str
    refresh_token: str | None
    expires_at: float  # time.time(); inf when unknown
    role: str = "guest"
    invite_secret: str | None = None


_TOKEN_IN_URL = re.compile(r"(token=)[^&\s;,'\"]+")


def redact(text: str) -> str:
    """``text`` (an aiohttp error naming the WebSocket URL) without the access token in it:
    state messages reach the user's screen, logs and the headless JSON lines."""
    return _TOKEN_IN_URL.sub(r"\1…", text)


def _ws_url(server: str, token: str) -> str:
    base = server.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    return f"{base}/ws?token={token}"


async def _http_json(
    session: aiohttp.ClientSession, method: str, url: str, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    try:
        async with session.request(
            method, url, json=body, timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)
        ) as resp:
            try:
                data = await resp.json(content_type=None)
            except (json.JSONDecodeError, aiohttp.ContentTypeError, UnicodeDecodeError):
                data = None
            if not isinstance(data, dict):
                raise SignalingError(
                    f"the server at {url} did not answer with JSON (HTTP {resp.status}); "
                    "is it a HoloCall signaling server?"
                )
            return resp.status, data
    except aiohttp.ClientConnectorCertificateError as exc:
        raise _untrusted(exc) from None
    except (aiohttp.ClientConnectionError, TimeoutError, OSError) as exc:
        raise SignalingError(
            f"cannot reach the signaling server at {url.split('/rooms')[0].split('/auth')[0]}: "
            f"{redact(str(exc)) or type(exc).__name__}",
            retry=True,
        ) from None


def _untrusted(exc: aiohttp.ClientConnectorCertificateError) -> SignalingError:
    why = getattr(exc.certificate_error, "verify_message", "") or str(exc.certificate_error)
    return SignalingError(
        f"the signaling server's TLS certificate is not trusted ({why}); for a self-hosted "
        "server, give the CA that signed it (--ca-file)"
    )


#: a CA file for every call of this process when the config names none (the window, scripts)
CA_FILE_ENV = "HOLOCALL_CA_FILE"


def client_tls(ca_file: str | None) -> ssl.SSLContext:
    """How the client checks https/wss servers: the system's trust store, or ``ca_file`` (or
    ``$HOLOCALL_CA_FILE``). Certificates and host names are always verified."""
    ca_file = ca_file or os.environ.get(CA_FILE_ENV) or None
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise SignalingError(f"cannot use the CA file {ca_file}: {exc}") from None


async def acquire_tokens(session: aiohttp.ClientSession, config: CallConfig) -> Tokens:
    """Tokens for ``config``: create a room, exchange an invite, or use the given token."""
    base = config.server.rstrip("/")
    ways = sum(
        [config.create_room, config.invite_secret is not None, config.access_token is not None]
    )
    if ways != 1:
        raise SignalingError(
            "give exactly one way into a room: create_room, invite_secret or access_token"
        )
    if config.create_room:
        status, data = await _http_json(
            session,
            "POST",
            f"{base}/rooms",
            {"userId": config.user_id, "maxUsers": config.room_size or config.max_peers + 1},
        )
        if status != 201:
            raise SignalingError(f"could not create a room: {data.get('message', status)}")
        return _tokens_from(data, data.get("inviteSecret"))
    if config.invite_secret is not None:
        if not config.room_id:
            raise SignalingError("an invite needs the room id")
        status, data = await _http_json(
            session,
            "POST",
            f"{base}/rooms/{config.room_id}/tokens",
            {"inviteSecret": config.invite_secret, "userId": config.user_id},
        )
        if status == 403:
            raise SignalingError("the invite is not valid (unknown room or wrong invite secret)")
        if status == 409:
            raise SignalingError(f"the name {config.user_id!r} is already used in this room")
        if status != 200:
            raise SignalingError(f"could not join the room: {data.get('message', status)}")
        return _tokens_from(data, config.invite_secret)
    assert config.access_token is not None
    if not config.room_id:
        raise SignalingError("an access token needs the room id")
    return Tokens(
        room_id=config.room_id,
        user_id=config.user_id,
        access_token=config.access_token,
        refresh_token=None,
        expires_at=float("inf"),
    )


def _tokens_from(data: dict[str, Any], invite: object) -> Tokens:
    try:
        return Tokens(
            room_id=str(data["roomId"]),
            user_id=str(data["userId"]),
            access_token=str(data["accessToken"]),
            refresh_token=str(data["refreshToken"]),
            expires_at=time.time() + float(data["expiresIn"]),
            role=str(data.get("role", "guest")),
            invite_secret=invite if isinstance(invite, str) else None,
        )
    except (KeyError, TypeError, ValueError):
        raise SignalingError("the server's token answer is missing fields") from None


async def refresh_tokens(session: aiohttp.ClientSession, server: str, tokens: Tokens) -> Tokens:
    if tokens.refresh_token is None:
        raise SignalingError("there is no refresh token to get a new one with")
    status, data = await _http_json(
        session,
        "POST",
        f"{server.rstrip('/')}/auth/refresh",
        {"refreshToken": tokens.refresh_token},
    )
    if status == 404:
        raise SignalingError("the room no longer exists")
    if status != 200:
        raise SignalingError(f"could not refresh the session: {data.get('message', status)}")
    fresh = _tokens_from(data, tokens.invite_secret)
    return fresh


class SignalingClient:
    def __init__(
        self,
        config: CallConfig,
        session: aiohttp.ClientSession,
        handler: SignalingHandler,
        reconnect_timeout: float = 60.0,
    ) -> None:
        self.config = config
        self.session = session
        self.handler = handler
        self.reconnect_timeout = reconnect_timeout
        self.tokens: Tokens | None = None
        self.room_id: str | None = config.room_id
        self.ice_servers: list[dict[str, Any]] = []
        self.seat: int | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._leaving = False
        self._joined_once = False
        self.reconnects = 0

    # ---- public ------------------------------------------------------------------------------

    async def send(self, message: dict[str, Any]) -> bool:
        """Send one message if connected; ``False`` if not (relays are dropped while
        reconnecting: the peers retry through ICE/DTLS, and offers are re-made on rejoin)."""
        ws = self._ws
        if ws is None or ws.closed:
            return False
        try:
            await ws.send_str(json.dumps(message))
            return True
        except (ConnectionError, RuntimeError, aiohttp.ClientError) as exc:
            log.info("signaling send failed: %s", exc)
            return False

    async def leave(self) -> None:
        """Leave the room and close the WebSocket (``run`` then returns)."""
        self._leaving = True
        ws = self._ws
        if ws is not None and not ws.closed:
            if self.room_id is not None:
                await self.send({"type": MessageType.LEAVE_ROOM, "roomId": self.room_id})
            await ws.close()

    async def run(self) -> None:
        """Connect, join, dispatch; reconnect with backoff; return on leave or failure."""
        state = self.handler.on_signal_state
        state(CallState.CONNECTING, f"connecting to {self.config.server}")
        try:
            self.tokens = await acquire_tokens(self.session, self.config)
        except SignalingError as exc:
            state(CallState.FAILED, exc.message)
            return
        self.room_id = self.tokens.room_id
        refresher = asyncio.ensure_future(self._refresh_loop())
        try:
            await self._connect_loop()
        finally:
            refresher.cancel()

    # ---- internals ---------------------------------------------------------------------------

    async def _refresh_loop(self) -> None:
        while True:
            tokens = self.tokens
            if tokens is None or tokens.refresh_token is None or tokens.expires_at == float("inf"):
                return
            left = tokens.expires_at - time.time()
            # 60 s before expiry, or at 80 % of the lifetime for short-lived tokens
            await asyncio.sleep(max(1.0, left - min(REFRESH_MARGIN_S, 0.2 * left)))
            try:
                self.tokens = await refresh_tokens(self.session, self.config.server, tokens)
                log.info("access token refreshed")
            except SignalingError as exc:
                log.warning("token refresh failed: %s", exc.message)
                await asyncio.sleep(5.0)

    async def _connect_loop(self) -> None:
        state = self.handler.on_signal_state
        delay = BACKOFF_FIRST_S
        lost_since: float | None = None
        last_reason = ""
        refreshed_for_4001 = False
        while not self._leaving:
            try:
                await self._session_once()
                if self._leaving:
                    return
                raise SignalingError("the signaling connection closed", retry=True)
            except SignalingError as exc:
                if self._leaving:
                    return
                if exc.token_rejected:
                    if refreshed_for_4001 or self.tokens is None:
                        state(
                            CallState.FAILED,
                            "the server refused the access token again (invalid or expired)",
                        )
                        return
                    refreshed_for_4001 = True
                    try:
                        self.tokens = await refresh_tokens(
                            self.session, self.config.server, self.tokens
                        )
                    except SignalingError as err:
                        state(
                            CallState.FAILED,
                            "the server refused the access token (invalid or expired); "
                            f"{err.message}",
                        )
                        return
                    continue
                if not exc.retry:
                    state(CallState.FAILED, exc.message)
                    return
                if not self._joined_once:
                    # never got in: the user typed something wrong or the server is down
                    state(CallState.FAILED, exc.message)
                    return
                now = time.monotonic()
                if lost_since is None:
                    lost_since = now
                    delay = BACKOFF_FIRST_S
                last_reason = exc.message
                if now - lost_since > self.reconnect_timeout:
                    state(
                        CallState.FAILED,
                        f"lost the signaling server for {self.reconnect_timeout:.0f} s: "
                        f"{last_reason}",
                    )
                    return
                wait = max(exc.retry_after, delay * random.uniform(0.8, 1.2))
                state(CallState.RECONNECTING, f"{exc.message}; retrying in {wait:.1f} s")
                await asyncio.sleep(wait)
                delay = min(delay * 2, BACKOFF_MAX_S)
                self.reconnects += 1
                continue
            # _session_once returned normally only when leaving
            return
        return

    async def _ensure_fresh_token(self) -> Tokens:
        tokens = self.tokens
        assert tokens is not None
        if tokens.expires_at - time.time() < 2.0 and tokens.refresh_token:
            tokens = self.tokens = await refresh_tokens(self.session, self.config.server, tokens)
        return tokens

    async def _session_once(self) -> None:
        tokens = await self._ensure_fresh_token()
        url = _ws_url(self.config.server, tokens.access_token)
        try:
            ws = await self.session.ws_connect(
                url, heartbeat=5.0, timeout=aiohttp.ClientWSTimeout(ws_close=2.0), autoping=True
            )
        except aiohttp.ClientConnectorCertificateError as exc:
            raise _untrusted(exc) from None
        except aiohttp.WSServerHandshakeError as exc:
            raise SignalingError(
                f"the signaling server refused the WebSocket (HTTP {exc.status})",
                retry=exc.status >= 500,
            ) from None
        except (aiohttp.ClientConnectionError, TimeoutError, OSError) as exc:
            raise SignalingError(
                f"cannot reach the signaling server at {self.config.server}: "
                f"{redact(str(exc)) or type(exc).__name__}",
                retry=True,
            ) from None
        self._ws = ws
        try:
            await ws.send_str(
                json.dumps(
                    {
                        "type": MessageType.JOIN_ROOM,
                        "roomId": tokens.room_id,
                        "userId": tokens.user_id,
                    }
                )
            )
            joined = False
            deadline = time.monotonic() + JOIN_TIMEOUT_S
            pending_error: SignalingError | None = None
            while True:
                timeout = None if joined else max(0.1, deadline - time.monotonic())
                try:
                    msg = await ws.receive(timeout=timeout)
                except TimeoutError:
                    raise SignalingError(
                        "no answer to join-room from the server", retry=True
                    ) from None
                if msg.type == aiohttp.WSMsgType.TEXT:
                    try:
                        data = json.loads(msg.data)
                    except json.JSONDecodeError:
                        log.warning("signaling: ignoring a frame that is not JSON")
                        continue
                    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
                        log.warning("signaling: ignoring a frame without a type")
                        continue
                    kind = data["type"]
                    if kind == MessageType.ROOM_STATE:
                        joined = True
                        self._joined_once = True
                        self.seat = data.get("seat") if isinstance(data.get("seat"), int) else None
                        servers = data.get("iceServers")
                        self.ice_servers = servers if isinstance(servers, list) else []
                        self.handler.on_signal_state(
                            CallState.JOINED,
                            "rejoined the room" if data.get("rejoined") else "joined the room",
                        )
                    elif kind == MessageType.ROOM_FULL:
                        raise SignalingError(
                            f"the room is full ({data.get('maxUsers', '?')} participants at most)"
                        )
                    elif kind == MessageType.SERVER_SHUTDOWN:
                        pending_error = SignalingError(
                            "the signaling server is shutting down", retry=True
                        )
                        continue
                    elif kind == MessageType.ERROR:
                        err = self._error(data, joined)
                        if err is not None:
                            pending_error = err
                        if not joined and err is not None and not err.retry:
                            raise err
                    await self.handler.on_signal(data)
                elif msg.type in (
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.CLOSING,
                    aiohttp.WSMsgType.CLOSED,
                    aiohttp.WSMsgType.ERROR,
                ):
                    break
            if self._leaving:
                return
            code = ws.close_code
            if code == CloseCode.UNAUTHORIZED:
                raise _token_rejected()
            if code in _FATAL_CLOSE:
                raise SignalingError(_FATAL_CLOSE[CloseCode(code)])
            if pending_error is not None:
                raise pending_error
            if code == CloseCode.JOIN_TIMEOUT:
                raise SignalingError("the server timed out our join", retry=True)
            raise SignalingError(
                f"the signaling connection closed (code {code})"
                if code
                else "the signaling connection dropped",
                retry=True,
            )
        finally:
            self._ws = None
            if not ws.closed:
                await ws.close()

    def _error(self, data: dict[str, Any], joined: bool) -> SignalingError | None:
        """What an ``error`` frame means for the connection (decided on its code, never on
        its text); ``None``: the call goes on."""
        raw = str(data.get("code", ""))
        message = str(data.get("message", raw))
        log.info("signaling error %s: %s", raw, message)
        try:
            code = ErrorCode(raw)
        except ValueError:
            return None  # a code this client does not know: informational
        if code == ErrorCode.COOLDOWN:
            retry_after = data.get("retryAfter")
            wait = float(retry_after) if isinstance(retry_after, int | float) else 5.0
            return SignalingError(f"reconnecting too fast ({message})", True, wait)
        if code in (ErrorCode.UNAUTHORIZED, ErrorCode.TOKEN_EXPIRED):
            return _token_rejected()
        if code == ErrorCode.ROOM_NOT_FOUND:
            return SignalingError("the room does not exist (closed or never created)")
        if code == ErrorCode.SERVER_FULL:
            return SignalingError("the signaling server is full; try later", retry=True)
        if code in _FATAL_ERRORS:
            return SignalingError(message)
        return None


#: error codes that end the call (the server closes the connection after them)
_FATAL_ERRORS = (
    ErrorCode.KICKED,
    ErrorCode.REPLACED,
    ErrorCode.ROOM_CLOSED,
    ErrorCode.TOO_MANY_ERRORS,
    ErrorCode.FORBIDDEN,
)


def _token_rejected() -> SignalingError:
    return SignalingError("the server refused the access token", token_rejected=True)
