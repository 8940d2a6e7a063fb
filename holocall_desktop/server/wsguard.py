"""What aiohttp's WebSocket server leaves undone, done for our ``/ws`` connections.

- aiohttp (3.9 to 3.14) keeps an ended WebSocket response's heartbeat callback on the
  connection's protocol: protocol -> response -> request -> protocol, a reference cycle. Every
  closed connection then waits for the cyclic collector, which the server's GC tuning keeps away
  from most objects (``gc.freeze``), so memory grew with every wave of closed connections.
  :func:`release` breaks it once the handler is done.

It reaches into aiohttp's private attributes (``RequestHandler._data_received_cb``); the
server's tests fail if a new aiohttp changes them.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web


def release(request: web.BaseRequest) -> None:
    """After the WebSocket handler ended: break aiohttp's protocol -> response cycle."""
    protocol: Any = request.protocol
    if getattr(protocol, "_data_received_cb", None) is not None:
        protocol._data_received_cb = None
