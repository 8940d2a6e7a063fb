"""What aiohttp's WebSocket server leaves undone, done for our ``/ws`` connections.

- RFC 6455 §5.1: "The server MUST close the connection upon receiving a frame that is not
  masked." aiohttp unmasks when a mask is present and accepts frames without one.
  :func:`require_masked_frames` puts :class:`MaskedFramesOnly` in front of the response's frame
  parser: a client's first unmasked frame ends its connection with close code 1002 (protocol
  error), like any other broken frame, and nothing from that frame on is parsed.
- aiohttp (3.9 to 3.14) keeps an ended WebSocket response's heartbeat callback on the
  connection's protocol: protocol -> response -> request -> protocol, a reference cycle. Every
  closed connection then waits for the cyclic collector, which the server's GC tuning keeps away
  from most objects (``gc.freeze``), so memory grew with every wave of closed connections.
  :func:`release` breaks it once the handler is done.

Both reach into aiohttp's private attributes (``RequestHandler._payload_parser`` and
``_data_received_cb``, ``WebSocketResponse._reader``); the server's tests fail if a new aiohttp
changes them.
"""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import WebSocketError, WSCloseCode, web

UNMASKED = "client frames must be masked (RFC 6455 section 5.1)"


class _FrameParser(Protocol):
    def feed_data(self, data: bytes) -> tuple[bool, bytes]: ...

    def feed_eof(self) -> None: ...


class MaskedFramesOnly:
    """Follows the frame headers of a client's byte stream and passes it to aiohttp's parser
    up to the first frame without a mask; then fails the response's message queue with a
    protocol error. Only headers are read (2 to 14 bytes a frame); payloads are skipped."""

    __slots__ = ("_head", "_inner", "_queue", "_refused", "_skip")

    def __init__(self, inner: _FrameParser, queue: Any) -> None:
        self._inner = inner
        self._queue = queue
        self._head = bytearray()  # the current frame's header bytes seen so far
        self._skip = 0  # payload bytes of the current frame still to come
        self._refused = False

    @property
    def refused(self) -> bool:
        return self._refused

    def feed_eof(self) -> None:
        self._inner.feed_eof()

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if self._refused:
            return True, b""
        bad = self.scan(data)
        if bad < 0:
            return self._inner.feed_data(data)
        if bad > 0:
            eof, tail = self._inner.feed_data(data[:bad])
            if eof:
                return eof, tail
        self._refused = True
        self._queue.set_exception(WebSocketError(WSCloseCode.PROTOCOL_ERROR, UNMASKED))
        return True, b""

    def scan(self, data: bytes) -> int:
        """Advance over ``data``; the offset in it where an unmasked frame starts, else -1."""
        pos, end, head = 0, len(data), self._head
        while pos < end:
            if self._skip:
                step = min(self._skip, end - pos)
                self._skip -= step
                pos += step
                continue
            start = pos - len(head)
            if len(head) < 2:
                take = 2 - len(head)
                head += data[pos : pos + take]
                pos += take
                if len(head) < 2:
                    return -1
            if not head[1] & 0x80:
                return max(start, 0)
            length = head[1] & 0x7F
            extended = 2 if length == 126 else 8 if length == 127 else 0
            total = 2 + extended + 4
            if len(head) < total:
                take = total - len(head)
                head += data[pos : pos + take]
                pos += take
                if len(head) < total:
                    return -1
            if extended:
                length = int.from_bytes(head[2 : 2 + extended], "big")
            self._skip = length
            head.clear()
        return -1


def require_masked_frames(request: web.BaseRequest, ws: web.WebSocketResponse) -> None:
    """After ``ws.prepare(request)``: refuse the client's unmasked frames (see the module)."""
    protocol: Any = request.protocol
    parser = protocol._payload_parser
    if parser is None or isinstance(parser, MaskedFramesOnly):
        return
    protocol._payload_parser = MaskedFramesOnly(parser, ws._reader)


def release(request: web.BaseRequest) -> None:
    """After the WebSocket handler ended: break aiohttp's protocol -> response cycle."""
    protocol: Any = request.protocol
    if getattr(protocol, "_data_received_cb", None) is not None:
        protocol._data_received_cb = None
