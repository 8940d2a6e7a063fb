"""Dark and light: the window follows the system's colour scheme, or ``HOLOCALL_THEME``
(``dark``, ``light``, ``system``); the call bar's icons take the theme's text colour.

With ``system`` (the default) Qt's own palette of the platform stays (Qt 6.5 and later give
Windows, macOS and the GNOME/KDE portals' dark scheme); ``dark`` and ``light`` set the Fusion
style with a palette of ours, the same on every platform (and what the screenshot tests use).
"""

from __future__ import annotations

import functools
import os

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

from holocall_desktop.resources import assets_dir

THEMES = ("system", "dark", "light")
#: the red of *Leave call*, and the text on it
LEAVE_RED = "#d93025"

_DARK = {
    QPalette.ColorRole.Window: "#202124",
    QPalette.ColorRole.WindowText: "#e8eaed",
    QPalette.ColorRole.Base: "#2b2c30",
    QPalette.ColorRole.AlternateBase: "#303134",
    QPalette.ColorRole.Text: "#e8eaed",
    QPalette.ColorRole.Button: "#303134",
    QPalette.ColorRole.ButtonText: "#e8eaed",
    QPalette.ColorRole.Highlight: "#8ab4f8",
    QPalette.ColorRole.HighlightedText: "#202124",
    QPalette.ColorRole.ToolTipBase: "#3c4043",
    QPalette.ColorRole.ToolTipText: "#e8eaed",
    QPalette.ColorRole.PlaceholderText: "#9aa0a6",
}
_LIGHT = {
    QPalette.ColorRole.Window: "#f1f3f4",
    QPalette.ColorRole.WindowText: "#202124",
    QPalette.ColorRole.Base: "#ffffff",
    QPalette.ColorRole.AlternateBase: "#f8f9fa",
    QPalette.ColorRole.Text: "#202124",
    QPalette.ColorRole.Button: "#ffffff",
    QPalette.ColorRole.ButtonText: "#202124",
    QPalette.ColorRole.Highlight: "#1a73e8",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.ToolTipBase: "#ffffff",
    QPalette.ColorRole.ToolTipText: "#202124",
    QPalette.ColorRole.PlaceholderText: "#80868b",
}


def chosen_theme() -> str:
    """``HOLOCALL_THEME`` when it names a theme, else ``system``."""
    value = os.environ.get("HOLOCALL_THEME", "system").strip().lower()
    return value if value in THEMES else "system"


def apply_theme(app: QApplication, theme: str | None = None) -> str:
    """Set ``theme`` (default :func:`chosen_theme`) on ``app``; returns the one applied."""
    theme = theme or chosen_theme()
    if theme == "system":
        return theme
    app.setStyle("Fusion")
    palette = QPalette()
    for role, colour in (_DARK if theme == "dark" else _LIGHT).items():
        palette.setColor(role, QColor(colour))
    disabled = QColor("#6f7378" if theme == "dark" else "#a0a4a8")
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    app.setPalette(palette)
    return theme


def _svg(name: str) -> str:
    return (assets_dir() / "icons" / f"{name}.svg").read_text(encoding="utf-8")


@functools.cache
def icon(name: str, colour: str, size: int = 48) -> QIcon:
    """The call-bar icon ``name`` (``assets/icons/NAME.svg``) drawn in ``colour``."""
    renderer = QSvgRenderer(QByteArray(_svg(name).replace("currentColor", colour).encode()))
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return QIcon(pixmap)
