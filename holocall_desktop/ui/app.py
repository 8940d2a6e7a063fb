"""Starting the Qt application: one QApplication, vispy on the PySide6 backend, the main window."""

from __future__ import annotations

import logging
import signal
import sys
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QApplication

from holocall_desktop.errors import CliError
from holocall_desktop.transport.api import CallConfig
from holocall_desktop.ui.settings import APP, ORG


def ensure_app() -> QApplication:
    import vispy

    vispy.use(app="pyside6")
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setOrganizationName(ORG)
        app.setApplicationName(APP)
        from holocall_desktop.ui.theme import apply_theme

        apply_theme(app)  # dark or light: HOLOCALL_THEME, else the system's
    assert isinstance(app, QApplication)
    return app


def ensure_opengl_app() -> QApplication:
    """:func:`ensure_app`, then ``CliError`` (one line) without a usable OpenGL."""
    app = ensure_app()
    from holocall_desktop.ui.glcheck import OpenGLUnavailable, probe_opengl

    try:
        probe_opengl()
    except OpenGLUnavailable as exc:
        raise CliError(str(exc)) from None
    return app


def save_screenshot(pixmap: QPixmap, path: Path) -> None:
    """A scripted run's screenshot, and one line saying where it went (or that it could not)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not pixmap.save(str(path)):
        print(f"holocall: error: could not write {path}", file=sys.stderr)
    else:
        print(f"holocall: screenshot saved to {path}")


def run_window(
    source: str | None,
    remove_background: bool | None = None,
    screenshot: Path | None = None,
    frames: int | None = None,
    seconds: float | None = None,
    demo: bool = False,
    join: CallConfig | None = None,
) -> int:
    """Open the main window on ``source`` and run until it is closed.

    ``screenshot``/``frames``/``seconds`` make it scriptable: after ``frames`` frames were drawn
    (or ``seconds`` passed) it saves a screenshot of the window (when asked) and exits.
    With ``demo``, a local signaling server and a simulated participant start and the window
    joins their call; ``frames`` then counts frames of the remote participant.
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = ensure_opengl_app()
    from holocall_desktop.ui.main_window import MainWindow

    window = MainWindow(source=source, remove_background=remove_background)
    from holocall_desktop.ui.open_events import OpenRequests

    app.installEventFilter(OpenRequests(window))  # links and files macOS hands to the app
    window.show()
    if demo:
        from holocall_desktop.demo import DemoBackend

        window.start_demo(DemoBackend())
    if join is not None:
        settings = window.settings
        window.join_call(
            replace(
                join,
                user_id=join.user_id or settings.user_id,
                display_name=join.display_name or settings.display_name or "Me",
            )
        )
    # Ctrl+C in the terminal closes the window properly (recordings are closed, settings saved)
    signal.signal(signal.SIGINT, lambda *_: window.close())
    heartbeat = QTimer()
    heartbeat.start(200)  # lets Python run its signal handlers while Qt's loop spins
    heartbeat.timeout.connect(lambda: None)

    done = False
    failed = ""

    def finish() -> None:
        nonlocal done
        if done:
            return
        done = True
        if screenshot is not None:
            save_screenshot(window.screenshot(), screenshot)
        window.close()

    scripted = frames is not None or seconds is not None or screenshot is not None
    if scripted:
        # a scripted run never waits for frames that cannot come: an error ends it (exit 1,
        # the screenshot shows the banner), and so does a recording that ended

        def error(message: str) -> None:
            nonlocal failed
            if not failed:
                failed = message
                print(f"holocall: error: {message}", file=sys.stderr)
            QTimer.singleShot(300, finish)

        window.error_shown.connect(error)
        window.source_ended.connect(
            lambda: None if demo or join is not None else QTimer.singleShot(300, finish)
        )
        if window.banner.message:  # the source failed while the window opened
            error(window.banner.message)
    if frames is not None:

        def enough(_n: int) -> None:
            if demo or join is not None:
                call = window.call
                shown = sum(call.frames_shown.values()) if call is not None else 0
                if shown >= frames and not window.scene.animate(0.0):
                    QTimer.singleShot(100, finish)
            elif window.frames_drawn >= frames:
                QTimer.singleShot(100, finish)

        window.frame_drawn.connect(enough)
    if seconds is not None:
        QTimer.singleShot(int(seconds * 1000), finish)
    app.exec()
    return 1 if failed else 0
