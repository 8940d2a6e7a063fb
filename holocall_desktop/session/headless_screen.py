"""Screen sharing (and camera videos) for the headless participant: ``--share-video FILE`` (or
``--share-screen``) shares once joined; screens shared with it are counted, reported and their
latest pictures saved.

Lines it adds to the participant's JSON output:

- ``{"event":"sharing","state":"started","title":…,"width":…,"height":…,"fps":…}``, ``"stopped"``,
  or ``"failed"`` with ``"error"`` (our share);
- ``{"event":"screen","userId":…,"sharing":true,"title":…,"width":…,"height":…,"fps":…}`` when a
  participant starts or stops sharing (``"sharing":false``);
- in the summary, ``"screens": {user id: {"pictures": n, "width": w, "height": h}}`` (the last
  picture's size); with a save folder each sharer's last picture is ``screen_<user id>.png``.

The plain camera videos of participants that send one (a browser's webcam) are counted the
same way: ``"videos"`` in the stats lines and the summary, ``video_<user id>.png``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from holocall_desktop.session.call import CallSession
from holocall_desktop.session.room import (
    ParticipantAdded,
    ParticipantChanged,
    RoomEvent,
    SharingChanged,
)
from holocall_desktop.transport.api import ScreenInfo
from holocall_desktop.transport.screen import ScreenSource


def _info_json(info: ScreenInfo) -> dict[str, Any]:
    return {"title": info.title, "width": info.width, "height": info.height, "fps": info.fps}


class Pictures:
    """Pictures counted per participant, with the last one kept (any thread)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.counts: dict[str, int] = {}
        self._last: dict[str, npt.NDArray[np.uint8]] = {}
        self._lock = threading.Lock()

    def add(self, user_id: str, image: npt.NDArray[np.uint8]) -> None:
        with self._lock:
            self.counts[user_id] = self.counts.get(user_id, 0) + 1
            self._last[user_id] = image

    def summary(self) -> dict[str, Any]:
        """``{user id: {"pictures": n, "width": w, "height": h}}`` (the last picture's size)."""
        with self._lock:
            return {
                uid: {"pictures": n, "width": last.shape[1], "height": last.shape[0]}
                for uid, n in self.counts.items()
                for last in (self._last[uid],)
            }

    def last(self, user_id: str) -> npt.NDArray[np.uint8] | None:
        with self._lock:
            return self._last.get(user_id)

    def save(self, folder: Path) -> None:
        with self._lock:
            last = dict(self._last)
        for uid, image in last.items():
            Image.fromarray(image).save(folder / f"{self.prefix}_{uid}.png")


class HeadlessScreens:
    def __init__(
        self,
        session: CallSession,
        emit: Callable[[dict[str, Any]], None],
        share: ScreenSource | None = None,
        save_dir: Path | None = None,
    ) -> None:
        self.session = session
        self._emit = emit
        self._share = share
        self.save_dir = save_dir
        self.error: str | None = None  # our share failed
        self.screens = Pictures("screen")
        self.videos = Pictures("video")  # plain camera videos (browsers' webcams)

    def joined(self) -> None:
        """The call is joined: share what was given (once)."""
        share, self._share = self._share, None
        if share is not None:
            self.session.share_screen(share)

    def on_event(self, event: RoomEvent) -> None:
        """The room's thread."""
        if isinstance(event, SharingChanged):
            if event.screen is not None:
                self._emit({"event": "sharing", "state": "started", **_info_json(event.screen)})
            elif event.error is not None:
                self.error = f"screen share: {event.error}"
                self._emit({"event": "sharing", "state": "failed", "error": event.error})
            else:
                self._emit({"event": "sharing", "state": "stopped"})
        elif isinstance(event, ParticipantAdded | ParticipantChanged):
            p = event.participant
            before = event.previous.screen if isinstance(event, ParticipantChanged) else None
            if p.screen != before:
                line: dict[str, Any] = {"event": "screen", "userId": p.user_id}
                line["sharing"] = p.screen is not None
                self._emit(line | (_info_json(p.screen) if p.screen is not None else {}))

    def poll(self) -> None:
        """Take the new pictures of the screens shared with us and of the participants' plain
        camera videos (any one thread)."""
        for picture in self.session.take_screens():
            self.screens.add(picture.user_id, picture.image)
        for video in self.session.take_videos():
            self.videos.add(video.user_id, video.image)

    def report(self) -> dict[str, Any]:
        """``screens``: the pictures of shared screens (and the last one's size) per
        participant; ``videos``: those of plain camera videos (browsers' webcams)."""
        return {"screens": self.screens.summary(), "videos": self.videos.summary()}

    def save(self) -> None:
        """Each sharer's last picture as ``screen_<user id>.png`` in the save folder, each
        camera video's as ``video_<user id>.png``."""
        if self.save_dir is not None:
            self.screens.save(self.save_dir)
            self.videos.save(self.save_dir)

    def close(self) -> None:
        """The call is over: a source never shared is closed."""
        share, self._share = self._share, None
        if share is not None:
            share.close()
