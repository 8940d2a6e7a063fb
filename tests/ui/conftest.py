"""Window tests: a real QApplication with vispy on PySide6, under Xvfb (pytest-xvfb)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from holocall_desktop.audio.virtual import VirtualSoundServer, VirtualSoundServerError
from holocall_desktop.demo import DemoBackend
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


@pytest.fixture
def demo() -> Iterator[DemoBackend]:
    """The demo's server and simulated participant (Ava), stopped after the test."""
    backend = DemoBackend(startup_timeout=30.0)
    yield backend
    backend.stop()


@pytest.fixture(scope="module")
def sound(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtualSoundServer]:
    """A virtual sound server (PulseAudio with a null sink) for the module's tests."""
    server = VirtualSoundServer(("holocall_ui",), Path(tmp_path_factory.mktemp("pulse")))
    try:
        server.start()
    except VirtualSoundServerError as exc:
        pytest.fail(f"no virtual sound device: {exc}")
    try:
        yield server
    finally:
        server.stop()
