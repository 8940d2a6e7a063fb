"""The mesh topology's room bookkeeping, with real aiortc peer connections and no network."""

from __future__ import annotations

import concurrent.futures
from typing import Any

from holocall_desktop.transport.mesh import MeshTopology
from holocall_desktop.transport.peer import LocalInfo


class Events:
    def __init__(self) -> None:
        self.left: list[tuple[str, str]] = []
        self.changed: list[str] = []

    def participant_changed(self, info: Any) -> None:
        self.changed.append(info.user_id)

    def participant_left(self, user_id: str, reason: str) -> None:
        self.left.append((user_id, reason))

    def frame_received(self, remote: Any) -> None: ...

    def avatar_received(self, remote: Any) -> None: ...

    def anchor_received(self, remote: Any) -> None: ...

    def audio_received(self, user_id: str, track: Any) -> None: ...


async def test_the_servers_reason_is_reported_even_after_the_connection_dropped() -> None:
    events = Events()
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> bool:
        sent.append(message)
        return True

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        mesh = MeshTopology(
            "host", LocalInfo("Host", "volumetric-dc"), events, send, list, pool,
            max_peers=2, video=False,
        )  # fmt: skip
        await mesh.handle({"type": "user-joined", "userId": "g1", "seat": 1})
        assert sent and sent[0]["type"] == "offer" and "g1" in mesh.peers
        # g1's connection closes first (its app failed on being kicked)...
        await mesh.drop("g1", "connection closed")
        # ...then the server says why it left
        await mesh.handle({"type": "user-left", "userId": "g1", "reason": "kicked"})
        assert events.left == [("g1", "connection closed"), ("g1", "kicked")]
        # someone the room never had is not reported
        await mesh.handle({"type": "user-left", "userId": "stranger", "reason": "left"})
        assert events.left[-1] == ("g1", "kicked")
        await mesh.close("done")
