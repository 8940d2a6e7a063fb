"""The play bar of a recording, wired to the source running in local media.

Playback commands run on the capture thread (the only thread that touches a source) through
the source runner; loop and speed are remembered in the settings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from holocall_desktop.capture.base import FrameSource, PlaybackControl
from holocall_desktop.session.media import LocalMedia
from holocall_desktop.ui.settings import AppSettings
from holocall_desktop.ui.widgets import PlaybackBar


class PlaybackControls:
    def __init__(self, bar: PlaybackBar, media: LocalMedia, settings: AppSettings) -> None:
        self.bar = bar
        self.media = media
        self.settings = settings
        bar.hide()
        bar.play_toggled.connect(lambda on: self._run(lambda s: s.resume() if on else s.pause()))
        bar.step_requested.connect(lambda: self._run(lambda s: s.step()))
        bar.seek_requested.connect(lambda t: self._run(lambda s: s.seek(t)))
        bar.loop_toggled.connect(lambda on: self._remember("loop", on))
        bar.speed_changed.connect(lambda speed: self._remember("speed", speed))

    def opened(self, source: FrameSource, spec: str) -> None:
        """A new source: the bar shows for recordings, with the saved loop and speed."""
        is_recording = isinstance(source, PlaybackControl)
        self.bar.setVisible(is_recording)
        if isinstance(source, PlaybackControl):
            self.settings.recent_recording = spec
            source.speed = self.settings.speed
            self.bar.set_options(self.settings.loop, self.settings.speed)
            self.bar.play_button.setChecked(True)
            self.bar.set_duration(0.0)

    def first_frame(self) -> None:
        playback = self.media.playback
        if playback is not None:
            self.bar.set_duration(playback.duration)

    def tick(self) -> None:
        playback = self.media.playback
        if playback is not None:
            self.bar.set_position(playback.position)

    def _run(self, command: Callable[[PlaybackControl], None]) -> None:
        runner = self.media.runner
        if runner is not None and self.media.playback is not None:
            runner.call(lambda source: command(cast(PlaybackControl, source)))

    def _remember(self, name: str, value: object) -> None:
        setattr(self.settings, name, value)
        self._run(lambda source: setattr(source, name, value))
