"""In-process call engines for tests: a listener that records everything, and helpers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from holocall_desktop.transport.api import (
    CallConfig,
    CallState,
    ChatMessage,
    ParticipantInfo,
    PeerConnection,
    PeerStats,
    ScreenInfo,
)
from holocall_desktop.transport.engine import CallEngine, EngineOptions

T = TypeVar("T")


class Recorder:
    """A CallListener that records every call (they arrive on the network thread)."""

    def __init__(self) -> None:
        self.states: list[tuple[CallState, str]] = []
        self.infos: list[ParticipantInfo] = []
        self.left: list[tuple[str, str]] = []
        self.stats: list[list[PeerStats]] = []
        self.chats: list[ChatMessage] = []
        self.sharing: list[tuple[ScreenInfo | None, str | None]] = []
        self.cond = threading.Condition()

    def on_state(self, state: CallState, message: str) -> None:
        with self.cond:
            self.states.append((state, message))
            self.cond.notify_all()

    def on_participant(self, info: ParticipantInfo) -> None:
        with self.cond:
            self.infos.append(info)
            self.cond.notify_all()

    def on_participant_left(self, user_id: str, reason: str) -> None:
        with self.cond:
            self.left.append((user_id, reason))
            self.cond.notify_all()

    def on_stats(self, stats: list[PeerStats]) -> None:
        with self.cond:
            self.stats.append(stats)
            self.cond.notify_all()

    def on_chat(self, message: ChatMessage) -> None:
        with self.cond:
            self.chats.append(message)
            self.cond.notify_all()

    def on_sharing(self, info: ScreenInfo | None, error: str | None) -> None:
        with self.cond:
            self.sharing.append((info, error))
            self.cond.notify_all()

    def wait(self, predicate: Callable[[], T], timeout: float, what: str) -> T:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"timed out waiting for {what}; states {self.states[-4:]}, left {self.left}"
                    )
                self.cond.wait(min(left, 0.1))

    def wait_state(self, state: CallState, timeout: float = 15.0, since: int = 0) -> str:
        """The message of the first ``state`` reported at index ``since`` or later."""
        found = self.wait(
            lambda: [m for s, m in self.states[since:] if s == state], timeout, f"state {state}"
        )
        return found[0]

    def wait_connected(self, user_id: str, timeout: float = 15.0) -> ParticipantInfo:
        return self.wait(
            lambda: next(
                (
                    i
                    for i in reversed(self.infos)
                    if i.user_id == user_id and i.connection == PeerConnection.CONNECTED
                ),
                None,
            ),
            timeout,
            f"{user_id} connected",
        )


FAST = EngineOptions(stats_interval=0.5, ping_interval=0.25, peer_timeout=3.0)


@contextmanager
def engine(
    config: CallConfig, options: EngineOptions | None = None, **kwargs: Any
) -> Iterator[tuple[CallEngine, Recorder]]:
    rec = Recorder()
    eng = CallEngine(config, rec, options=options or FAST, **kwargs)
    eng.start()
    try:
        yield eng, rec
    finally:
        eng.close(10)


def host_config(server: str, user: str = "host", **kw: Any) -> CallConfig:
    return CallConfig(
        server=server, user_id=user, display_name=user.title(), create_room=True, **kw
    )


def guest_config(host: CallEngine, server: str, user: str, **kw: Any) -> CallConfig:
    assert host.room_id and host.invite_secret
    return CallConfig(
        server=server,
        user_id=user,
        display_name=user.title(),
        room_id=host.room_id,
        invite_secret=host.invite_secret,
        **kw,
    )
