"""The web client: a page the signaling server serves, with which a browser joins a room.

``GET /join`` (a new room, the browser hosts it) and ``GET /join/{roomId}?invite=SECRET`` (a
room, as a guest) answer the same page, ``web/join.html``; its script (``web/holocall.js``) and
style sheet are under ``GET /web/{name}``. The page uses browser APIs only: ``getUserMedia``,
``RTCPeerConnection``, the REST API for tokens and the ``/ws`` protocol (``docs/server.md``), and
the data-channel protocol (``docs/protocol.md``). It is described in ``docs/web.md``.

Everything is served with a content security policy that allows this server's own script and
style sheet only (no inline script, no other origin), and without a referrer, since the page's
address holds the invite secret.
"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

WEB_DIR = Path(__file__).with_name("web")
#: the files under /web/ and their content types (nothing else is served from the folder)
FILES = {
    "holocall.js": "text/javascript",
    "holocall.css": "text/css",
}
_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "media-src 'self' blob:; connect-src 'self' ws: wss:; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


async def join_page(request: web.Request) -> web.Response:
    room = request.match_info.get("roomId")
    if room is not None and not _ID.fullmatch(room):
        raise web.HTTPBadRequest(text="room id must be 1-64 characters of A-Z a-z 0-9 _ . -")
    body = (WEB_DIR / "join.html").read_bytes()
    return web.Response(body=body, content_type="text/html", charset="utf-8", headers=HEADERS)


async def web_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    kind = FILES.get(name)
    if kind is None:
        raise web.HTTPNotFound(text="no such file")
    body = (WEB_DIR / name).read_bytes()
    return web.Response(body=body, content_type=kind, charset="utf-8", headers=HEADERS)


def routes() -> list[web.RouteDef]:
    return [
        web.get("/join", join_page),
        web.get("/join/{roomId}", join_page),
        web.get("/web/{name}", web_file),
    ]
