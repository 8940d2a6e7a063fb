"""The pieces behind ``holocall demo``: a signaling server and a simulated remote participant.

Everything runs in this process on loopback, with no camera and no network: the server on its
own asyncio thread, the simulated participant ("Ava") as a headless participant streaming the
synthetic person (another seed, so she looks different from you) into a room she created. The
window then joins that room with the invite, like any guest would. No Qt here: the window only
gets a :class:`~holocall_desktop.transport.api.CallConfig`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any, Protocol

from holocall_desktop.server.app import SignalingServer
from holocall_desktop.server.config import ServerConfig
from holocall_desktop.session.headless import HeadlessParticipant
from holocall_desktop.transport.api import CallConfig
from holocall_desktop.transport.engine import EngineOptions
from holocall_desktop.transport.invite import parse_invite

log = logging.getLogger(__name__)


#: what the simulated participant writes in the chat when you join
GREETING = "Hi, I'm Ava, a simulated participant. The chat works: write me something!"


class DemoError(RuntimeError):
    """The demo could not start; the message is one line for the user."""


class DemoBackend:
    def __init__(
        self,
        remote_name: str = "Ava (simulated)",
        remote_source: str = "synthetic:1",
        startup_timeout: float = 20.0,
        preload: int = 60,
        voice: bool = True,
    ) -> None:
        """``preload``: the simulated participant renders this many frames once and loops them
        (2 s at 30 fps), so the demo's CPU goes to the call, not to ray casting a mannequin."""
        self.preload = preload
        self.voice = voice
        self.remote_name = remote_name
        self.remote_source = remote_source
        self.startup_timeout = startup_timeout
        self.server: SignalingServer | None = None
        self.remote: HeadlessParticipant | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self, local_user_id: str, local_name: str) -> CallConfig:
        """Start the server and the simulated participant; the config for you to join with."""
        self._start_server()
        assert self.server is not None
        server_url = self.server.http_url
        remote = HeadlessParticipant(
            CallConfig(
                server=server_url,
                user_id="ava-simulated",
                display_name=self.remote_name,
                create_room=True,
            ),
            self.remote_source,
            preload=self.preload,
            emit=_quiet,
            local_audio=_simulated_voice() if self.voice else None,
            say=[GREETING],
            # Ava runs in your app's process: your own window's drawing would make her ask you
            # for less, as a busy device would; a real participant's device is their own
            options=EngineOptions(ask_for_less=False),
        )
        self.remote = remote
        remote.start()
        deadline = time.monotonic() + self.startup_timeout
        while remote.invite_link is None:
            if remote.error or time.monotonic() > deadline:
                reason = remote.error or remote.engine.state_message or "timed out"
                raise DemoError(f"the simulated participant could not create the room: {reason}")
            time.sleep(0.02)
        invite = parse_invite(remote.invite_link)
        return CallConfig(
            server=invite.server,
            user_id=local_user_id,
            display_name=local_name,
            room_id=invite.room_id,
            invite_secret=invite.invite_secret,
        )

    def _start_server(self) -> None:
        config = ServerConfig(
            host="127.0.0.1",
            port=0,
            stun_urls=(),  # loopback only: no STUN server to ask
            connection_cooldown=0.0,
        )
        self.server = SignalingServer(config)
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="demo-server", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.server.start(), loop).result(10.0)
        except Exception as exc:
            raise DemoError(f"the demo's signaling server did not start: {exc}") from exc

    def stop(self, timeout: float = 5.0) -> None:
        if self.remote is not None:
            self.remote.stop(timeout)
            self.remote = None
        loop, server = self._loop, self.server
        if loop is not None and server is not None:
            try:
                asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout)
            except Exception:
                log.debug("stopping the demo server failed", exc_info=True)
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(timeout)
            loop.close()
        self._loop = None
        self.server = None


def _simulated_voice() -> Any:
    """Ava's voice: a synthesised talker (source-filter model, female pitch), 8 s on a loop."""
    from holocall_desktop.audio.synth import voice
    from holocall_desktop.audio.tracks import LoopingSamplesTrack

    return LoopingSamplesTrack(voice(8.0, f0=200.0, seed=1, level_dbfs=-22.0))


def _quiet(_line: dict[str, Any]) -> None:
    """The simulated participant's JSON lines are not shown in the demo."""


class _Emitter(Protocol):
    def emit(self, value: Any) -> None: ...


def start_demo_backend(
    backend: DemoBackend, settings: Any, ready: _Emitter, error: _Emitter
) -> None:
    """Start ``backend`` on a helper thread for the user of ``settings`` (their id and name);
    ``ready.emit(config)`` with the call to join, or ``error.emit(message)``."""
    name, user_id = settings.display_name or "You", settings.user_id

    def work() -> None:
        try:
            ready.emit(backend.start(user_id, name))
        except DemoError as exc:
            error.emit(str(exc))

    threading.Thread(target=work, name="demo-start", daemon=True).start()
