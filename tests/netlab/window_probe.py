"""The app's window as a participant, for the network tests: run in a network namespace, it
joins the call of an invite link and prints, once a second as a JSON line, what its participant
list and status bar say (``python window_probe.py LINK SECONDS``)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path


def main(link: str, seconds: float) -> int:
    import vispy
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    vispy.use(app="pyside6")
    app = QApplication([])
    from holocall_desktop.transport.api import CallConfig
    from holocall_desktop.transport.invite import parse_invite
    from holocall_desktop.ui.main_window import MainWindow
    from holocall_desktop.ui.settings import AppSettings

    with tempfile.TemporaryDirectory(prefix="holocall-probe-") as tmp:
        ini = str(Path(tmp) / "holocall.ini")
        settings = AppSettings(QSettings(ini, QSettings.Format.IniFormat))
        window = MainWindow(settings=settings, source=None, scene_size=(320, 240))
        window.show()
        invite = parse_invite(link)
        config = CallConfig(
            server=invite.server,
            user_id="Carol",
            display_name="Carol",
            room_id=invite.room_id,
            invite_secret=invite.invite_secret,
        )
        if not window.join_call(config):
            return 1

        def report() -> None:
            panel = window.participants_panel
            texts = {uid: panel.text_of(uid) for uid in window.room.participants}
            line = {"event": "panel", "texts": texts, "status": window.stats_label.text()}
            print(json.dumps(line), flush=True)

        timer = QTimer()
        timer.timeout.connect(report)
        timer.start(1000)
        QTimer.singleShot(int(seconds * 1000), app.quit)
        app.exec()
        window.leave_call()
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], float(sys.argv[2])))
