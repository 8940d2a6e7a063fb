"""Typed access to the settings HoloCall keeps between runs (QSettings)."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict

from PySide6.QtCore import QSettings

from holocall_desktop.capture.filters import FilterSettings
from holocall_desktop.ui.depth_settings import DepthSettings

ORG = "HoloCall"
APP = "HoloCall Desktop"


#: an INI file to keep the settings in instead of the system's usual place (tests, tools, a
#: second profile): one run's choices then never change another's
SETTINGS_ENV = "HOLOCALL_SETTINGS"


class AppSettings:
    def __init__(self, settings: QSettings | None = None) -> None:
        path = os.environ.get(SETTINGS_ENV)
        if settings is None and path:
            settings = QSettings(path, QSettings.Format.IniFormat)
        self._s = settings or QSettings(ORG, APP)

    def _get(self, key: str, default: object, kind: type) -> object:
        value = self._s.value(key, default)
        try:
            if kind is bool and isinstance(value, str):
                return value.lower() in ("1", "true", "yes")
            return kind(value)
        except (TypeError, ValueError):
            return default

    @property
    def source(self) -> str:
        return str(self._get("capture/source", "", str))

    @source.setter
    def source(self, value: str) -> None:
        self._s.setValue("capture/source", value)

    @property
    def recent_recording(self) -> str:
        return str(self._get("capture/recent_recording", "", str))

    @recent_recording.setter
    def recent_recording(self, value: str) -> None:
        self._s.setValue("capture/recent_recording", value)

    @property
    def loop(self) -> bool:
        return bool(self._get("playback/loop", True, bool))

    @loop.setter
    def loop(self, value: bool) -> None:
        self._s.setValue("playback/loop", bool(value))

    @property
    def speed(self) -> float:
        return float(self._get("playback/speed", 1.0, float))  # type: ignore[arg-type]

    @speed.setter
    def speed(self, value: float) -> None:
        self._s.setValue("playback/speed", float(value))

    @property
    def remove_background(self) -> bool:
        return bool(self._get("processing/remove_background", True, bool))

    @remove_background.setter
    def remove_background(self, value: bool) -> None:
        self._s.setValue("processing/remove_background", bool(value))

    @property
    def depth(self) -> DepthSettings:
        """Camera mode, filters and background range; defaults when missing or unreadable."""
        raw = self._s.value("capture/depth_settings", "")
        try:
            data = json.loads(str(raw))
            return DepthSettings(
                camera_mode=tuple(int(v) for v in data["camera_mode"]),  # type: ignore[arg-type]
                filters=FilterSettings(**data["filters"]),
                background_near=float(data["background_near"]),
                background_far=float(data["background_far"]),
                largest_component=bool(data["largest_component"]),
            )
        except (ValueError, KeyError, TypeError):
            return DepthSettings()

    @depth.setter
    def depth(self, value: DepthSettings) -> None:
        self._s.setValue("capture/depth_settings", json.dumps(asdict(value)))

    @property
    def user_id(self) -> str:
        """This installation's id in calls (made once, then kept)."""
        value = str(self._get("call/user_id", "", str))
        if not value:
            value = "u-" + secrets.token_hex(6)
            self._s.setValue("call/user_id", value)
        return value

    @property
    def display_name(self) -> str:
        return str(self._get("call/display_name", "", str))

    @display_name.setter
    def display_name(self, value: str) -> None:
        self._s.setValue("call/display_name", value)

    @property
    def recordings_dir(self) -> str:
        """Where *Record* puts recorded calls ("" = the videos folder's HoloCall folder)."""
        return str(self._get("call/recordings_dir", "", str))

    @recordings_dir.setter
    def recordings_dir(self, value: str) -> None:
        self._s.setValue("call/recordings_dir", value)

    @property
    def microphone(self) -> str:
        """Microphone name ("" = the system default)."""
        return str(self._get("audio/microphone", "", str))

    @microphone.setter
    def microphone(self, value: str) -> None:
        self._s.setValue("audio/microphone", value)

    @property
    def speaker(self) -> str:
        """Speaker name ("" = the system default)."""
        return str(self._get("audio/speaker", "", str))

    @speaker.setter
    def speaker(self, value: str) -> None:
        self._s.setValue("audio/speaker", value)

    @property
    def call_server(self) -> str:
        return str(self._get("call/server", "http://127.0.0.1:3000", str))

    @call_server.setter
    def call_server(self, value: str) -> None:
        self._s.setValue("call/server", value)

    @property
    def geometry(self) -> bytes:
        value = self._s.value("window/geometry", b"")
        return bytes(value) if value else b""  # type: ignore[call-overload]

    @geometry.setter
    def geometry(self, value: bytes) -> None:
        self._s.setValue("window/geometry", value)

    def sync(self) -> None:
        self._s.sync()
