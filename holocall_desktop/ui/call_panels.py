"""Call side panels: the participant list with connection quality, and live statistics plots.

Both are views of the room model: they subscribe to it (:meth:`bind`) and keep no state of
their own about who is in the call.
"""

from __future__ import annotations

import time
from collections import deque

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from holocall_desktop.session.call import CallSession
from holocall_desktop.session.room import (
    NetworkNotice,
    ParticipantAdded,
    ParticipantChanged,
    ParticipantRemoved,
    RoomEvent,
    RoomModel,
    StatsUpdated,
)
from holocall_desktop.transport.api import MediaMode, PeerConnection, PeerStats
from holocall_desktop.transport.ladder import describe_rung

HISTORY_S = 60.0
PALETTE = ("#4fc3f7", "#ffb74d", "#81c784", "#e57373", "#ba68c8")


NETWORK_COLOURS = {"excellent": "#81c784", "good": "#ffb74d", "poor": "#e57373"}


def quality_of(stats: PeerStats | None, connection: PeerConnection) -> tuple[str, str]:
    """A meeting-app style verdict (label, colour): the engine's network quality to that
    participant (``PeerStats.network``: loss both ways, round trip, jitter, the rung our
    hologram to them is down to) with its reason."""
    if connection is PeerConnection.FAILED:
        return "lost", "#e57373"
    if connection is not PeerConnection.CONNECTED or stats is None:
        return "connecting", "#9e9e9e"
    colour = NETWORK_COLOURS.get(stats.network)
    if colour is None:
        return "measuring", "#9e9e9e"
    label = stats.network.capitalize()
    return (f"{label} ({stats.network_reason})" if stats.network_reason else label), colour


def sending_text(room: RoomModel) -> str:
    """What our hologram goes out at: the rung of the quality ladder, per participant when
    they differ (``"you send: medium (Medium) 1.2 Mbit/s"``)."""
    rungs = {s.user_id: (s.send_rung, s.send_rung_kbps) for s in room.stats if s.send_rung}
    if not rungs:
        return ""
    if len(set(rungs.values())) == 1:
        return "you send: " + describe_rung(*next(iter(rungs.values())))
    people = room.participants
    return "you send: " + ", ".join(
        f"{people[u].name if u in people else u} {describe_rung(*r)}"
        for u, r in sorted(rungs.items())
    )


def call_status(call: CallSession | None, room: RoomModel) -> str:
    """The status bar's call part: people, join time, the worst latency."""
    if call is None or not call.active:
        return ""
    people = len(room) + 1
    parts = [f"In call · {people} {'person' if people == 1 else 'people'}"]
    join = call.join_time()
    if join is not None:
        parts.append(f"joined in {join:.1f} s")
    latencies = [s.latency_ms for s in room.stats if s.latency_ms is not None]
    if latencies:
        parts.append(f"latency {max(latencies):.0f} ms")
    sending = sending_text(room)
    if sending:
        parts.append(sending)
    return " · ".join(parts) + "   |   "


class ParticipantsPanel(QWidget):
    """Everyone in the call: name, what they send (hologram/avatar), connection quality."""

    def __init__(self, room: RoomModel | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        # the network took our hologram to someone down to the avatar or voice only, or gave
        # it back
        self.notice = QLabel("")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color: #ffb74d; padding: 2px;")
        self.notice.hide()
        self._hologram_off: set[str] = set()
        self._notice_timer = QTimer(self)
        self._notice_timer.setSingleShot(True)
        self._notice_timer.timeout.connect(self._notice_expired)
        layout.addWidget(self.notice)
        self.list = QListWidget()
        layout.addWidget(self.list)
        self.room: RoomModel | None = None
        volume_row = QHBoxLayout()
        volume_row.addWidget(QLabel("Volume"))
        self.volume = QSlider(Qt.Orientation.Horizontal)
        self.volume.setRange(0, 200)  # percent
        self.volume.setValue(100)
        self.volume.setEnabled(False)
        self.volume.setToolTip("Volume of the selected participant")
        volume_row.addWidget(self.volume, 1)
        layout.addLayout(volume_row)
        self.list.currentItemChanged.connect(
            lambda *_: self.volume.setEnabled(self.selected() is not None)
        )
        if room is not None:
            self.bind(room)

    def selected(self) -> str | None:
        item = self.list.currentItem()
        return None if item is None else str(item.data(Qt.ItemDataRole.UserRole))

    def bind(self, room: RoomModel) -> None:
        """Show ``room`` from now on."""
        self.room = room
        room.subscribe(self._on_event)
        self._refresh()

    def _on_event(self, event: RoomEvent) -> None:
        if isinstance(
            event, ParticipantAdded | ParticipantChanged | ParticipantRemoved | StatsUpdated
        ):
            self._refresh()
        if isinstance(event, NetworkNotice):
            self._show_notice(event)
        elif isinstance(event, ParticipantRemoved):
            self._hologram_off.discard(event.participant.user_id)
            if not self._hologram_off and not self._notice_timer.isActive():
                self.notice.hide()

    def _show_notice(self, event: NetworkNotice) -> None:
        """An avatar or voice-only notice stays while it holds; "sees your hologram again"
        stays 8 s."""
        if event.down:
            self._hologram_off.add(event.user_id)
            self._notice_timer.stop()
        else:
            self._hologram_off.discard(event.user_id)
            self._notice_timer.start(8000)
        self.notice.setText("⚠ " + event.message if event.down else event.message)
        self.notice.show()

    def _notice_expired(self) -> None:
        if self._hologram_off:
            return
        self.notice.hide()

    def text_of(self, user_id: str) -> str:
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(Qt.ItemDataRole.UserRole) == user_id:
                return item.text()
        return ""

    def _refresh(self) -> None:
        current = self.selected()
        self.list.blockSignals(True)
        self.list.clear()
        room = self.room
        people = room.participants if room is not None else {}
        for uid, info in sorted(people.items(), key=lambda kv: kv[1].seat):
            stats = room.stats_of(uid) if room is not None else None
            verdict, colour = quality_of(stats, info.connection)
            mode = {
                MediaMode.VOLUMETRIC: "hologram",
                MediaMode.AVATAR: "avatar",
                MediaMode.NONE: "camera off",
                MediaMode.VIDEO: "video",
            }[info.mode]
            detail = ""
            if stats is not None and stats.rtt_ms is not None:
                detail = f" · {stats.rtt_ms:.0f} ms"
            talking = "  🔊" if info.speaking else ""
            rec = "  ● REC" if info.recording else ""  # they record the call
            item = QListWidgetItem(f"● {info.name}{talking}{rec}\n    {mode} · {verdict}{detail}")
            item.setData(Qt.ItemDataRole.UserRole, uid)
            item.setForeground(QColor(colour))
            if talking:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.list.addItem(item)
            if uid == current:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)


