"""The call bar at the bottom of the window, as in the meeting apps: icon buttons with their
names under them and tooltips with their keyboard shortcuts; *Leave call* in red.

Layout only: the window and its controls wire the buttons to the session. Each button keeps
its name as text (what the tests and screen readers read); the icons (``assets/icons``) take
the theme's text colour and follow it when the palette changes.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QAction, QKeySequence, QPalette, QShortcut
from PySide6.QtWidgets import (
    QLabel,
    QProgressBar,
    QToolBar,
    QToolButton,
    QWidget,
)

from holocall_desktop.ui.theme import LEAVE_RED, icon

#: keyboard shortcuts (Microsoft Teams' where it has one)
SHORTCUTS = {
    "mute": "Ctrl+Shift+M",
    "camera": "Ctrl+Shift+O",
    "leave": "Ctrl+Shift+H",
    "share": "Ctrl+Shift+E",
    "chat": "Ctrl+Shift+C",
}
_LEAVE_STYLE = (
    f"QToolButton {{ background: {LEAVE_RED}; color: white; border-radius: 6px; "
    "padding: 2px 8px; }"
)


def _button(text: str, tip: str, checkable: bool = False) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tip)
    button.setCheckable(checkable)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
    button.setAutoRaise(True)
    return button


class CallBar(QToolBar):
    """Join/leave, microphone, camera, audio devices, invite link, statistics, chat, screen
    share, recording."""

    def __init__(self) -> None:
        super().__init__("Call")
        self.setObjectName("call-bar")
        self.setMovable(False)
        self.setIconSize(QSize(24, 24))
        self._actions: dict[QWidget, QAction] = {}
        self._icons: dict[QToolButton, str] = {}
        keys = SHORTCUTS
        self.join_button = _button("Join call…", "Join a call with an invite link, or start one")
        self.mute_button = _button("Mute", f"Mute your microphone ({keys['mute']})", True)
        self.mute_button.setEnabled(False)
        self.camera_button = _button(
            "Camera on", f"Stop or start sending your picture ({keys['camera']})", True
        )
        self.camera_button.setChecked(True)
        self.level_meter = QProgressBar()
        self.level_meter.setRange(0, 60)  # -60..0 dBFS
        self.level_meter.setTextVisible(False)
        self.level_meter.setFixedWidth(70)
        self.level_meter.setToolTip("Your microphone level")
        self.audio_button = _button("Audio", "Microphone, speakers and echo cancellation")
        self.invite_button = _button("Invite", "Copy the link others join with")
        self.stats_button = _button(
            "Stats", "Statistics: bitrate, round trip, loss, frame rate and latency", True
        )
        self.chat_button = _button(
            "Chat", f"Messages to everyone in the call ({keys['chat']})", True
        )
        self.share_button = _button(
            "Share screen", f"Show your screen to everyone in the call ({keys['share']})", True
        )
        self.popout_button = _button("Pop out", "Show the shared screen in a window of its own")
        self.record_button = _button(
            "Record",
            "Record the call to a file: everyone is asked, and only what each allows is kept",
            True,
        )
        self.consent_button = _button(
            "Consent", "Change what recordings of this call may keep of you"
        )
        self.voice_label = QLabel("")  # the window shows it in its status bar
        self._icons = {
            self.join_button: "join",
            self.mute_button: "mic",
            self.camera_button: "camera",
            self.audio_button: "audio",
            self.invite_button: "invite",
            self.stats_button: "stats",
            self.chat_button: "chat",
            self.share_button: "share",
            self.popout_button: "popout",
            self.record_button: "record",
            self.consent_button: "consent",
        }
        for w in (
            self.mute_button,
            self.level_meter,
            self.camera_button,
            self.share_button,
            self.popout_button,
            self.chat_button,
            self.record_button,
            self.consent_button,
            self.stats_button,
            self.invite_button,
            self.audio_button,
        ):
            self._actions[w] = self.addWidget(w)
        spacer = QWidget()
        spacer.setSizePolicy(
            spacer.sizePolicy().Policy.Expanding, spacer.sizePolicy().Policy.Preferred
        )
        self.addWidget(spacer)
        self._actions[self.join_button] = self.addWidget(self.join_button)
        self.set_shown(self.popout_button, False)  # shown while someone shares with us
        self.set_shown(self.consent_button, False)  # shown while someone records
        self.camera_button.toggled.connect(self._camera_toggled)
        self.mute_button.toggled.connect(self._mute_toggled)
        self._shortcuts = [
            self._shortcut(keys["mute"], self.mute_button),
            self._shortcut(keys["camera"], self.camera_button),
            self._shortcut(keys["share"], self.share_button),
            self._shortcut(keys["chat"], self.chat_button),
            self._shortcut(keys["leave"], self.join_button, only_in_call=True),
        ]
        self._in_call = False
        self._paint_icons()

    def _shortcut(self, keys: str, button: QToolButton, only_in_call: bool = False) -> QShortcut:
        shortcut = QShortcut(QKeySequence(keys), self)
        shortcut.setContext(Qt.ShortcutContext.WindowShortcut)

        def press() -> None:
            if button.isEnabled() and (self._in_call or not only_in_call):
                button.click()

        shortcut.activated.connect(press)
        return shortcut

    def _camera_toggled(self, on: bool) -> None:
        self.camera_button.setText("Camera on" if on else "Camera off")
        self._icons[self.camera_button] = "camera" if on else "camera-off"
        self._paint_icons()

    def _mute_toggled(self, muted: bool) -> None:
        self.mute_button.setText("Unmute" if muted else "Mute")
        self._icons[self.mute_button] = "mic-off" if muted else "mic"
        self._paint_icons()

    def _paint_icons(self) -> None:
        colour = self.palette().color(QPalette.ColorRole.ButtonText).name()
        for button, name in self._icons.items():
            button.setIcon(
                icon(name, "#ffffff" if button is self.join_button and self._in_call else colour)
            )

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._paint_icons()  # the theme changed: icons in its text colour

    def set_shown(self, widget: QWidget, on: bool) -> None:
        """Show or hide one of the bar's widgets (through its action: a toolbar shows the
        widget of a visible action again whatever the widget was told)."""
        self._actions[widget].setVisible(on)

    def is_shown(self, widget: QWidget) -> bool:
        """Whether the bar shows ``widget`` (in the bar, or in its overflow menu)."""
        return self._actions[widget].isVisible()

    def set_voice_status(self, message: str) -> None:
        self.voice_label.setText(message[:80] + ("…" if len(message) > 80 else ""))
        self.voice_label.setToolTip(message)

    def sync(self, active: bool, voice: bool, invite: bool) -> None:
        self._in_call = active
        join = self.join_button
        join.setText("Leave call" if active else "Join call…")
        join.setToolTip(
            f"Leave the call ({SHORTCUTS['leave']})"
            if active
            else "Join a call with an invite link, or start one"
        )
        join.setStyleSheet(_LEAVE_STYLE if active else "")
        self._icons[join] = "leave" if active else "join"
        self._paint_icons()
        self.camera_button.setEnabled(active)
        self.mute_button.setEnabled(active and voice)
        self.level_meter.setEnabled(active and voice)
        if not active:
            self.voice_label.setText("")
        self.invite_button.setEnabled(active and invite)
        self.record_button.setEnabled(active)
        self.share_button.setEnabled(active)
