"""Another app's window for the window-sharing tests: ``python pattern_window.py TITLE
RRGGBB WIDTH HEIGHT [SECONDS]`` shows a window of that colour and title, moves it once after 2 s
(a share must follow it), and stays until killed (or SECONDS pass)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from holocall_desktop.capture.window_screen import WindowChoice, list_windows


def main(title: str, colour: str, width: int, height: int, seconds: float) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QWidget

    app = QApplication([])
    window = QWidget()
    window.setWindowTitle(title)
    window.setStyleSheet(f"background: #{colour}")
    window.setFixedSize(width, height)
    window.move(40, 30)
    window.show()
    QTimer.singleShot(2000, lambda: window.move(400, 300))
    QTimer.singleShot(int(seconds * 1000), app.quit)
    return app.exec()


@contextmanager
def pattern_window(
    title: str, colour: str = "ff00ff", size: tuple[int, int] = (320, 200), seconds: float = 120
) -> Iterator[tuple[subprocess.Popen[bytes], WindowChoice]]:
    """The window shown by another process, once it can be listed; killed afterwards."""
    proc = subprocess.Popen(
        [sys.executable, __file__, title, colour, str(size[0]), str(size[1]), str(seconds)]
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = [w for w in list_windows() if w.title == title]
            if found:
                yield proc, found[0]
                return
            assert proc.poll() is None, "the pattern window's process ended"
            time.sleep(0.2)
        raise AssertionError(f"the window {title!r} was never listed")
    finally:
        proc.kill()
        proc.wait(10)


if __name__ == "__main__":
    a = sys.argv[1:]
    sys.exit(main(a[0], a[1], int(a[2]), int(a[3]), float(a[4]) if len(a) > 4 else 600))
