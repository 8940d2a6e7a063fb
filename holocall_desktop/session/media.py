"""Local media: the source running, its processing, face tracking, and what is sent.

:class:`LocalMedia` is the one place that decides whether this participant appears as a
hologram, as an avatar or not at all (:attr:`LocalMedia.mode`), and the one place that feeds the
call (a :class:`MediaSink`, in practice a :class:`~holocall_desktop.session.call.CallSession`).
Capture runs on the source runner's thread and face tracking on its worker's; everything here is
called on one thread (the GUI timer or a headless loop): :meth:`LocalMedia.poll` takes the
newest frame, routes it, and returns what the preview should show.

The decision: camera off → nothing; an avatar asked for, or a source without depth (a webcam) →
avatar; otherwise the hologram. A source without depth turns the avatar on by itself and a
source with depth turns an automatic avatar off again; a manual choice stays.

While the hologram is sent, a receiver whose link carries only the quality ladder's avatar rung
(the sink's :meth:`MediaSink.wants_avatar`) gets our avatar instead: a second face tracker, the
*stand-in*, then runs on the hologram's colour images and its frames go to the sink as well; it
stops once nobody has wanted it for ``STANDIN_LINGER_S``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from holocall_desktop.avatar.model_files import FaceModelError
from holocall_desktop.avatar.tracker import FaceTrackingWorker, TrackingState
from holocall_desktop.capture.base import FrameSource, PlaybackControl
from holocall_desktop.capture.runner import Processor, SourceRunner
from holocall_desktop.model import DepthFrame
from holocall_desktop.model.avatar import AvatarFrame
from holocall_desktop.transport.api import MediaMode

log = logging.getLogger(__name__)


class MediaSink(Protocol):
    """Where local media goes (the call)."""

    def set_mode(self, mode: MediaMode) -> None: ...

    def send_frame(self, frame: DepthFrame, capture_time: float) -> None: ...

    def send_avatar(self, frame: AvatarFrame) -> None: ...

    def wants_avatar(self) -> bool:
        """While we send a hologram: someone's link carries only our avatar."""
        ...


@dataclass(frozen=True)
class LocalOutput:
    """What one :meth:`LocalMedia.poll` produced for the preview."""

    frame: DepthFrame | None = None  # a new captured frame (hologram preview)
    avatar: AvatarFrame | None = None  # a new tracked face (avatar preview)
    error: str | None = None  # face tracking stopped (one line for the user)
    face: TrackingState | None = None  # how face tracking goes (None: not tracking)


def decide_mode(camera_on: bool, avatar: bool) -> MediaMode:
    """What is sent: nothing with the camera off, else the avatar or the hologram."""
    if not camera_on:
        return MediaMode.NONE
    return MediaMode.AVATAR if avatar else MediaMode.VOLUMETRIC


TrackerFactory = Callable[[], FaceTrackingWorker]
#: the stand-in tracker stops after nobody wanted the avatar for this long
STANDIN_LINGER_S = 10.0


def default_tracker() -> FaceTrackingWorker:
    """MediaPipe's face landmarker on a worker thread (:class:`FaceModelError` if the model
    file is missing), with its hand landmarker when that model is installed (else the avatar
    goes without hands, said once in the log)."""
    from holocall_desktop.avatar.hands import HandTracker
    from holocall_desktop.avatar.tracker import FaceTracker

    face = FaceTracker()
    try:
        hands: HandTracker | None = HandTracker()
    except FaceModelError as exc:
        log.warning("%s", exc.user_message)
        hands = None
    return FaceTrackingWorker(face, hands=hands).start()


def standin_tracker() -> FaceTrackingWorker:
    """The face alone, for the stand-in avatar a hologram sender tracks beside the hologram
    (hands would double its cost there)."""
    from holocall_desktop.avatar.tracker import FaceTracker

    return FaceTrackingWorker(FaceTracker()).start()


