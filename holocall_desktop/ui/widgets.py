"""Small widgets of the main window: the error banner, the playback bar, the frame-rate meter,
and the window screenshot."""

from __future__ import annotations

import time
from collections import deque

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QGuiApplication, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSlider,
    QToolButton,
    QWidget,
)

from holocall_desktop.render.scene import HoloScene

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0)


class ErrorBanner(QWidget):
    """A red strip at the top of the window with a one-line message and a close button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorBanner")
        self.setStyleSheet("#errorBanner { background: #8b1e1e; } QLabel { color: white; }")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 4, 4)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self.hide()

    def show_message(self, message: str) -> None:
        self.label.setText(message)
        self.show()

    @property
    def message(self) -> str:
        return self.label.text() if self.isVisible() else ""


class PlaybackBar(QWidget):
    """Play/pause, step, seek slider, position, loop and speed for a recording."""

    play_toggled = Signal(bool)  # True = playing
    step_requested = Signal()
    seek_requested = Signal(float)  # seconds
    loop_toggled = Signal(bool)
    speed_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        self.play_button = QPushButton("Pause")
        self.play_button.setCheckable(True)
        self.play_button.setChecked(True)
        self.play_button.toggled.connect(self._on_play)
        self.step_button = QPushButton("Step")
        self.step_button.setToolTip("Next frame (while paused)")
        self.step_button.setEnabled(False)
        self.step_button.clicked.connect(self.step_requested)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.sliderReleased.connect(
            lambda: self.seek_requested.emit(self.slider.value() / 1000.0)
        )
        self.position_label = QLabel("0:00.0 / 0:00.0")
        self.loop_box = QCheckBox("Loop")
        self.loop_box.toggled.connect(self.loop_toggled)
        self.speed_box = QComboBox()
        for s in SPEEDS:
            self.speed_box.addItem(f"{s:g}×", s)
        self.speed_box.setCurrentIndex(SPEEDS.index(1.0))
        self.speed_box.currentIndexChanged.connect(lambda i: self.speed_changed.emit(SPEEDS[i]))
        layout.addWidget(self.play_button)
        layout.addWidget(self.step_button)
        layout.addWidget(self.slider, 1)
        widgets: tuple[QWidget, ...] = (self.position_label, self.loop_box, QLabel("Speed"))
        for widget in (*widgets, self.speed_box):
            layout.addWidget(widget)

    def _on_play(self, playing: bool) -> None:
        self.play_button.setText("Pause" if playing else "Play")
        self.step_button.setEnabled(not playing)
        self.play_toggled.emit(playing)

    def set_duration(self, seconds: float) -> None:
        self.slider.setRange(0, max(0, round(seconds * 1000)))
        self._duration = seconds

    def set_position(self, seconds: float) -> None:
        if not self.slider.isSliderDown():
            self.slider.setValue(round(seconds * 1000))
        self.position_label.setText(
            f"{_clock(seconds)} / {_clock(getattr(self, '_duration', 0.0))}"
        )

    def set_options(self, loop: bool, speed: float) -> None:
        self.loop_box.setChecked(loop)
        nearest = min(range(len(SPEEDS)), key=lambda i: abs(SPEEDS[i] - speed))
        self.speed_box.setCurrentIndex(nearest)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(max(0.0, seconds), 60.0)
    return f"{int(minutes)}:{secs:04.1f}"


class RateMeter:
    """Frames per second and mean frame time over a sliding window of recent frames."""

    def __init__(self, window: float = 1.0) -> None:
        self.window = window
        self._stamps: deque[float] = deque()
        self._durations: deque[float] = deque(maxlen=120)
        self._began = 0.0

    def begin(self, _event: object = None) -> None:
        """A frame starts drawing (a vispy draw-event callback)."""
        self._began = time.perf_counter()

    def end(self) -> None:
        """The frame begun last finished drawing."""
        self.tick(time.perf_counter() - self._began)

    def tick(self, duration: float | None = None, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._stamps.append(now)
        while self._stamps and now - self._stamps[0] > self.window:
            self._stamps.popleft()
        if duration is not None:
            self._durations.append(duration)

    @property
    def fps(self) -> float:
        if len(self._stamps) < 2:
            return 0.0
        span = self._stamps[-1] - self._stamps[0]
        return (len(self._stamps) - 1) / span if span > 0 else 0.0

    @property
    def frame_ms(self) -> float:
        if not self._durations:
            return 0.0
        return 1000.0 * sum(self._durations) / len(self._durations)


def composite_screenshot(window: QWidget, scene: HoloScene) -> QPixmap:
    """``window`` as the user sees it: the GL canvas rendered offscreen and drawn into a grab
    of the widgets (a plain grab leaves the canvas black under Xvfb)."""
    pixmap = window.grab()
    widget = scene.canvas.native
    image = np.ascontiguousarray(scene.render()[..., :3])
    h, w = image.shape[:2]
    qimage = QImage(image.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    painter = QPainter(pixmap)
    painter.drawImage(QRect(widget.mapTo(window, QPoint(0, 0)), widget.size()), qimage)
    painter.end()
    return pixmap


def side_dock(window: QMainWindow, title: str, widget: QWidget, right: bool) -> QDockWidget:
    """``widget`` in a hidden dock of ``window``, on the right (``right``) or at the bottom."""
    dock = QDockWidget(title, window)
    dock.setObjectName(title)
    dock.setWidget(widget)
    areas = Qt.DockWidgetArea
    window.addDockWidget(areas.RightDockWidgetArea if right else areas.BottomDockWidgetArea, dock)
    dock.hide()
    return dock


def fitting_size(window: QWidget, scene: tuple[int, int] | None = None) -> QSize:
    """A new window's size: around the ``scene`` size asked for (and the bars), or else most of
    the screen it opens on (80 %, at most 1600 × 1000, at least 800 × 560)."""
    if scene is not None:
        return QSize(scene[0], scene[1] + 150)
    screen = window.screen() or QGuiApplication.primaryScreen()
    area = screen.availableGeometry().size() if screen is not None else QSize(1280, 800)
    width = max(800, min(1600, int(area.width() * 0.8)))
    height = max(560, min(1000, int(area.height() * 0.8)))
    return QSize(min(width, area.width()), min(height, area.height()))


def to_pixmap(image: npt.NDArray[np.uint8]) -> QPixmap:
    """A QPixmap of an RGB ``uint8 (H, W, 3)`` picture."""
    picture = np.ascontiguousarray(image)
    h, w = picture.shape[:2]
    qimage = QImage(picture.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(qimage.copy())  # the copy owns its pixels
