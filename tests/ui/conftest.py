"""Window tests: a real QApplication with vispy on PySide6, under Xvfb (pytest-xvfb)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from holocall_desktop.ui.settings import AppSettings


@pytest.fixture
def settings(tmp_path: Path, qapp: object) -> AppSettings:
    import vispy

    vispy.use(app="pyside6")
    return AppSettings(QSettings(str(tmp_path / "holocall.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def make_window(settings: AppSettings, qtbot: object) -> Iterator[object]:
    from holocall_desktop.ui.main_window import MainWindow

    windows: list[MainWindow] = []

    def make(source: str | None = None, **kwargs: object) -> MainWindow:
        window = MainWindow(settings=settings, source=source, scene_size=(480, 320), **kwargs)  # type: ignore[arg-type]
        qtbot.addWidget(window)  # type: ignore[attr-defined]
        window.show()
        windows.append(window)
        return window

    yield make
    for w in windows:
        w.close()
