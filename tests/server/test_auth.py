"""JWT attacks, token flows and REST authorization against a real server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import aiohttp
import jwt
import pytest

from holocall_desktop.server.app import SignalingServer
from holocall_desktop.server.auth import AuthError, TokenService, generate_private_key_pem
from holocall_desktop.server.config import ConfigError, ServerConfig
from tests.server.client import SignalClient, create_room, invite
from tests.server.conftest import ServerFactory


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(server: SignalingServer, room_id: str, user: str = "mallory", **over: Any) -> dict:
    now = int(time.time())
    claims = {
        "iss": server.config.jwt_issuer,
        "aud": server.config.jwt_audience,
        "sub": user,
        "room": room_id,
        "role": "host",
        "typ": "access",
        "jti": "x" * 16,
        "iat": now,
        "exp": now + 600,
    }
    claims.update(over)
    return {k: v for k, v in claims.items() if v is not None}


def _hs256_with(key: bytes, claims: dict) -> str:
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    sig = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(sig)}"


async def _refused(
    http: aiohttp.ClientSession, server: SignalingServer, token: str, code: str = "unauthorized"
) -> str:
    client = await SignalClient.connect(http, server.ws_url, token)
    err = await client.expect("error")
    assert err["code"] == code, err
    assert await client.close_code() == 4001
    return str(err["message"])


@pytest.fixture
async def room(server: SignalingServer, http: aiohttp.ClientSession) -> dict[str, Any]:
    return await create_room(http, server.http_url, "alice")


async def test_alg_none_is_refused(
    server: SignalingServer, http: aiohttp.ClientSession, room: dict[str, Any]
) -> None:
    token = jwt.encode(_claims(server, room["roomId"]), None, algorithm="none")
    assert "not accepted" in await _refused(http, server, token)
    head = _b64(json.dumps({"alg": "none"}).encode())
    body = _b64(json.dumps(_claims(server, room["roomId"])).encode())
    await _refused(http, server, f"{head}.{body}.")


async def test_hs256_signed_with_the_public_key_is_refused(
    server: SignalingServer, http: aiohttp.ClientSession, room: dict[str, Any]
) -> None:
    public_pem = server.tokens.public_key_pem()
    assert public_pem is not None
    token = _hs256_with(public_pem, _claims(server, room["roomId"]))
    assert "not accepted" in await _refused(http, server, token)
    with pytest.raises(AuthError):
        server.tokens.verify(token)


async def test_bad_signature_is_refused(
    server: SignalingServer, http: aiohttp.ClientSession, room: dict[str, Any]
) -> None:
    forged = jwt.encode(
        _claims(server, room["roomId"]), generate_private_key_pem("RS256"), algorithm="RS256"
    )
    assert "Signature" in await _refused(http, server, forged)


async def test_expired_token_is_refused_beyond_the_leeway(
    server: SignalingServer, http: aiohttp.ClientSession, room: dict[str, Any]
) -> None:
    tokens = server.tokens
    past = time.time() - tokens.access_ttl - tokens.leeway - 5
    expired = tokens.issue(
        user_id="alice", room_id=room["roomId"], role="host", token_type="access", now=past
    )
    await _refused(http, server, expired, code="token-expired")
    # a token that expired within the leeway (clock skew) is still accepted
    skewed = tokens.issue(
        user_id="alice",
        room_id=room["roomId"],
        role="host",
        token_type="access",
        now=time.time() - tokens.access_ttl - tokens.leeway / 2,
    )
    client = await SignalClient.connect(http, server.ws_url, skewed)
    assert (await client.join(room["roomId"], "alice"))["type"] == "room-state"


async def test_missing_exp_is_refused(
    server: SignalingServer,
    http: aiohttp.ClientSession,
    room: dict[str, Any],
    rsa_pem: bytes,
) -> None:
    no_exp = jwt.encode(_claims(server, room["roomId"], exp=None), rsa_pem, algorithm="RS256")
    assert "exp" in await _refused(http, server, no_exp)


async def test_token_for_another_room_cannot_join(
    server: SignalingServer, http: aiohttp.ClientSession, room: dict[str, Any]
) -> None:
    other = await create_room(http, server.http_url, "bob")
    client = await SignalClient.connect(http, server.ws_url, room["accessToken"])
    await client.send(type="join-room", roomId=other["roomId"], userId="alice")
    err = await client.expect("error")
    assert err["code"] == "forbidden" and "another room" in err["message"]
    # nor can it claim another user's id in its own room
    await client.send(type="join-room", roomId=room["roomId"], userId="bob")
    assert (await client.expect("error"))["code"] == "forbidden"
    # nor read the other room over REST
    headers = {"Authorization": "Bearer " + room["accessToken"]}
    async with http.get(f"{server.http_url}/rooms/{other['roomId']}/users", headers=headers) as r:
        assert r.status == 403


async def test_tampered_claims_are_refused(
    server: SignalingServer, http: aiohttp.ClientSession, room: dict[str, Any]
) -> None:
    guest = await invite(http, server.http_url, room, "bob")
    head, body, sig = guest["accessToken"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert claims["role"] == "guest"
    claims["role"] = "host"
    tampered = f"{head}.{_b64(json.dumps(claims).encode())}.{sig}"
    await _refused(http, server, tampered)
    headers = {"Authorization": "Bearer " + tampered}
    url = f"{server.http_url}/rooms/{room['roomId']}/users/alice"
    async with http.delete(url, headers=headers) as r:
        assert r.status == 403


async def test_missing_or_garbage_token(
    server: SignalingServer, http: aiohttp.ClientSession
) -> None:
    client = await SignalClient.connect(http, server.ws_url, None)
    assert (await client.expect("error"))["code"] == "unauthorized"
    assert await client.close_code() == 4001
    await _refused(http, server, "not.a.jwt")
    await _refused(http, server, "x" * 5_000)
    # a URL beyond the HTTP line limit never reaches the WebSocket upgrade
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await SignalClient.connect(http, server.ws_url, "x" * 10_000)
    assert info.value.status == 400


async def test_refresh_token_is_not_an_access_token(
    server: SignalingServer, http: aiohttp.ClientSession, room: dict[str, Any]
) -> None:
    await _refused(http, server, room["refreshToken"])
    async with http.post(
        f"{server.http_url}/auth/refresh", json={"refreshToken": room["accessToken"]}
    ) as r:
        assert r.status == 401


async def test_refresh_rotates_and_is_single_use(
    server: SignalingServer, http: aiohttp.ClientSession, room: dict[str, Any]
) -> None:
    url = f"{server.http_url}/auth/refresh"
    async with http.post(url, json={"refreshToken": room["refreshToken"]}) as r:
        assert r.status == 200
        fresh = await r.json()
    assert fresh["role"] == "host" and fresh["roomId"] == room["roomId"]
    assert fresh["expiresIn"] == 900
    async with http.post(url, json={"refreshToken": room["refreshToken"]}) as r:
        assert r.status == 401
        assert (await r.json())["code"] == "token-reused"
    client = await SignalClient.connect(http, server.ws_url, fresh["accessToken"])
    assert (await client.join(room["roomId"], "alice"))["type"] == "room-state"
    async with http.post(url, data=b"{nope") as r:
        assert r.status == 400


async def test_invite_exchange(
    server: SignalingServer, http: aiohttp.ClientSession, room: dict[str, Any]
) -> None:
    url = f"{server.http_url}/rooms/{room['roomId']}/tokens"
    async with http.post(url, json={"inviteSecret": "wrong", "userId": "eve"}) as r:
        assert r.status == 403
    async with http.post(url, json={"inviteSecret": room["inviteSecret"], "userId": "alice"}) as r:
        assert r.status == 409  # nobody takes the host's identity with an invite
    async with http.post(url, json={"inviteSecret": room["inviteSecret"], "userId": "a b"}) as r:
        assert r.status == 400
    async with http.post(url, json={"inviteSecret": room["inviteSecret"]}) as r:
        assert r.status == 200
        body = await r.json()
    assert body["role"] == "guest" and body["userId"].startswith("u-")
    claims = server.tokens.verify(body["accessToken"], room_id=room["roomId"])
    assert claims.role == "guest" and not claims.is_host
    assert claims.expires_at - time.time() <= 15 * 60 + 1


async def test_admin_endpoints(server: SignalingServer, http: aiohttp.ClientSession) -> None:
    room = await create_room(http, server.http_url, "alice")
    async with http.get(f"{server.http_url}/rooms") as r:
        assert r.status == 403
    host = {"Authorization": "Bearer " + room["accessToken"]}
    async with http.get(f"{server.http_url}/rooms", headers=host) as r:
        assert r.status == 403  # a host token is not the admin token
    admin = {"Authorization": "Bearer " + server.admin_token}
    async with http.get(f"{server.http_url}/rooms", headers=admin) as r:
        assert r.status == 200
        rooms = (await r.json())["rooms"]
    assert [x["roomId"] for x in rooms] == [room["roomId"]]
    async with http.get(f"{server.http_url}/rooms/{room['roomId']}/users", headers=admin) as r:
        assert (await r.json())["users"] == []


async def test_short_access_ttl_is_configurable(
    make_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await make_server(access_token_ttl=1.0, jwt_leeway=0.0)
    room = await create_room(http, server.http_url, "alice")
    assert room["expiresIn"] == 1
    time_left = server.tokens.verify(room["accessToken"]).expires_at - time.time()
    assert time_left <= 1.0


def test_hs256_and_es256_configurations() -> None:
    with pytest.raises(ConfigError, match="32 bytes"):
        ServerConfig(jwt_algorithm="HS256", jwt_secret="short").validate()
    with pytest.raises(ConfigError, match="one of"):
        ServerConfig(jwt_algorithm="none").validate()
    hs = TokenService(ServerConfig(jwt_algorithm="HS256", jwt_secret="s" * 32).validate())
    token = hs.issue(user_id="a", room_id="r", role="guest", token_type="access")
    assert hs.verify(token, room_id="r").user_id == "a"
    es = TokenService(ServerConfig(jwt_algorithm="ES256").validate())
    with pytest.raises(AuthError):
        es.verify(token)  # an HS256 token means nothing to an ES256 server
    assert es.verify(
        es.issue(user_id="a", room_id="r", role="host", token_type="refresh"), token_type="refresh"
    ).is_host
    with pytest.raises(ConfigError, match="does not fit"):
        TokenService(
            ServerConfig(
                jwt_algorithm="ES256", jwt_private_key_pem=generate_private_key_pem("RS256")
            )
        )


async def test_embedded_jwk_and_other_asymmetric_algorithms_are_refused(
    server: SignalingServer, http: aiohttp.ClientSession, room: dict[str, Any]
) -> None:
    from cryptography.hazmat.primitives import serialization

    attacker_pem = generate_private_key_pem("RS256")
    attacker = serialization.load_pem_private_key(attacker_pem, password=None)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(attacker.public_key()))  # type: ignore[arg-type]
    # the attacker embeds its own public key in the header: it must not be used
    forged = jwt.encode(
        _claims(server, room["roomId"]), attacker_pem, algorithm="RS256", headers={"jwk": jwk}
    )
    await _refused(http, server, forged)
    # a validly formed ES256 token means nothing to an RS256 server
    es = jwt.encode(_claims(server, room["roomId"]), generate_private_key_pem("ES256"), "ES256")
    assert "not accepted" in await _refused(http, server, es)
    # nor does a PS256 token signed with some RSA key
    ps = jwt.encode(_claims(server, room["roomId"]), attacker_pem, algorithm="PS256")
    assert "not accepted" in await _refused(http, server, ps)


async def test_wrong_issuer_or_audience_is_refused(
    server: SignalingServer, http: aiohttp.ClientSession, room: dict[str, Any], rsa_pem: bytes
) -> None:
    for override in ({"iss": "someone-else"}, {"aud": "another-service"}):
        token = jwt.encode(_claims(server, room["roomId"], **override), rsa_pem, "RS256")
        await _refused(http, server, token)


async def test_connection_limit(make_server: ServerFactory, http: aiohttp.ClientSession) -> None:
    server = await make_server(max_connections=1)
    room = await create_room(http, server.http_url, "alice")
    first = await SignalClient.connect(http, server.ws_url, room["accessToken"])
    second = await SignalClient.connect(http, server.ws_url, room["accessToken"])
    assert (await second.expect("error"))["code"] == "server-full"
    assert await second.close_code() == 1013
    assert (await first.join(room["roomId"], "alice"))["type"] == "room-state"