class LocalMedia:
    def __init__(
        self,
        on_error: Callable[[str], None] | None = None,
        on_finished: Callable[[], None] | None = None,
        tracker: TrackerFactory = default_tracker,
        auto_avatar: bool = True,
    ) -> None:
        self._on_error = on_error or (lambda message: log.warning("%s", message))
        self._on_finished = on_finished or (lambda: None)
        self._tracker_factory = tracker
        # the stand-in tracks the face alone (a test's own factory serves for both)
        self._standin_factory = standin_tracker if tracker is default_tracker else tracker
        self.auto_avatar = auto_avatar  # a source without depth turns the avatar on
        self.runner: SourceRunner | None = None
        self.face: FaceTrackingWorker | None = None
        self.face_state: TrackingState | None = None
        self.camera_on = True
        self.avatar_automatic = False
        self.sink: MediaSink | None = None
        #: the face tracker for receivers on the avatar rung while we send a hologram
        self.standin: FaceTrackingWorker | None = None
        self._standin_wanted_at = 0.0
        self._standin_failed = False

    # ---- the source --------------------------------------------------------------------------

    @property
    def source(self) -> FrameSource | None:
        return self.runner.source if self.runner is not None else None

    @property
    def playback(self) -> PlaybackControl | None:
        source = self.source
        return source if isinstance(source, PlaybackControl) else None

    def run(self, source: FrameSource, processors: Sequence[Processor] = ()) -> None:
        """Start capturing from ``source`` (replacing any other). A source without depth turns
        the avatar on (raises ``FaceModelError`` if the face model is missing)."""
        self.stop()
        self.runner = SourceRunner(
            source,
            processors=list(processors),
            on_error=self._on_error,
            on_finished=self._on_finished,
        )
        self.runner.start()
        if not self.auto_avatar:
            return
        if not source.has_depth:
            self.set_avatar(True, automatic=True)
        elif self.avatar_automatic:
            self.set_avatar(False)

    def set_processors(self, processors: Sequence[Processor]) -> None:
        if self.runner is not None:
            self.runner.processors = list(processors)

    def stop(self) -> None:
        if self.runner is not None:
            self.runner.stop()
            self.runner = None

    # ---- what is sent ------------------------------------------------------------------------

    @property
    def avatar(self) -> bool:
        return self.face is not None

    @property
    def mode(self) -> MediaMode:
        return decide_mode(self.camera_on, self.avatar)

    def attach(self, sink: MediaSink | None) -> None:
        """Feed ``sink`` from now on (``None``: nothing is sent)."""
        self.sink = sink
        if sink is not None:
            sink.set_mode(self.mode)

    def set_camera(self, on: bool) -> None:
        self.camera_on = on
        self._tell_mode()

    def set_avatar(self, on: bool, automatic: bool = False) -> None:
        """Track the face in the source's colour images and appear as an avatar (True), or go
        back to the hologram. Raises ``FaceModelError`` (with a user message) when the face
        model is missing; nothing changes then."""
        self.avatar_automatic = automatic and on
        if on:
            self._stop_standin()  # everyone gets the avatar now
        if on and self.face is None:
            self.face = self._tracker_factory()
        elif not on and self.face is not None:
            worker, self.face = self.face, None
            threading.Thread(target=worker.stop, name="face-tracker-stop", daemon=True).start()
            self.face_state = None
        self._tell_mode()

    def _tell_mode(self) -> None:
        if self.sink is not None:
            self.sink.set_mode(self.mode)

    # ---- frames ------------------------------------------------------------------------------

    def poll(self, wait: float = 0.0) -> LocalOutput:
        """Take the newest captured frame (waiting up to ``wait`` s for one) and face result,
        feed the sink, report both."""
        frame = avatar = error = None
        if self.runner is not None:
            mailbox = self.runner.mailbox
            captured = mailbox.wait(wait) if wait > 0 else mailbox.take()
            if captured is not None:
                frame = captured.frame
                if self.face is not None:
                    self.face.submit_depth_frame(frame)
                elif self.sink is not None and self.camera_on:
                    self.sink.send_frame(frame, captured.wall_time)
                    standin = self._standin_for(self.sink.wants_avatar())
                    if standin is not None:
                        standin.submit_depth_frame(frame)
        self._poll_standin()
        face = self.face
        if face is not None:
            if face.error is not None:
                error = f"Face tracking stopped: {face.error}"
                self.set_avatar(False)
            else:
                result = face.results.take()
                if result is not None:
                    self.face_state = result.state
                    avatar = result.frame
                    if avatar is not None and self.sink is not None and self.camera_on:
                        self.sink.send_avatar(avatar)
        return LocalOutput(frame, avatar, error, self.face_state if self.face else None)

    # ---- the stand-in avatar ------------------------------------------------------------------

    def _standin_for(self, wanted: bool) -> FaceTrackingWorker | None:
        now = time.monotonic()
        if wanted:
            self._standin_wanted_at = now
            if self.standin is None and not self._standin_failed:
                try:
                    self.standin = self._standin_factory()
                except FaceModelError as exc:
                    self._standin_failed = True  # not again in this session
                    self._on_error(f"No avatar for slow links: {exc.user_message}")
        elif self.standin is not None and now - self._standin_wanted_at > STANDIN_LINGER_S:
            self._stop_standin()
        return self.standin

    def _poll_standin(self) -> None:
        standin = self.standin
        if standin is None:
            return
        if standin.error is not None:
            self._standin_failed = True
            self._on_error(f"No avatar for slow links: face tracking stopped: {standin.error}")
            self._stop_standin()
            return
        result = standin.results.take()
        if result is None or result.frame is None or self.face is not None:
            return
        if self.sink is not None and self.camera_on:
            self.sink.send_avatar(result.frame)

    def _stop_standin(self) -> None:
        worker, self.standin = self.standin, None
        if worker is not None:
            threading.Thread(target=worker.stop, name="face-tracker-stop", daemon=True).start()

    def close(self) -> None:
        worker, self.standin = self.standin, None
        if worker is not None:
            worker.stop()  # here, not on a thread: it must not outlive the process's shutdown
        self.stop()
        if self.face is not None:
            self.face.stop()
            self.face = None
