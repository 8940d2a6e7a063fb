"""The WebSocket endpoint ``/ws?token=JWT``: joins, relays, limits and the connection lifecycle."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from holocall_desktop.protocol.signaling import CloseCode, ErrorCode, MessageType
from holocall_desktop.server import messages as m
from holocall_desktop.server import wsguard
from holocall_desktop.server.auth import AuthError, Claims, TokenService
from holocall_desktop.server.config import ServerConfig
from holocall_desktop.server.messages import ProtocolError
from holocall_desktop.server.metrics import Metrics
from holocall_desktop.server.presence import CONTROL, Presence
from holocall_desktop.server.sfu import SfuError, SfuRelay
from holocall_desktop.server.turn import ice_servers

log = logging.getLogger(__name__)


def client_ip(request: web.BaseRequest, trusted_proxies: tuple[str, ...]) -> str:
    """The peer address, or the last ``X-Forwarded-For`` hop when the peer is a trusted proxy."""
    remote = request.remote or "unknown"
    if remote in trusted_proxies:
        forwarded = request.headers.get("X-Forwarded-For", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-1]
    return remote


def control_close(code: int, error_code: str, message: str, session: str) -> dict[str, Any]:
    """An instance-to-instance order to close one user's connection."""
    return {
        "type": CONTROL,
        "action": "close",
        "closeCode": code,
        "code": error_code,
        "message": message,
        "session": session,
    }


class _Close:
    """An item of a connection's outbox: close with ``code`` after what came before."""

    __slots__ = ("code", "reason")

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason


