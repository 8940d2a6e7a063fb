"""Application factory and the in-process server (``async with SignalingServer(cfg) as s``)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import secrets
import ssl
import time
from types import TracebackType
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from holocall_desktop.server import webclient
from holocall_desktop.server.auth import TokenService
from holocall_desktop.server.config import ConfigError, ServerConfig
from holocall_desktop.server.guard import GuardedSite
from holocall_desktop.server.janus import VideoRoomAdmin
from holocall_desktop.server.metrics import Metrics
from holocall_desktop.server.presence import MemoryPresence, Presence
from holocall_desktop.server.rest import RestApi, cors_middleware, http_errors_middleware
from holocall_desktop.server.sfu import SfuRelay
from holocall_desktop.server.ws import SignalingHub

log = logging.getLogger(__name__)


def _rss_bytes() -> int | None:
    """This process's resident memory (Linux), or ``None`` where ``/proc`` does not tell."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def make_presence(config: ServerConfig) -> Presence:
    if config.redis_url:
        from holocall_desktop.server.presence_redis import RedisPresence

        return RedisPresence(config)
    return MemoryPresence(config.instance_id)


def create_app(
    config: ServerConfig,
    presence: Presence | None = None,
    tokens: TokenService | None = None,
    admin_token: str | None = None,
) -> tuple[web.Application, SignalingHub, RestApi]:
    """The aiohttp application with the WebSocket endpoint and the REST API."""
    config.validate()
    presence = presence or make_presence(config)
    tokens = tokens or TokenService(config)
    metrics = Metrics()
    hub = SignalingHub(config, presence, tokens, metrics, make_sfu(config))
    api = RestApi(
        config, hub, tokens, metrics, admin_token or config.admin_token or secrets.token_urlsafe(32)
    )
    app = web.Application(
        client_max_size=64 * 1024,
        middlewares=[http_errors_middleware, cors_middleware(config.cors_origins)],
    )
    app.router.add_get("/ws", hub.handle)
    app.add_routes(api.routes())
    app.add_routes(webclient.routes())
    return app, hub, api


def make_sfu(config: ServerConfig) -> SfuRelay | None:
    """The SFU relay on the configured Janus node, or None without one."""
    if config.janus_url is None or not config.janus_secret:
        return None
    admin = VideoRoomAdmin(config.janus_url, config.janus_secret)
    return SfuRelay(admin, config.janus_secret, max_publishers=config.max_users_per_room)


class SignalingServer:
    """The signaling server on an asyncio loop: ``port = await server.start()``, then ``stop()``.

    ``port=0`` in the configuration binds a free port; :attr:`port` tells which.
    """

    def __init__(self, config: ServerConfig) -> None:
        self.config = config.validate()
        self.admin_token = config.admin_token or secrets.token_urlsafe(32)
        self.tokens = TokenService(config)
        self.presence = make_presence(config)
        self.app, self.hub, self.api = create_app(
            config, self.presence, self.tokens, self.admin_token
        )
        self._runner: web.AppRunner | None = None
        self._maintenance: asyncio.Task[None] | None = None
        self._gc_task: asyncio.Task[None] | None = None
        self.port = 0

    @property
    def tls(self) -> bool:
        return self.config.tls_cert is not None

    @property
    def http_url(self) -> str:
        host = "127.0.0.1" if self.config.host in ("0.0.0.0", "::", "") else self.config.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return "ws" + self.http_url.removeprefix("http") + "/ws"

    async def start(self) -> int:
        tls = server_tls(self.config) if self.tls else None  # ConfigError before anything opens
        await self.presence.start(self.hub.deliver)
        self._runner = web.AppRunner(
            self.app,
            access_log=None,
            handle_signals=False,
            logger=_HttpLog(log),
            # stopping waits this long for requests still being handled (aiohttp: 60 s)
            shutdown_timeout=max(self.config.shutdown_grace, 0.5) + 2.0,
        )
        await self._runner.setup()
        site = GuardedSite(
            self._runner,
            self.config.host,
            self.config.port,
            backlog=4096,
            reuse_address=True,
            ssl_context=tls,
            head_timeout=self.config.request_head_timeout,
            # the WebSocket handler answers "server full" itself up to max_connections; past
            # that (plus room for REST calls) TCP connections are refused at once
            max_connections=self.config.max_connections + 256,
        )
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            await self.presence.stop()
            raise
        addresses = self._runner.addresses
        self.port = int(addresses[0][1]) if addresses else self.config.port
        self._maintenance = asyncio.create_task(self._maintain())
        if self.config.gc_tuning:
            self._gc_task = asyncio.create_task(self._tune_gc())
        return self.port

    async def _tune_gc(self) -> None:
        interval, growth = self.config.gc_full_interval, self.config.gc_full_growth
        last_full, baseline = time.monotonic(), _rss_bytes()
        try:
            while True:
                await asyncio.sleep(1.0)
                if time.monotonic() - last_full > interval:
                    last_full = time.monotonic()
                    now = _rss_bytes()
                    if growth > 0 and now and baseline and now <= baseline * (1.0 + growth):
                        log.debug(
                            "full GC skipped: RSS %.0f MB, %.0f MB after the last one",
                            now / 1e6,
                            baseline / 1e6,
                        )
                    else:
                        gc.unfreeze()
                        started = time.perf_counter()
                        found = gc.collect()
                        log.info(
                            "full GC: %d unreachable objects, %.0f ms",
                            found,
                            (time.perf_counter() - started) * 1000,
                        )
                        baseline = _rss_bytes()
                gc.freeze()
        finally:
            gc.unfreeze()

    async def _maintain(self) -> None:
        while True:
            await asyncio.sleep(min(5.0, self.config.room_idle_ttl))
            try:
                for room_id in await self.presence.sweep(self.config.room_idle_ttl):
                    log.info("room %s expired", room_id)
                    self.hub.release_sfu(room_id, None)
            except Exception:
                log.exception("room sweep failed")

    async def stop(self, notice: str = "the server is shutting down") -> None:
        """Tell every client (``server-shutdown``, then close code 1001) and release resources."""
        if self._runner is None:
            return
        for task in (self._maintenance, self._gc_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        started = time.monotonic()
        await self.hub.shutdown(notice)
        told = time.monotonic()
        await self._runner.cleanup()
        self._runner = None
        if self.hub.sfu is not None:
            await self.hub.sfu.close()
        await self.presence.stop()
        if time.monotonic() - started > 5.0:  # to find what holds a stop up
            log.warning(
                "stopping took %.1f s (clients told and closed in %.1f s)",
                time.monotonic() - started,
                told - started,
            )

    async def __aenter__(self) -> SignalingServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


def server_tls(config: ServerConfig) -> ssl.SSLContext:
    """The server's TLS: the configured chain and key, TLS 1.2 at least (1.3 when offered)."""
    assert config.tls_cert is not None and config.tls_key is not None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(config.tls_cert, config.tls_key)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"cannot use the TLS certificate and key: {exc}") from None
    return context


class _HttpLog(logging.LoggerAdapter[logging.Logger]):
    """aiohttp's request-handler logger: a malformed request from a client (a request line over
    the limit, bad headers, not HTTP at all) is one INFO line, never an ERROR with a traceback
    that any client could fill the logs with; anything else is still logged as an error."""

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kw: Any) -> None:
        if isinstance(exc_info, HttpProcessingError):
            self.info("refused a malformed HTTP request: %s", exc_info.message or exc_info)
        else:
            self.error(msg, *args, exc_info=exc_info, **kw)