class StatsPanel(QWidget):
    """Live plots over the last minute, one curve per remote participant."""

    METRICS: tuple[tuple[str, str, str], ...] = (
        ("bitrate_in_kbps", "Bitrate in", "kbit/s"),
        ("rtt_ms", "Round trip", "ms"),
        ("loss", "Loss", "%"),
        ("fps_in", "Frame rate in", "fps"),
        ("latency_ms", "Glass-to-glass latency", "ms"),
        ("estimate_kbps", "Bandwidth estimate (our hologram to them)", "kbit/s"),
    )

    def __init__(self, room: RoomModel | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        if room is not None:
            room.subscribe(self._on_event)
        pg.setConfigOptions(antialias=True, background="#12141b", foreground="#c8ccd8")
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 4, 4, 4)
        self.plots: dict[str, pg.PlotWidget] = {}
        for i, (key, title, unit) in enumerate(self.METRICS):
            plot = pg.PlotWidget(title=title)
            plot.setLabel("left", unit)
            plot.setLabel("bottom", "s")
            plot.setMinimumHeight(110)
            plot.showGrid(x=True, y=True, alpha=0.2)
            grid.addWidget(plot, i // 2, i % 2)
            self.plots[key] = plot
        self.summary = QLabel("")
        grid.addWidget(self.summary, 3, 0, 1, 2)
        self._t0 = time.monotonic()
        self._series: dict[tuple[str, str], deque[tuple[float, float]]] = {}
        self._curves: dict[tuple[str, str], pg.PlotDataItem] = {}
        self._colours: dict[str, str] = {}

    def bind(self, room: RoomModel) -> None:
        """Plot ``room``'s stats from now on."""
        room.subscribe(self._on_event)

    def _on_event(self, event: RoomEvent) -> None:
        if isinstance(event, StatsUpdated):
            self.add_sample(event.stats)
        elif isinstance(event, ParticipantRemoved):
            self.remove(event.participant.user_id)

    def add_sample(self, stats: list[PeerStats], now: float | None = None) -> None:
        t = (time.monotonic() if now is None else now) - self._t0
        for s in stats:
            colour = self._colours.setdefault(s.user_id, PALETTE[len(self._colours) % len(PALETTE)])
            for key, _title, _unit in self.METRICS:
                value = getattr(s, key)
                if value is None:
                    continue
                if key == "loss":
                    value = 100.0 * value
                series = self._series.setdefault((s.user_id, key), deque())
                series.append((t, float(value)))
                while series and t - series[0][0] > HISTORY_S:
                    series.popleft()
                curve = self._curves.get((s.user_id, key))
                if curve is None:
                    curve = self.plots[key].plot(pen=pg.mkPen(colour, width=2), name=s.user_id)
                    self._curves[(s.user_id, key)] = curve
                xs, ys = zip(*series, strict=True)
                curve.setData(list(xs), list(ys))

    def series(self, user_id: str, key: str) -> list[tuple[float, float]]:
        return list(self._series.get((user_id, key), ()))

    def remove(self, user_id: str) -> None:
        for key, _t, _u in self.METRICS:
            curve = self._curves.pop((user_id, key), None)
            if curve is not None:
                self.plots[key].removeItem(curve)
            self._series.pop((user_id, key), None)

    def set_summary(self, text: str) -> None:
        self.summary.setText(text)
