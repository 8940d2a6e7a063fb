"""Fixtures: a real signaling server on a free loopback port, an HTTP session, tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from holocall_desktop.server.app import SignalingServer
from holocall_desktop.server.auth import generate_private_key_pem
from holocall_desktop.server.config import ServerConfig

ADMIN = "test-admin-token-0123456789"


@pytest.fixture(scope="session")
def rsa_pem() -> bytes:
    return generate_private_key_pem("RS256")


@pytest.fixture
def base_config(rsa_pem: bytes) -> ServerConfig:
    return ServerConfig(
        host="127.0.0.1",
        port=0,
        jwt_private_key_pem=rsa_pem,
        admin_token=ADMIN,
        connection_cooldown=0.0,
        reconnect_grace=0.0,
        stun_urls=("stun:stun.example.test:3478",),
        shutdown_grace=0.5,
    )


ServerFactory = Callable[..., Awaitable[SignalingServer]]


@pytest.fixture
async def make_server(base_config: ServerConfig) -> AsyncIterator[ServerFactory]:
    started: list[SignalingServer] = []

    async def factory(**changes: Any) -> SignalingServer:
        server = SignalingServer(base_config.replace(**changes))
        await server.start()
        started.append(server)
        return server

    yield factory
    for server in started:
        await server.stop()


@pytest.fixture
async def server(make_server: ServerFactory) -> SignalingServer:
    return await make_server()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
