"""Links and documents the system hands to the running app: on macOS, an invite link clicked in
a browser or a recording opened from Finder arrives as a ``QFileOpenEvent``, not as an argument
(Linux and Windows start ``holocall LINK`` / ``holocall FILE``, see ``cli.route``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QFileOpenEvent

from holocall_desktop.capture.recording_index import SUFFIXES as RECORDING_SUFFIXES
from holocall_desktop.transport.api import CallConfig
from holocall_desktop.transport.invite import InviteError, parse_invite

if TYPE_CHECKING:
    from holocall_desktop.ui.main_window import MainWindow

SCHEMES = ("holocall", "holocalls")


class OpenRequests(QObject):
    """An application event filter: joins the call of an opened link, plays an opened
    recording, and tells the user in the window's banner when it cannot."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.FileOpen or not isinstance(event, QFileOpenEvent):
            return False
        url = event.url()
        self.open(url.toString() if url.scheme().lower() in SCHEMES else event.file())
        return True

    def open(self, target: str) -> bool:
        """Join ``target`` (an invite link) or play it (a recording); False when it is neither
        or unusable, with the reason in the banner."""
        window = self.window
        if target.lower().startswith(tuple(f"{s}://" for s in SCHEMES)):
            try:
                invite = parse_invite(target)
            except InviteError as exc:
                window.show_error(str(exc))
                return False
            settings = window.settings
            return window.join_call(
                CallConfig(
                    server=invite.server,
                    user_id=settings.user_id,
                    display_name=settings.display_name or "Me",
                    room_id=invite.room_id,
                    invite_secret=invite.invite_secret,
                )
            )
        if target.lower().endswith(RECORDING_SUFFIXES):
            return window.open_source(target)
        window.show_error(f"HoloCall cannot open {target}: not an invite link or a recording")
        return False