class Connection:
    """One client WebSocket.

    Frames to the client go through a bounded outbox that the connection's own writer task
    sends, each within ``send_timeout`` seconds: no handler ever waits for another client's
    socket. A client whose outbox fills, or whose socket takes no frame within the deadline, is
    cut (its transport aborted), so its reader ends and it leaves like any dropped connection.
    """

    __slots__ = (
        "_allowance",
        "_closed",
        "_last",
        "_outbox",
        "_queue_limit",
        "_send_timeout",
        "_transport",
        "_wake",
        "_writer",
        "abusive",
        "claims",
        "ip",
        "joined_once",
        "room_id",
        "session",
        "slow",
        "violations",
        "ws",
    )

    def __init__(
        self,
        ws: web.WebSocketResponse,
        ip: str,
        claims: Claims,
        burst: int,
        transport: asyncio.Transport | None = None,
        queue_limit: int = 512,
        send_timeout: float = 10.0,
    ) -> None:
        self.ws = ws
        self.ip = ip
        self.claims = claims
        self.session = uuid.uuid4().hex
        self.room_id: str | None = None
        self.violations = 0
        self.abusive = False
        self.joined_once = False
        self.slow = False
        self._allowance = float(burst)
        self._last = time.monotonic()
        self._transport = transport
        self._queue_limit = queue_limit
        self._send_timeout = send_timeout
        self._outbox: collections.deque[str | _Close] = collections.deque()
        self._wake = asyncio.Event()
        self._closed = asyncio.Event()
        self._writer: asyncio.Task[None] | None = asyncio.ensure_future(self._write_loop())

    @property
    def user_id(self) -> str:
        return self.claims.user_id

    def take_token(self, rate: float, burst: int) -> bool:
        """Token bucket: ``rate`` messages per second sustained, ``burst`` at once."""
        now = time.monotonic()
        self._allowance = min(float(burst), self._allowance + (now - self._last) * rate)
        self._last = now
        if self._allowance < 1.0:
            return False
        self._allowance -= 1.0
        return True

    async def send(self, message: dict[str, Any]) -> None:
        """Queue ``message`` for the client (returns at once; never waits for its socket)."""
        self._put(m.encode(message))

    async def close(self, code: int, reason: str, timeout: float | None = None) -> None:
        """Close after the frames already queued; waits at most ``timeout`` (``send_timeout``
        by default), then cuts."""
        if self._closed.is_set() or self.ws.closed:
            return  # nothing to close (waiting here for a writer that has nothing to do hung)
        self._put(_Close(code, reason), force=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closed.wait(), timeout or self._send_timeout)
            return
        self.cut("it did not take the close within the deadline")

    def _put(self, item: str | _Close, force: bool = False) -> None:
        if self._closed.is_set() or self.ws.closed:
            return
        if len(self._outbox) >= self._queue_limit and not force:
            self.cut(f"{len(self._outbox)} frames waited for it")
            return
        self._outbox.append(item)
        self._wake.set()

    def cut(self, why: str) -> None:
        """Drop this client at once (a slow consumer): abort its transport."""
        if self._closed.is_set():
            return
        self.slow = True
        log.info("dropping %s (%s) as too slow: %s", self.user_id, self.session, why)
        self._finish()
        if self._transport is not None:
            self._transport.abort()

    def _finish(self) -> None:
        self._closed.set()
        self._outbox.clear()
        if self._writer is not None and self._writer is not asyncio.current_task():
            self._writer.cancel()

    async def _write_loop(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._outbox:
                    item = self._outbox.popleft()
                    if isinstance(item, _Close):
                        await asyncio.wait_for(
                            self.ws.close(code=item.code, message=item.reason.encode()[:120]),
                            self._send_timeout,
                        )
                        self._closed.set()
                        return
                    await asyncio.wait_for(self.ws.send_str(item), self._send_timeout)
        except TimeoutError:
            self.cut(f"a frame took over {self._send_timeout:g} s to send")
        except (ConnectionError, RuntimeError):  # the socket went away: the reader sees it
            self._closed.set()

    async def stopped(self) -> None:
        """The reader ended: stop the writer too, and wait until it has."""
        self._finish()
        writer, self._writer = self._writer, None
        if writer is not None:
            # dropped after it ended: a cancelled task keeps its CancelledError, whose
            # traceback holds this connection, and the cycle left every closed connection to
            # the cyclic collector (frozen, under the server's GC tuning: memory that grew)
            await asyncio.wait([writer])


class SignalingHub:
    """Owns the connections of this instance and applies the protocol to them."""

    def __init__(
        self,
        config: ServerConfig,
        presence: Presence,
        tokens: TokenService,
        metrics: Metrics,
        sfu: SfuRelay | None = None,
    ) -> None:
        self.config = config
        self.presence = presence
        self.tokens = tokens
        self.metrics = metrics
        self.connections: set[Connection] = set()
        self.local: dict[tuple[str, str], Connection] = {}
        self._grace: dict[tuple[str, str], asyncio.Task[None]] = {}
        self.shutting_down = False
        self._background: set[asyncio.Future[None]] = set()
        self.sfu = sfu
        _describe_metrics(self)

    # ---- connection lifecycle --------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        cfg = self.config
        if self.shutting_down:
            raise web.HTTPServiceUnavailable(text="server is shutting down")
        ws = web.WebSocketResponse(
            heartbeat=cfg.heartbeat_interval,
            max_msg_size=cfg.max_message_bytes + 1,  # aiohttp refuses a frame of exactly its limit
            compress=False,
            timeout=max(cfg.shutdown_grace, 0.5),
        )
        await ws.prepare(request)
        wsguard.require_masked_frames(request, ws)
        try:
            return await self._serve(request, ws)
        finally:
            wsguard.release(request)

    async def _serve(self, request: web.Request, ws: web.WebSocketResponse) -> web.StreamResponse:
        cfg = self.config
        ip = client_ip(request, cfg.trusted_proxies)

        async def refuse(code: int, err: str, text: str, **extra: Any) -> web.WebSocketResponse:
            self.metrics.inc("holocall_signal_rejected_total", reason=err)
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_str(m.encode(m.error(err, text, **extra)))
                await ws.close(code=code, message=text.encode()[:120])
            return ws

        if len(self.connections) >= cfg.max_connections:
            return await refuse(
                CloseCode.TRY_AGAIN_LATER, ErrorCode.SERVER_FULL, "server is at capacity"
            )
        try:
            claims = self.tokens.verify(request.query.get("token", ""), token_type="access")
        except AuthError as exc:
            return await refuse(CloseCode.UNAUTHORIZED, exc.code, exc.message)
        wait = await self.presence.cooldown(f"conn|{ip}|{claims.user_id}", cfg.connection_cooldown)
        if wait > 0:
            return await refuse(
                CloseCode.RATE_LIMITED,
                ErrorCode.COOLDOWN,
                f"reconnecting too fast; retry in {wait:.1f} s",
                retryAfter=round(wait, 2),
            )

        conn = Connection(
            ws,
            ip,
            claims,
            cfg.message_burst,
            request.transport,
            cfg.send_queue,
            cfg.send_timeout,
        )
        self.connections.add(conn)
        self.metrics.inc("holocall_signal_connections_total")
        loop = asyncio.get_running_loop()
        join_timer = loop.call_later(cfg.join_timeout, self._join_timeout, conn)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    try:
                        await self._on_text(conn, msg.data)
                    except Exception as exc:
                        # e.g. Redis unreachable: tell this client, keep its connection
                        log.warning("message from %s failed: %r", conn.user_id, exc)
                        await self._error(
                            conn, ErrorCode.INTERNAL_ERROR, "temporary server error; retry"
                        )
                elif msg.type == WSMsgType.BINARY:
                    await self._violation(
                        conn,
                        ProtocolError(
                            ErrorCode.BINARY_NOT_SUPPORTED,
                            "binary frames are not part of the protocol",
                        ),
                    )
                elif msg.type == WSMsgType.ERROR:  # oversized or broken frame; aiohttp closes
                    conn.abusive = True
                    self.metrics.inc("holocall_signal_errors_total", code=ErrorCode.FRAME_ERROR)
                    break
        except Exception:  # one bad client never takes the server down
            log.exception("connection %s failed", conn.session)
        finally:
            join_timer.cancel()
            self.connections.discard(conn)
            await conn.stopped()
            await self._on_disconnect(conn)
        return ws

    def _join_timeout(self, conn: Connection) -> None:
        if conn.room_id is None and not conn.joined_once and not conn.ws.closed:
            task = asyncio.ensure_future(
                self._close_with_error(
                    conn, CloseCode.JOIN_TIMEOUT, ErrorCode.JOIN_TIMEOUT, "no join-room in time"
                )
            )
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _close_with_error(self, conn: Connection, code: int, err: str, text: str) -> None:
        self.metrics.inc("holocall_signal_errors_total", code=err)
        await conn.send(m.error(err, text))
        await conn.close(code, text)

    async def _on_disconnect(self, conn: Connection) -> None:
        room_id = conn.room_id
        if room_id is None:
            return
        key = (room_id, conn.user_id)
        if self.local.get(key) is conn:
            del self.local[key]
        if self.shutting_down:
            return
        try:
            # a client closed for abuse (violations, oversized frames) does not keep its seat
            if self.config.reconnect_grace > 0 and not conn.abusive:
                if await self.presence.mark_disconnected(room_id, conn.user_id, conn.session):
                    self._grace[key] = asyncio.create_task(
                        self._expire_seat(room_id, conn.user_id, conn.session)
                    )
            else:
                await self._remove(room_id, conn.user_id, conn.session, "disconnected")
        except Exception:
            log.exception("cleanup of %s in %s failed", conn.user_id, room_id)

    async def _expire_seat(self, room_id: str, user_id: str, session: str) -> None:
        try:
            await asyncio.sleep(self.config.reconnect_grace)
            await self._remove(room_id, user_id, session, "timeout")
        finally:
            if self._grace.get((room_id, user_id)) is asyncio.current_task():
                del self._grace[(room_id, user_id)]

    async def _remove(self, room_id: str, user_id: str, session: str | None, reason: str) -> bool:
        gone = await self.presence.leave(room_id, user_id, session)
        if gone is None:
            return False
        self.release_sfu(room_id, user_id)
        await self.presence.broadcast(room_id, m.user_left(room_id, user_id, reason))
        return True

    def release_sfu(self, room_id: str, user_id: str | None) -> None:
        """In the background (never inside a client's handler): the participant's SFU handles
        (``user_id``), or the room's SFU room (None)."""
        sfu = self.sfu
        if sfu is None:
            return
        job = sfu.release(room_id, user_id) if user_id else sfu.close_room(room_id)
        task = asyncio.ensure_future(job)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ---- messages --------------------------------------------------------------------------

    async def _violation(self, conn: Connection, exc: ProtocolError) -> None:
        conn.violations += 1
        self.metrics.inc("holocall_signal_errors_total", code=exc.code)
        await conn.send(m.error(exc.code, exc.message))
        if conn.violations >= self.config.max_violations:
            conn.abusive = True
            await self._close_with_error(
                conn,
                CloseCode.POLICY_VIOLATION,
                ErrorCode.TOO_MANY_ERRORS,
                f"closed after {conn.violations} protocol errors",
            )

    async def _error(self, conn: Connection, code: str, text: str, **extra: Any) -> None:
        self.metrics.inc("holocall_signal_errors_total", code=code)
        await conn.send(m.error(code, text, **extra))

    async def _on_text(self, conn: Connection, text: str) -> None:
        started = time.perf_counter()
        cfg = self.config
        if not conn.take_token(cfg.message_rate, cfg.message_burst):
            await self._violation(
                conn,
                ProtocolError(
                    ErrorCode.RATE_LIMITED,
                    f"more than {cfg.message_rate:g} messages per second; dropped",
                ),
            )
            return
        try:
            msg = m.parse_client_message(text, max_sdp_chars=cfg.max_message_bytes)
        except ProtocolError as exc:
            await self._violation(conn, exc)
            return
        if isinstance(msg, m.Relay):
            self.metrics.inc("holocall_signal_messages_total", type=msg.type)
            await self._relay(conn, msg)
        elif isinstance(msg, m.SfuRequest):
            self.metrics.inc("holocall_signal_messages_total", type=msg.type)
            await _sfu_request(self, conn, msg)
        elif isinstance(msg, m.JoinRoom):
            self.metrics.inc("holocall_signal_messages_total", type="join-room")
            await self._join(conn, msg)
        else:
            self.metrics.inc("holocall_signal_messages_total", type="leave-room")
            await self._leave(conn, msg)
        self.metrics.observe_handling(time.perf_counter() - started)

    async def _join(self, conn: Connection, msg: m.JoinRoom) -> None:
        claims = conn.claims
        if conn.room_id is not None:
            await self._error(
                conn, ErrorCode.ALREADY_JOINED, f"already in room {conn.room_id}; leave first"
            )
            return
        if msg.room_id != claims.room_id:
            await self._violation(
                conn, ProtocolError(ErrorCode.FORBIDDEN, "this token is for another room")
            )
            return
        if msg.user_id != claims.user_id:
            await self._violation(
                conn, ProtocolError(ErrorCode.FORBIDDEN, "userId does not match the token")
            )
            return
        result = await self.presence.join(msg.room_id, msg.user_id, claims.role, conn.session)
        self.metrics.inc("holocall_signal_joins_total", outcome=result.status)
        if result.status == "no-room":
            await self._error(conn, ErrorCode.ROOM_NOT_FOUND, f"room {msg.room_id} does not exist")
            return
        if result.status == "banned":
            await self._close_with_error(
                conn, CloseCode.FORBIDDEN, ErrorCode.FORBIDDEN, "you were removed from this room"
            )
            return
        if result.status == "full":
            await conn.send(m.room_full(msg.room_id, result.max_users))
            return
        assert result.member is not None
        key = (msg.room_id, msg.user_id)
        grace = self._grace.pop(key, None)
        if grace is not None:
            grace.cancel()
        previous = result.previous
        if previous is not None and previous.session != conn.session and previous.connected:
            old = self.local.get(key)
            order = control_close(
                CloseCode.REPLACED,
                ErrorCode.REPLACED,
                "you connected again elsewhere",
                previous.session,
            )
            if old is not None and old is not conn:
                await self.deliver(msg.room_id, msg.user_id, order)
            elif previous.instance != self.presence.instance_id:
                await self.presence.send(msg.room_id, previous, order)
        conn.room_id = msg.room_id
        conn.joined_once = True
        self.local[key] = conn
        state = m.room_state(
            msg.room_id,
            msg.user_id,
            result.member.seat,
            [p.public() for p in result.members],
            ice_servers(self.config, msg.user_id),
            result.max_users,
            "sfu"
            if self.sfu is not None and result.max_users > self.config.mesh_max_users
            else "mesh",
        )
        if result.status == "rejoined":
            state["rejoined"] = True
        await conn.send(state)
        if result.status == "joined":
            await self.presence.broadcast(
                msg.room_id,
                m.user_joined(msg.room_id, msg.user_id, result.member.seat, result.member.role),
                exclude=msg.user_id,
            )

    async def _leave(self, conn: Connection, msg: m.LeaveRoom) -> None:
        if conn.room_id is None or conn.room_id != msg.room_id:
            await self._error(conn, ErrorCode.NOT_IN_ROOM, f"not in room {msg.room_id}")
            return
        key = (conn.room_id, conn.user_id)
        if self.local.get(key) is conn:
            del self.local[key]
        conn.room_id = None
        await self._remove(msg.room_id, conn.user_id, conn.session, "left")

    async def _relay(self, conn: Connection, msg: m.Relay) -> None:
        if conn.room_id is None:
            await self._error(conn, ErrorCode.NOT_IN_ROOM, f"join a room before sending {msg.type}")
            return
        if msg.to == conn.user_id:
            await self._error(
                conn, ErrorCode.INVALID_TARGET, f"{msg.type} cannot be sent to yourself"
            )
            return
        target = await self.presence.member(conn.room_id, msg.to)
        if target is None or not target.connected:
            why = "is not in this room" if target is None else "is reconnecting; try again"
            await self._error(conn, ErrorCode.UNKNOWN_PEER, f"{msg.to} {why}", to=msg.to)
            return
        await self.presence.send(conn.room_id, target, msg.forward(conn.user_id))
        self.metrics.inc("holocall_signal_relayed_total")

    # ---- delivery from presence --------------------------------------------------------------

    async def deliver(self, room_id: str, user_id: str, message: dict[str, Any]) -> None:
        conn = self.local.get((room_id, user_id))
        if conn is None:
            return
        if message.get("type") == CONTROL:
            if message.get("session") not in (None, conn.session):
                return
            if message.get("action") == "close":
                if self.local.get((room_id, user_id)) is conn:
                    del self.local[(room_id, user_id)]
                conn.room_id = None
                await self._close_with_error(
                    conn,
                    int(message["closeCode"]),
                    str(message["code"]),
                    str(message["message"]),
                )
            return
        await conn.send(message)

    # ---- host and admin actions ----------------------------------------------------------------

    async def kick(self, room_id: str, user_id: str) -> bool:
        """Remove ``user_id`` from the room and keep it out; ``False`` (and nobody banned) if it
        was not there."""
        gone = await self.presence.leave(room_id, user_id)
        if gone is None:
            return False
        await self.presence.ban(room_id, user_id)
        self.release_sfu(room_id, user_id)
        grace = self._grace.pop((room_id, user_id), None)
        if grace is not None:
            grace.cancel()
        order = control_close(
            CloseCode.KICKED, ErrorCode.KICKED, "the host removed you", gone.session
        )
        await self.presence.send(room_id, gone, order)
        await self.presence.broadcast(room_id, m.user_left(room_id, user_id, "kicked"))
        return True

    async def close_room(self, room_id: str) -> int:
        """Delete a room and close its members' connections; returns how many there were."""
        members = await self.presence.delete_room(room_id)
        self.release_sfu(room_id, None)
        for member in members:
            grace = self._grace.pop((room_id, member.user_id), None)
            if grace is not None:
                grace.cancel()
            order = control_close(
                CloseCode.ROOM_CLOSED, ErrorCode.ROOM_CLOSED, "the room was closed", member.session
            )
            await self.presence.send(room_id, member, order)
        return len(members)

    async def shutdown(self, notice: str) -> None:
        """Tell every client, release this instance's seats, close with 1001 (going away)."""
        self.shutting_down = True
        for task in list(self._grace.values()):
            task.cancel()
        conns = list(self.connections)
        await asyncio.gather(*(c.send(m.server_shutdown(notice)) for c in conns))
        for (room_id, user_id), conn in list(self.local.items()):
            try:
                await self._remove(room_id, user_id, conn.session, "server-shutdown")
            except Exception:
                log.exception("releasing %s in %s failed", user_id, room_id)
        self.local.clear()
        grace = max(self.config.shutdown_grace, 0.5)  # as long as a close handshake may take
        await asyncio.gather(
            *(c.close(CloseCode.GOING_AWAY, "server shutdown", grace) for c in conns)
        )


def _describe_metrics(hub: SignalingHub) -> None:
    mt = hub.metrics
    mt.gauge(
        "holocall_signal_connections",
        "Open WebSocket connections.",
        lambda: len(hub.connections),
    )
    mt.gauge(
        "holocall_signal_local_participants",
        "Participants joined through this instance.",
        lambda: len(hub.local),
    )
    for name, text in (
        ("connections_total", "WebSocket connections accepted."),
        ("rejected_total", "Connections and requests refused, by reason."),
        ("messages_total", "Client messages, by type."),
        ("relayed_total", "Offers, answers and candidates relayed."),
        ("errors_total", "Error frames sent, by code."),
        ("joins_total", "Join attempts, by outcome."),
    ):
        mt.describe(f"holocall_signal_{name}", "counter", text)


async def _sfu_request(hub: SignalingHub, conn: Connection, msg: m.SfuRequest) -> None:
    """``sfu-publish``, ``sfu-subscribe`` or ``sfu-start``, done with the SFU for ``conn``
    (waiting for it here, in this client's own handler) and answered to it."""
    if hub.sfu is None:
        await hub._error(conn, ErrorCode.SFU_UNAVAILABLE, "this server has no SFU")
        return
    room_id = conn.room_id
    if room_id is None:
        await hub._error(conn, ErrorCode.NOT_IN_ROOM, f"join a room before sending {msg.type}")
        return
    user, session = conn.user_id, conn.session
    try:
        if msg.type == MessageType.SFU_PUBLISH:
            assert msg.sdp is not None
            await conn.send(m.sfu_answer(await hub.sfu.publish(room_id, user, session, msg.sdp)))
            # the others subscribe anew to take this one's streams too
            await hub.presence.broadcast(room_id, m.sfu_published(room_id, user), exclude=user)
        elif msg.type == MessageType.SFU_SUBSCRIBE:
            offer, feeds, streams = await hub.sfu.subscribe(room_id, user, session, msg.feeds)
            await conn.send(m.sfu_offer(offer, feeds, streams))
        else:
            assert msg.sdp is not None
            await hub.sfu.start(room_id, user, session, msg.sdp)
            await conn.send(m.sfu_started())
    except SfuError as exc:
        await hub._error(conn, exc.code, exc.message)
