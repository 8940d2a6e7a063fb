"""The window's screen sharing: *Share screen* in the call bar, shared screens in the room and
popped out into a window of their own.

:class:`ScreenShareControls` follows the room model. *Share screen* shares a monitor or another
app's window (asking which when there is a choice); while it runs the button reads *Stop
sharing* and the status bar says what is shared; a share that fails (the display went away,
the window closed) stops with its reason in the banner. Someone else's share appears on the
panel behind the table (``render/screen_panel.py``) and *Pop out* shows it in a
:class:`ScreenWindow`, scaled to fit. Leaving the call stops our share and closes the pop-out.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QPixmap, QResizeEvent
from PySide6.QtWidgets import QInputDialog, QLabel, QStatusBar, QVBoxLayout, QWidget

from holocall_desktop.capture.screen import ScreenError, list_screens, open_screen
from holocall_desktop.capture.window_screen import list_windows
from holocall_desktop.render.room_view import RoomView
from holocall_desktop.session.call import CallSession
from holocall_desktop.session.room import CallStateChanged, RoomEvent, RoomModel, SharingChanged
from holocall_desktop.transport.api import CallState
from holocall_desktop.ui.call_bar import CallBar
from holocall_desktop.ui.widgets import to_pixmap

#: how often the window takes new pictures of shared screens (they come at up to 10 a second)
POLL_MS = 50


class Window(Protocol):
    """What these controls use of the main window."""

    call: CallSession | None
    call_bar: CallBar
    room: RoomModel
    view: RoomView

    def statusBar(self) -> QStatusBar: ...

    def show_error(self, message: str) -> None: ...


class ScreenWindow(QWidget):
    """A shared screen in a window of its own, scaled to fit with its aspect kept."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)  # its own window, closed with the app's
        self.setWindowTitle("Shared screen — HoloCall")
        self.picture = QLabel("Waiting for the screen…")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setMinimumSize(320, 180)
        self.picture.setStyleSheet("background: black; color: #bbb")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.picture)
        self.resize(960, 540)
        self._pixmap: QPixmap | None = None

    def set_title(self, title: str) -> None:
        self.setWindowTitle(f"{title} — HoloCall")

    def set_picture(self, image: npt.NDArray[np.uint8]) -> None:
        self._pixmap = to_pixmap(image)
        self._fit()

    def _fit(self) -> None:
        if self._pixmap is not None:
            self.picture.setPixmap(
                self._pixmap.scaled(
                    self.picture.size(),
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()


class ScreenShareControls(QObject):
    def __init__(self, window: Window) -> None:
        super().__init__(window if isinstance(window, QObject) else None)
        self.window = window
        self.button = window.call_bar.share_button
        self.popout_button = window.call_bar.popout_button
        self.popout: ScreenWindow | None = None
        self.label = QLabel("")
        window.statusBar().addPermanentWidget(self.label)
        self.button.toggled.connect(self._toggled)
        self.popout_button.clicked.connect(self.pop_out)
        window.room.subscribe(self._on_event)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)
        self._timer.start()

    # ---- our share ---------------------------------------------------------------------------

    def share(self, spec: str) -> bool:
        """Share ``spec`` (``screen``, ``screen:N`` or a video file) with the call; False, with
        the reason in the banner, when it cannot be."""
        call = self.window.call
        if call is None or not call.active:
            return False
        try:
            source = open_screen(spec)
        except ScreenError as exc:
            self.window.show_error(str(exc))
            self._sync()
            return False
        call.share_screen(source)
        return True

    def stop(self) -> None:
        if self.window.call is not None:
            self.window.call.share_screen(None)

    def _toggled(self, on: bool) -> None:
        if not on:
            self.stop()
            return
        spec = self._choose()
        if spec is None or not self.share(spec):
            self._sync()

    def choices(self) -> dict[str, str]:
        """What can be shared: each monitor, then each window of other apps (X11), by label,
        with what :func:`open_screen` opens it by."""
        screens = list_screens()
        found = {name: f"screen:{i}" for i, name in enumerate(screens, 1)}
        found.update((w.label, w.spec) for w in list_windows())
        return found

    def _choose(self) -> str | None:
        """What to share (asked only when there is a choice); None: cancelled."""
        try:
            choices = self.choices()
        except ScreenError as exc:
            self.window.show_error(str(exc))
            return None
        if len(choices) <= 1:
            return "screen"
        parent = self.window if isinstance(self.window, QWidget) else None
        names = list(choices)
        name, ok = QInputDialog.getItem(parent, "Share", "What to share?", names, 0, False)
        return choices[name] if ok and name in choices else None

    def _sync(self) -> None:
        mine = self.window.room.my_screen
        self.button.blockSignals(True)
        self.button.setChecked(mine is not None)
        self.button.blockSignals(False)
        self.button.setText("Stop sharing" if mine is not None else "Share screen")
        self.label.setText(f"● Sharing {mine.title}" if mine is not None else "")

    # ---- the others' shares ------------------------------------------------------------------

    def _on_event(self, event: RoomEvent) -> None:
        if isinstance(event, SharingChanged):
            self._sync()
            if event.error is not None:
                self.window.show_error(f"Screen sharing stopped: {event.error}")
        elif isinstance(event, CallStateChanged) and event.state in (
            CallState.LEFT,
            CallState.FAILED,
        ):
            self._sync()
            if self.popout is not None:
                self.popout.close()
        panel = self.window.view.screen
        self.window.call_bar.set_shown(self.popout_button, panel.sharer is not None)
        if self.popout is not None and panel.sharer is not None:
            self.popout.set_title(panel.label.text)

    def pop_out(self) -> ScreenWindow:
        """The shared screen in a window of its own."""
        if self.popout is None:
            parent = self.window if isinstance(self.window, QWidget) else None
            self.popout = ScreenWindow(parent)
        self.popout.set_title(self.window.view.screen.label.text or "Shared screen")
        self.popout.show()
        self.popout.raise_()
        return self.popout

    def _poll(self) -> None:
        call = self.window.call
        if call is None:
            return
        pictures = call.take_screens()
        if not pictures:
            return
        self.window.view.show_screens(pictures)
        popout = self.popout
        if popout is not None and popout.isVisible():
            for picture in pictures:
                if picture.user_id == self.window.view.screen.sharer:
                    popout.set_picture(picture.image)

    def close(self) -> None:
        self._timer.stop()
        if self.popout is not None:
            self.popout.close()
