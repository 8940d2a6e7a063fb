"""A recorded call replayed in the window: the participants at their seats (pixels), the chat,
and the play bar (pause, step, seek, loop) driving the room. The call file is written with the
recorder's own writer from synthetic people encoded with the call codec."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtGui import QImage

from holocall_desktop.audio.virtual import VirtualSoundServer
from holocall_desktop.capture.synthetic import SyntheticPersonSource
from holocall_desktop.codec.base import Quality
from holocall_desktop.codec.volumetric import encode_payload
from holocall_desktop.processing.background import remove_background
from holocall_desktop.recording.callfile import CallWriter, voice_packet

pytestmark = pytest.mark.gui
FPS = 10.0
SECONDS = 3.0


def opus_tone(hz: float, seconds: float) -> list[bytes]:
    """A tone as 20 ms Opus packets (what a call's voice channel carries)."""
    import av

    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = 48000, "mono", "s16"
    encoder.open()
    packets: list[bytes] = []
    for i in range(int(seconds * 50)):
        t = (i * 960 + np.arange(960)) / 48000
        pcm = (0.4 * 32767 * np.sin(2 * np.pi * hz * t)).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate, frame.pts = 48000, i * 960
        packets += [bytes(p) for p in encoder.encode(frame)]
    return packets


def write_call(path: Path, voice: bool = False) -> None:
    """Ava (seed 1, red shirt) and Ben (seed 2) in a 3-second call recorded by "rec"; with
    ``voice``, Ava says a 440 Hz tone throughout."""
    writer = CallWriter(path, {"room": "r", "recorder": "rec", "recorderSeat": "0"})
    t0 = 1_800_000_000.0
    sources = {
        uid: SyntheticPersonSource(320, 180, fps=FPS, realtime=False, seed=seed)
        for uid, seed in (("ava", 1), ("ben", 2))
    }
    for uid, seat, name in (("ava", 1, "Ava"), ("ben", 2, "Ben")):
        writer.put_json(
            "room",
            {
                "event": "joined",
                "userId": uid,
                "name": name,
                "seat": seat,
                "mode": "volumetric",
                "allows": ["voice", "hologram"],
            },
            when=t0,
        )
    writer.put_json(
        "chat", {"userId": "ava", "name": "Ava", "text": "<b>hi</b>", "seq": 1, "sent": t0}, t0
    )
    if voice:
        for i, packet in enumerate(opus_tone(440.0, SECONDS)):
            writer.put("voice", "ava", voice_packet(i, i * 960, packet), t0 + 0.02 * i)
    for i in range(int(SECONDS * FPS)):
        for uid, source in sources.items():
            payload = encode_payload(remove_background(source.frame(i)), Quality())
            writer.put("hologram", uid, payload, t0 + 0.05 + i / FPS, {"codec": "volumetric-dc"})
    left = {"event": "left", "userId": "ben", "name": "Ben", "seat": 2, "reason": "left"}
    writer.put_json("room", left, t0 + SECONDS)
    writer.close()


def _red(image: np.ndarray) -> np.ndarray:
    rgb = image[..., :3].astype(int)
    return (rgb[..., 0] > 120) & (rgb[..., 0] > rgb[..., 1] + 60) & (rgb[..., 0] > rgb[..., 2] + 60)


def test_replay_command_shows_the_participants_at_their_seats(tmp_path: Path, xvfb: Any) -> None:
    path, shot = tmp_path / "call.rec", tmp_path / "replay.png"
    write_call(path)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "holocall_desktop",
            "replay",
            str(path),
            "--screenshot",
            str(shot),
            "--frames",
            "8",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    image = QImage(str(shot)).convertToFormat(QImage.Format.Format_RGB888)
    w, h = image.width(), image.height()
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(h, image.bytesPerLine())
    rgb = pixels[:, : w * 3].reshape(h, w, 3)
    red = _red(rgb)
    assert red.sum() > 300, "Ava's red shirt is not in the room"
    # in the room, not in a panel: the canvas is left of the docks
    assert float(np.median(np.nonzero(red)[1])) < w - 280


def test_the_play_bar_drives_the_replayed_room(tmp_path: Path, qtbot: Any, settings: Any) -> None:
    from holocall_desktop.ui.call_replay_window import CallReplayWindow

    path = tmp_path / "call.rec"
    write_call(path)
    window = CallReplayWindow(path, scene_size=(480, 320))
    qtbot.addWidget(window)
    window.show()
    player = window.player
    assert set(window.room.participants) == {"ava", "ben"}
    assert window.room.participants["ava"].seat != window.room.participants["ben"].seat
    seats = {uid: window.scene.participants[uid].seat_index for uid in ("ava", "ben")}
    assert len(set(seats.values())) == 2  # each at a seat of their own around the table
    assert window.chat_panel.lines[0].text == "<b>hi</b>"
    assert "<b>hi</b>" in window.chat_panel.log.toPlainText()
    qtbot.waitUntil(lambda: window.frames_drawn >= 4, timeout=15000)
    # pause: the clock stops
    window.playback.play_button.click()
    qtbot.wait(200)
    held = player.position
    qtbot.wait(300)
    assert player.position == held
    window.playback.step_requested.emit()
    assert player.position > held
    # the end: Ben left
    window.playback.seek_requested.emit(SECONDS)
    player.pump()
    assert set(window.room.participants) == {"ava"}
    # seeking back: the room as it was, and the chat once
    window.playback.seek_requested.emit(0.5)
    assert set(window.room.participants) == {"ava", "ben"}
    assert len(window.chat_panel.lines) == 1
    # loop: past the end it starts again
    window.playback.loop_box.setChecked(True)
    window.playback.play_button.click()
    player.seek(SECONDS - 0.1)
    qtbot.waitUntil(lambda: player.position < 1.0, timeout=5000)
    window.close()


def test_the_replay_is_heard_from_the_seats(
    tmp_path: Path, qtbot: Any, settings: Any, sound: VirtualSoundServer
) -> None:
    from holocall_desktop.ui.call_replay_window import CallReplayWindow

    path = tmp_path / "call.rec"
    write_call(path, voice=True)
    window = CallReplayWindow(path, scene_size=(480, 320), settings=settings)
    qtbot.addWidget(window)
    assert window.voices is not None, window.statusBar().currentMessage()
    assert "voice through" in window.statusBar().currentMessage()
    heard: list[np.ndarray] = []
    window.voices.audio.add_output_tap(lambda block: heard.append(block.copy()))
    window.show()
    qtbot.waitUntil(lambda: window.voices.played.get("ava", 0) >= 25, timeout=15000)
    heard.clear()  # from half a second in: a second of what reached the speaker
    qtbot.waitUntil(lambda: sum(len(b) for b in heard) >= 48000, timeout=10000)
    mix = np.concatenate(heard)[:48000]
    mono = mix.mean(axis=1)
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    # Ava's tone; the jitter buffer plays up to 7.5 % fast while it sheds a burst (jitter.py)
    assert 438 <= int(np.argmax(spectrum)) * 48000 / len(mono) <= 440 * 1.08
    left, right = (float(np.sqrt(np.mean(mix[:, c] ** 2))) for c in (0, 1))
    assert min(left, right) > 0.005  # heard, and from one side: her seat
    assert abs(20 * np.log10(left / right)) > 1.0
    window.playback.play_button.click()  # paused: silence soon
    qtbot.wait(400)
    heard.clear()
    qtbot.waitUntil(lambda: sum(len(b) for b in heard) >= 4800, timeout=5000)
    assert float(np.sqrt(np.mean(np.concatenate(heard) ** 2))) < 0.002
    window.close()
