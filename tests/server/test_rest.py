"""REST endpoints, metrics and the OpenAPI document."""

from __future__ import annotations

import json
import re

import aiohttp
from aiohttp import web

from holocall_desktop.server.app import SignalingServer
from holocall_desktop.server.rest import OPENAPI_PATH
from tests.server.client import SignalClient, create_room, invite
from tests.server.conftest import ServerFactory

_SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_]+="[^"]*",?)*\})? [-+0-9.eInf]+$')


async def test_health_and_stats(server: SignalingServer, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{server.http_url}/health") as r:
        assert r.status == 200
        health = await r.json()
    assert health["status"] == "ok" and health["shared"] is False
    room = await create_room(http, server.http_url, "alice")
    alice = await SignalClient.connect(http, server.ws_url, room["accessToken"])
    await alice.join(room["roomId"], "alice")
    await alice.send_raw("junk")
    await alice.expect("error")
    async with http.get(f"{server.http_url}/stats") as r:
        stats = await r.json()
    assert stats["connections"] == 1 and stats["rooms"] == 1 and stats["participants"] == 1
    assert stats["errorsTotal"] == 1 and stats["messagesTotal"] == 1


async def test_metrics_are_prometheus_text(
    server: SignalingServer, http: aiohttp.ClientSession
) -> None:
    room = await create_room(http, server.http_url, "alice")
    alice = await SignalClient.connect(http, server.ws_url, room["accessToken"])
    await alice.join(room["roomId"], "alice")
    bob_t = await invite(http, server.http_url, room, "bob")
    bob = await SignalClient.connect(http, server.ws_url, bob_t["accessToken"])
    await bob.join(room["roomId"], "bob")
    await alice.expect("user-joined")
    await alice.send(type="offer", to="bob", sdp={"type": "offer", "sdp": ""})
    await bob.expect("offer")
    async with http.get(f"{server.http_url}/metrics") as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await r.text()
    samples = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert line.startswith(("# HELP ", "# TYPE ")), line
            continue
        assert _SAMPLE.match(line), line
        name, value = line.rsplit(" ", 1)
        samples[name] = float(value)
    assert samples["holocall_signal_connections"] == 2
    assert samples["holocall_signal_relayed_total"] == 1
    assert samples['holocall_signal_messages_total{type="join-room"}'] == 2
    assert samples['holocall_signal_joins_total{outcome="joined"}'] == 2
    assert samples["holocall_signal_message_handling_seconds_count"] == 3
    assert samples['holocall_signal_message_handling_seconds_bucket{le="+Inf"}'] == 3


async def test_openapi_documents_every_route(
    server: SignalingServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{server.http_url}/openapi.json") as r:
        served = await r.json()
    assert served == json.loads(OPENAPI_PATH.read_text())
    assert served["openapi"].startswith("3.")
    routes = set()
    for route in server.app.router.routes():
        if route.method == "HEAD":
            continue
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        routes.add((path, route.method.lower()))
    documented = {(p, m) for p, ops in served["paths"].items() for m in ops}
    assert routes == documented
    for ops in served["paths"].values():
        for op in ops.values():
            assert op["summary"] and op["responses"]


async def test_rest_input_errors(server: SignalingServer, http: aiohttp.ClientSession) -> None:
    url = server.http_url
    async with http.post(f"{url}/rooms", data=b"{not json") as r:
        assert r.status == 400 and (await r.json())["code"] == "invalid-json"
    async with http.post(f"{url}/rooms", json=[1, 2]) as r:
        assert r.status == 400 and (await r.json())["code"] == "invalid-body"
    async with http.post(f"{url}/rooms", json={"userId": "no spaces"}) as r:
        assert r.status == 400 and (await r.json())["code"] == "invalid-user-id"
    async with http.post(f"{url}/rooms/none/tokens", json={"userId": "x"}) as r:
        assert r.status == 400
    async with http.post(f"{url}/rooms/none/tokens", json={"inviteSecret": "x"}) as r:
        assert r.status == 403
    admin = {"Authorization": "Bearer " + server.admin_token}
    async with http.get(f"{url}/rooms/none/users", headers=admin) as r:
        assert r.status == 404
    async with http.post(f"{url}/rooms", data=b"x" * 100_000) as r:
        assert r.status == web.HTTPRequestEntityTooLarge.status_code
    async with http.get(f"{url}/ws") as r:  # not an upgrade
        assert r.status == 400


async def test_cors_lets_a_web_page_call_the_api(
    server: SignalingServer, http: aiohttp.ClientSession
) -> None:
    origin = {"Origin": "https://app.example.test"}
    preflight = {
        **origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    async with http.options(f"{server.http_url}/rooms", headers=preflight) as r:
        assert r.status == 204
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        assert "POST" in r.headers["Access-Control-Allow-Methods"]
        assert "Authorization" in r.headers["Access-Control-Allow-Headers"]
    async with http.post(f"{server.http_url}/rooms", json={}, headers=origin) as r:
        assert r.status == 201 and r.headers["Access-Control-Allow-Origin"] == "*"
    async with http.get(f"{server.http_url}/rooms", headers=origin) as r:
        assert r.status == 403 and r.headers["Access-Control-Allow-Origin"] == "*"


async def test_cors_can_be_restricted(
    make_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await make_server(cors_origins=("https://app.example.test",))
    preflight = {"Origin": "https://evil.example.test", "Access-Control-Request-Method": "POST"}
    async with http.options(f"{server.http_url}/rooms", headers=preflight) as r:
        assert r.status == 403
    async with http.get(
        f"{server.http_url}/health", headers={"Origin": "https://evil.example.test"}
    ) as r:
        assert "Access-Control-Allow-Origin" not in r.headers
    async with http.get(
        f"{server.http_url}/health", headers={"Origin": "https://app.example.test"}
    ) as r:
        assert r.headers["Access-Control-Allow-Origin"] == "https://app.example.test"
