"""Screen sharing between two call engines through a real signaling server: a video file shared
by either side arrives as pictures showing what was shared, and the others learn when it
starts and stops; a source that breaks stops the share with its reason."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from av import VideoFrame
from PIL import Image

from holocall_desktop.capture.screen import ScreenError, VideoFileScreen
from holocall_desktop.transport.api import CallState, ScreenInfo
from holocall_desktop.transport.engine import CallEngine
from tests.capture.pattern_window import pattern_window
from tests.capture.screen_video import make_screen_video, shows_quadrants
from tests.transport.conftest import SMALL, Participant, RunningServer, host_and_link
from tests.transport.engines import Recorder, engine, guest_config, host_config

Start = Callable[[list[str]], Participant]


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_screen_video(tmp_path_factory.mktemp("screen") / "slides.webm", seconds=2.0)


def _screen_of(rec: Recorder, user: str, sharing: bool, timeout: float = 15.0) -> ScreenInfo | None:
    def latest() -> list[ScreenInfo | None]:
        infos = [i for i in rec.infos if i.user_id == user]
        if infos and (infos[-1].screen is not None) == sharing:
            return [infos[-1].screen]
        return []

    return rec.wait(latest, timeout, f"{user} {'sharing' if sharing else 'not sharing'}")[0]


def _pictures(receiver: CallEngine, sender: str, timeout: float = 20.0) -> set[str]:
    """What the pictures of ``sender``'s screen show, until both halves of the video came."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while seen != {"plain", "swapped"} and time.monotonic() < deadline:
        picture = receiver.screen.remote(sender).wait(1.0)
        if picture is not None:
            assert picture.user_id == sender
            assert picture.image.shape == (360, 640, 3)
            shown = shows_quadrants(picture.image)
            assert shown is not None, "a picture that shows something else than the video"
            seen.add(shown)
    return seen


def test_either_side_shares_a_video_file(signal_server: RunningServer, video: Path) -> None:
    url = signal_server.url
    with engine(host_config(url)) as (host, hrec):
        hrec.wait_state(CallState.JOINED)
        with engine(guest_config(host, url, "guest")) as (guest, grec):
            grec.wait_connected("host")
            hrec.wait_connected("guest")
            # the offerer shares
            host.screen.share(VideoFileScreen(video))
            started = hrec.wait(lambda: hrec.sharing, 10, "the share to start")[0]
            assert started == (ScreenInfo(640, 360, 10, "slides.webm"), None)
            assert host.screen.info == started[0]
            assert _screen_of(grec, "host", True) == started[0]
            assert _pictures(guest, "host") == {"plain", "swapped"}
            host.screen.share(None)
            assert _screen_of(grec, "host", False) is None
            hrec.wait(lambda: hrec.sharing[-1:] == [(None, None)], 10, "the share to stop")
            assert host.screen.info is None
            # the answerer shares (its track rides the offer's second video transceiver)
            guest.screen.share(VideoFileScreen(video))
            assert _screen_of(hrec, "guest", True) is not None
            assert _pictures(host, "guest") == {"plain", "swapped"}
            guest.leave()
            hrec.wait(lambda: any(u == "guest" for u, _ in hrec.left), 10, "guest gone")


class _BreakingScreen:
    """Three pictures, then a failure."""

    title = "breaks"
    size = (320, 240)
    fps = 10.0

    def __init__(self) -> None:
        self.reads = 0
        self.closed = False

    def read(self) -> VideoFrame:
        self.reads += 1
        if self.reads > 3:
            raise ScreenError("the screen went away")
        return VideoFrame(320, 240, "rgb24")

    def close(self) -> None:
        self.closed = True


def test_a_source_that_breaks_stops_the_share(signal_server: RunningServer) -> None:
    url = signal_server.url
    with engine(host_config(url)) as (host, hrec):
        hrec.wait_state(CallState.JOINED)
        with engine(guest_config(host, url, "guest")) as (_guest, grec):
            grec.wait_connected("host")
            source = _BreakingScreen()
            host.screen.share(source)
            _screen_of(grec, "host", True)
            hrec.wait(lambda: len(hrec.sharing) >= 2, 10, "the share to fail")
            assert hrec.sharing[-1] == (None, "the screen went away")
            assert _screen_of(grec, "host", False) is None
            deadline = time.monotonic() + 5
            while not source.closed and time.monotonic() < deadline:
                time.sleep(0.05)
            assert source.closed


