"""The web client's page and files as the server serves them: the page for a new room and for
a room, its script and style sheet, a strict content security policy and no referrer (the
address holds the invite secret), and nothing else from its folder."""

from __future__ import annotations

import aiohttp

from holocall_desktop.server.app import SignalingServer


async def test_the_page_and_its_files_are_served_with_a_strict_policy(
    server: SignalingServer, http: aiohttp.ClientSession
) -> None:
    url = server.http_url
    for path in ("/join", "/join/room-1?invite=secret-secret&name=Ann"):
        async with http.get(url + path) as r:
            assert r.status == 200 and r.content_type == "text/html"
            page = await r.text()
            policy = r.headers["Content-Security-Policy"]
            assert r.headers["Referrer-Policy"] == "no-referrer"
        assert '<script src="/web/holocall.js"></script>' in page and "<script>" not in page
        assert "script-src 'self'" in policy and "default-src 'none'" in policy
        assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    async with http.get(f"{url}/web/holocall.js") as r:
        assert r.status == 200 and r.content_type == "text/javascript"
        assert "window.holocall" in await r.text()
    async with http.get(f"{url}/web/holocall.css") as r:
        assert r.status == 200 and r.content_type == "text/css"


async def test_nothing_else_is_served_and_a_bad_room_id_is_refused(
    server: SignalingServer, http: aiohttp.ClientSession
) -> None:
    url = server.http_url
    for path in ("/web/join.html", "/web/..%2Fwebclient.py", "/web/%2e%2e/app.py", "/web/x.js"):
        async with http.get(url + path) as r:
            assert r.status == 404, path
    async with http.get(f"{url}/join/not%20a%20room") as r:
        assert r.status == 400
        assert "room id" in await r.text()
