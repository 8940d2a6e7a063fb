"""TCP connections before they are HTTP requests: a deadline for the request head.

aiohttp waits as long as a client takes to send its request line and headers, so a client that
sends them one byte a second ("slowloris") holds a connection forever, before any WebSocket
handler (and its ``--max-connections`` check) ever sees it. :class:`GuardedSite` serves the app
like ``web.TCPSite`` but through :class:`_Guard`, which cuts a connection whose first request
head is not complete within ``head_timeout`` seconds, and refuses connections beyond
``max_connections`` at once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

_END_OF_HEAD = b"\r\n\r\n"


class _Guard(asyncio.Protocol):
    """Wraps aiohttp's request handler for one connection and forwards everything to it."""

    def __init__(self, inner: asyncio.Protocol, site: GuardedSite) -> None:
        self.inner = inner
        self.site = site
        self._head = b""
        self._done = False
        self._timer: asyncio.TimerHandle | None = None
        self._transport: asyncio.Transport | None = None
        self._started = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self.site.open += 1
        if self.site.open > self.site.max_connections:
            log.info("refusing a connection: %d open", self.site.open - 1)
            self.site.refused += 1
            transport.abort()
            return
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.site.head_timeout, self._too_slow)
        self._started = True
        self.inner.connection_made(transport)

    def _too_slow(self) -> None:
        if not self._done and self._transport is not None:
            log.info(
                "cutting a connection whose request head took over %gs", self.site.head_timeout
            )
            self.site.cut += 1
            self._transport.abort()

    def data_received(self, data: bytes) -> None:
        if not self._started:
            return
        if not self._done:
            self._head = (self._head + data)[-8192:]
            if _END_OF_HEAD in self._head:
                self._done = True
                self._head = b""
                if self._timer is not None:
                    self._timer.cancel()
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self._started else None

    def connection_lost(self, exc: Exception | None) -> None:
        self.site.open -= 1
        if self._timer is not None:
            self._timer.cancel()
        if self._started:
            self.inner.connection_lost(exc)
        # asyncio's selector transport (3.11-3.13) keeps a bound method of itself as its read
        # callback after the connection is lost: a cycle that leaves every closed socket to the
        # cyclic collector, which the server's GC tuning keeps frozen
        transport: Any = self._transport
        if transport is not None and hasattr(transport, "_read_ready_cb"):
            transport._read_ready_cb = None
        self._transport = None

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


class GuardedSite(web.TCPSite):
    """``web.TCPSite`` with a request-head deadline and a cap on open TCP connections."""

    def __init__(
        self, runner: web.BaseRunner, *args: Any, head_timeout: float, max_connections: int,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        super().__init__(runner, *args, **kwargs)
        self.head_timeout = head_timeout
        self.max_connections = max_connections
        self.open = 0
        self.cut = 0
        self.refused = 0

    async def start(self) -> None:
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        self._server = await loop.create_server(
            lambda: _Guard(server(), self),
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
