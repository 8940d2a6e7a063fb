"""The chat side panel: the call's messages with names and times, and a line to write one.

A view of the room model's chat (:class:`~holocall_desktop.session.room.ChatPosted`). Text is
always inserted as text (``QTextCursor.insertText``), never as HTML, so a message holding markup
shows its characters. What the user writes goes through the current call session's
:meth:`~holocall_desktop.session.call.CallSession.say`; a message that cannot go (no call, too
long) is kept in the line and the reason shown under the messages.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtGui import QColor, QFont, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QAbstractButton,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from holocall_desktop.codec.control import MAX_CHAT_CHARS
from holocall_desktop.session.call import CallSession
from holocall_desktop.session.room import (
    CallStateChanged,
    ChatLine,
    ChatPosted,
    RoomEvent,
    RoomModel,
)
from holocall_desktop.transport.api import CallState
from holocall_desktop.ui.widgets import side_dock


class ChatPanel(QWidget):
    """Messages above, the line to write below (Enter or *Send* sends)."""

    def __init__(
        self,
        room: RoomModel,
        session: Callable[[], CallSession | None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._session = session
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.log = QTextEdit()
        self.log.setReadOnly(True)
        self.log.setAcceptRichText(False)
        layout.addWidget(self.log, 1)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #e57373;")
        self.error.setWordWrap(True)
        self.error.hide()
        layout.addWidget(self.error)
        row = QHBoxLayout()
        self.entry = QLineEdit()
        self.entry.setMaxLength(MAX_CHAT_CHARS)
        self.entry.setPlaceholderText("Message everyone")
        self.entry.returnPressed.connect(self.send)
        self.send_button = QPushButton("Send")
        self.send_button.clicked.connect(self.send)
        row.addWidget(self.entry, 1)
        row.addWidget(self.send_button)
        layout.addLayout(row)
        self.lines: list[ChatLine] = []
        self.unread = 0
        self.on_unread: Callable[[int], None] = lambda _n: None
        for line in room.chat:
            self._append(line)
        room.subscribe(self._on_event)

    def send(self) -> None:
        text = self.entry.text()
        if not text.strip():
            return
        try:
            call = self._session()
            if call is None:
                raise ValueError("you are not in a call")
            call.say(text)
        except ValueError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        self.error.hide()
        self.entry.clear()

    def seen(self) -> None:
        """The user looked at the panel: nothing unread."""
        self.unread = 0
        self.on_unread(0)

    def _on_event(self, event: RoomEvent) -> None:
        if isinstance(event, CallStateChanged) and event.state is CallState.CONNECTING:
            self.log.clear()  # a new call, a new chat
            self.lines.clear()
            self.seen()
        elif isinstance(event, ChatPosted):
            self._append(event.line)
            if not event.line.mine and not self.isVisible():  # hidden: count it
                self.unread += 1
                self.on_unread(self.unread)

    def _append(self, line: ChatLine) -> None:
        self.lines.append(line)
        cursor = self.log.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        if not self.log.document().isEmpty():
            cursor.insertBlock()
        head = QTextCharFormat()
        head.setFontWeight(QFont.Weight.Bold)
        head.setForeground(QColor("#4fc3f7" if line.mine else "#ffb74d"))
        stamp = time.strftime("%H:%M", time.localtime(line.sent_time))
        cursor.insertText(f"{line.name}  {stamp}\n", head)
        cursor.insertText(line.text, QTextCharFormat())  # as text: markup stays characters
        self.log.setTextCursor(cursor)
        self.log.ensureCursorVisible()


def add_chat_dock(
    window: QMainWindow,
    room: RoomModel,
    button: QAbstractButton,
    session: Callable[[], CallSession | None],
) -> ChatPanel:
    """The chat panel in a dock on the right of ``window``, hidden until ``button`` (the call
    bar's *Chat*) shows it; while hidden, the button counts the messages that came."""
    panel = ChatPanel(room, session)
    dock = side_dock(window, "Chat", panel, True)
    button.toggled.connect(dock.setVisible)
    dock.visibilityChanged.connect(lambda shown: panel.seen() if shown else None)
    dock.visibilityChanged.connect(button.setChecked)

    def unread(n: int) -> None:
        button.setText(f"Chat ({n})" if n else "Chat")

    panel.on_unread = unread
    return panel