def test_headless_participants_share_a_video_and_save_what_they_see(
    signal_server: RunningServer, participants: Start, video: Path, tmp_path: Path
) -> None:
    host, link = host_and_link(
        participants, signal_server, [*SMALL, "--seconds", "60", "--share-video", str(video)]
    )
    saved = tmp_path / "saved"
    guest = participants(
        [link, "--name", "guest", *SMALL, "--seconds", "60", "--save-frames", str(saved)]
    )
    started = host.wait_for(lambda x: x.get("event") == "sharing", 30, "the host's share")
    assert started == {
        "event": "sharing",
        "state": "started",
        "title": "slides.webm",
        "width": 640,
        "height": 360,
        "fps": 10,
    }
    seen = guest.wait_for(
        lambda x: x.get("event") == "screen" and x["userId"] == "host", 30, "the share's news"
    )
    assert seen["sharing"] is True and seen["title"] == "slides.webm"
    time.sleep(3.0)  # pictures at 8 to 10 a second
    guest.terminate()
    assert guest.finish(30) == 0, guest.stderr[-10:]
    screens = guest.events("summary")[-1]["screens"]
    assert screens["host"]["pictures"] >= 10
    assert (screens["host"]["width"], screens["host"]["height"]) == (640, 360)
    picture = np.asarray(Image.open(saved / "screen_host.png").convert("RGB"))
    assert shows_quadrants(picture) is not None
    host.terminate()
    assert host.finish(30) == 0, host.stderr[-10:]
    for p in (host, guest):
        assert not any("Traceback" in line for line in p.stderr)


def test_what_cannot_be_shared_is_refused_in_one_line(
    signal_server: RunningServer, participants: Start, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.webm"
    broken.write_bytes(b"\x1a\x45\xdf\xa3 not really a video")
    cases = (
        (["--share-video", str(tmp_path / "missing.webm")], "no such file"),
        (["--share-video", str(broken)], "cannot open"),
        (["--share-screen", "9"], "there is no screen 9"),
        (["--share-window", "No such app"], "no window titled 'No such app' to share"),
    )
    for share, reason in cases:
        p = participants([signal_server.url, "--create", *SMALL, "--seconds", "5", *share])
        assert p.finish(30) == 2
        errors = [line for line in p.stderr if line.strip()]
        assert len(errors) == 1 and reason in errors[0], errors


def test_a_headless_participant_shares_another_apps_window_until_it_closes(
    signal_server: RunningServer, participants: Start, tmp_path: Path
) -> None:
    with pattern_window("Budget sheet", "20c040", (320, 200)) as (window, _choice):
        host, link = host_and_link(
            participants, signal_server, [*SMALL, "--seconds", "60", "--share-window", "budget"]
        )
        saved = tmp_path / "saved"
        guest = participants(
            [link, "--name", "guest", *SMALL, "--seconds", "60", "--save-frames", str(saved)]
        )
        started = host.wait_for(lambda x: x.get("event") == "sharing", 30, "the host's share")
        assert started["state"] == "started" and started["title"] == "Budget sheet"
        assert (started["width"], started["height"]) == (320, 200)
        guest.wait_for(
            lambda x: x.get("screens", {}).get("host", {}).get("pictures", 0) >= 5,
            30,
            "the window's pictures",
        )
        window.kill()  # the shared app quits: the share ends, and says why
        failed = host.wait_for(
            lambda x: x.get("event") == "sharing" and x["state"] != "started", 20, "the end"
        )
        assert failed["state"] == "failed" and "'Budget sheet' was closed" in failed["error"]
        stopped = guest.wait_for(
            lambda x: x.get("event") == "screen" and x["sharing"] is False, 20, "the news"
        )
        assert stopped["userId"] == "host"
    guest.terminate()
    assert guest.finish(30) == 0, guest.stderr[-10:]
    picture = np.asarray(Image.open(saved / "screen_host.png").convert("RGB")).astype(int)
    assert picture.shape == (200, 320, 3)
    assert np.abs(picture - (0x20, 0xC0, 0x40)).mean() < 12  # the window's colour (VP8)
    # what it was asked to share ended early: it leaves the call by itself, with exit 1
    assert host.finish(30) == 1, host.stderr[-10:]
    assert (
        host.stderr[-1].strip()
        == "holocall: error: screen share: the window 'Budget sheet' was closed"
    )
    for p in (host, guest):
        assert not any("Traceback" in line for line in p.stderr)
