"""Time-limited TURN credentials (coturn ``use-auth-secret`` REST API) and ICE server lists."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from holocall_desktop.server.config import ServerConfig


def turn_credentials(
    secret: str, user_id: str, ttl: float, now: float | None = None
) -> tuple[str, str]:
    """``(username, credential)``: username ``expiry:userId``, credential base64(HMAC-SHA1).

    coturn with ``use-auth-secret`` and ``static-auth-secret=SECRET`` accepts these until the
    Unix time ``expiry`` has passed.
    """
    now = time.time() if now is None else now
    username = f"{int(now + ttl)}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def ice_servers(config: ServerConfig, user_id: str, now: float | None = None) -> list[Any]:
    """``iceServers`` for ``RTCPeerConnection``: STUN entries, then TURN with credentials."""
    servers: list[Any] = []
    if config.stun_urls:
        servers.append({"urls": list(config.stun_urls)})
    if config.turn_urls and config.turn_secret:
        username, credential = turn_credentials(
            config.turn_secret, user_id, config.turn_ttl, now=now
        )
        servers.append(
            {
                "urls": list(config.turn_urls),
                "username": username,
                "credential": credential,
                "credentialType": "password",
            }
        )
    return servers
