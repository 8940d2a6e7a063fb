"""The web client in a real headless Chromium (fake camera and microphone) with HoloCall
participants as separate `holocall join --headless` processes, through the real signaling
server: either side first, one and two HoloCall participants. The browser hears their voices
(the test tone's frequency), gets their avatars and their chat; they get its camera picture
(saved and checked by pixels) and its microphone, and its chat as text."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from holocall_desktop.transport.invite import format_invite, parse_invite
from tests.faces import record_face
from tests.transport.conftest import SMALL, Participant, RunningServer, host_and_link
from tests.web.chromium import Chromium

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
Start = Callable[[list[str]], Participant]
MARKUP = "<b>not bold</b> & <img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def face_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record_face(tmp_path_factory.mktemp("face") / "face.db3")


@pytest.fixture
def browsers() -> Iterator[Callable[[str], Chromium]]:
    opened: list[Chromium] = []

    def open_page(url: str) -> Chromium:
        page = Chromium(url)
        opened.append(page)
        return page

    yield open_page
    for page in opened:
        page.close()


def _web_link(link: str, name: str) -> str:
    invite = parse_invite(link)
    web = format_invite(invite.server, invite.room_id, invite.invite_secret, scheme="web")
    return f"{web}&name={name}"


def _peer(page: Chromium, name: str, what: str, timeout: float = 45) -> dict[str, Any]:
    """The page's view of the participant called ``name`` once ``what`` (JS, on ``p``) holds."""
    expression = (
        "window.holocall && window.holocall.stats().then(s => Object.values(s.peers)"
        f".find(p => p.name === {json.dumps(name)} && ({what})) || null)"
    )
    found = page.wait_for(expression, timeout, f"{name}: {what}")
    assert isinstance(found, dict)
    return found


def _videos(p: Participant, user_prefix: str) -> dict[str, Any]:
    """The camera pictures ``p`` received from the browser (its user id starts with the name)."""
    for line in reversed(p.events("stats")):
        for uid, v in line.get("videos", {}).items():
            if uid.startswith(user_prefix):
                return {"userId": uid, **v}
    return {}


def _check_picture(folder: Path, user_id: str) -> None:
    """Chromium's fake camera: a test pattern, not a blank or a one-colour picture."""
    image = np.asarray(Image.open(folder / f"video_{user_id}.png").convert("RGB"))
    h, w = image.shape[:2]  # 640x480, or smaller when Chrome scales its sending down under load
    assert w >= 320 and abs(w / h - 4 / 3) < 0.02, image.shape
    assert image.std() > 20 and len(np.unique(image.reshape(-1, 3), axis=0)) > 50


def _no_tracebacks(*participants: Participant) -> None:
    for p in participants:
        assert "Traceback" not in "".join(p.stderr), "".join(p.stderr[-30:])


def test_a_browser_joins_a_holocall_participant(
    signal_server: RunningServer,
    participants: Start,
    browsers: Callable[[str], Chromium],
    face_recording: Path,
    tmp_path: Path,
) -> None:
    host, link = host_and_link(
        participants,
        signal_server,
        [
            *("--source", str(face_recording), "--seconds", "120", "--tone", "440", "--hear"),
            *("--say", "hello web", "--say", MARKUP, "--save-frames", str(tmp_path)),
        ],
    )
    page = browsers(_web_link(link, "Browser"))
    # the browser: the host's hello (name), our pings answered, its avatar, its voice, its chat
    seen = _peer(page, "host", "p.hello && p.avatarFrames >= 10 && p.audioPackets > 100")
    assert seen["connection"] == "connected" and seen["pings"] > 0 and seen["bad"] == 0, seen
    assert seen["fragments"] <= 2, seen  # it reads no holograms: the host sends its avatar
    heard = _peer(page, "host", "p.audio && Math.abs(p.audio.frequency - 440) < 25")
    assert heard["audio"]["peakDb"] > -70, heard
    chat = page.wait_for(
        "window.holocall.stats().then(s => s.chat.length >= 2 && s.chat)", 20, "the host's chat"
    )
    assert [c["text"] for c in chat] == ["hello web", MARKUP]
    # the HoloCall side: the browser's camera picture, its microphone, its chat as text
    host.wait_for(lambda _x: _videos(host, "Browser").get("pictures", 0) >= 20, 30, "pictures")
    video = _videos(host, "Browser")
    assert video["width"] >= 320 and abs(video["width"] / video["height"] - 4 / 3) < 0.02, video
    page.evaluate(f"window.holocall.say({json.dumps(MARKUP)})")
    said = host.wait_for(lambda x: x.get("event") == "chat", 20, "the browser's chat")
    assert said["text"] == MARKUP and said["name"] == "Browser", said
    stats = host.last_stats()
    voice = stats["audio"][video["userId"]]
    assert voice["frames"] > 100 and voice["lostMs"] < 0.2 * voice["receivedMs"], voice
    mode = next(p for p in stats["participants"] if p["userId"] == video["userId"])
    assert mode["mode"] == "video" and mode["name"] == "Browser", mode
    # the browser leaves: the host sees it go
    page.evaluate("window.holocall.leave()")
    host.wait_for(lambda x: x.get("event") == "left", 20, "the browser leaving")
    host.terminate()
    assert host.finish() == 0
    _check_picture(tmp_path, video["userId"])
    assert page.evaluate("window.holocall.stats().then(s => s.errors)") == []
    _no_tracebacks(host)


def test_holocall_participants_join_a_room_a_browser_created(
    signal_server: RunningServer,
    participants: Start,
    browsers: Callable[[str], Chromium],
    tmp_path: Path,
) -> None:
    page = browsers(f"{signal_server.url}/join?name=Web")
    link = page.wait_for("window.holocall.stats().then(s => s.invite)", 30, "the invite link")
    assert "/join/" in link and "invite=" in link
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
    guests = [
        participants(
            [
                *(link, "--name", name, *SMALL, "--seconds", "120", "--tone", tone, "--hear"),
                *("--save-frames", str(tmp_path / name)),
            ]
        )
        for name, tone in (("one", "440"), ("two", "660"))
    ]
    for name, tone in (("one", 440), ("two", 660)):
        near = f"Math.abs(p.audio.frequency - {tone}) < 25"
        heard = _peer(page, name, f"p.hello && p.pings > 0 && p.audio && {near}")
        assert heard["connection"] == "connected" and heard["bad"] == 0, heard
    for p in guests:
        p.wait_for(lambda _x, p=p: _videos(p, "Web").get("pictures", 0) >= 20, 45, "pictures")
    # the two HoloCall participants still have their hologram call with each other
    one = guests[0]
    one.wait_for(lambda x: x.get("received", {}).get("two", 0) >= 20, 30, "two's holograms")
    for p in guests:
        p.terminate()
        assert p.finish() == 0
        _check_picture(tmp_path / p.args[2], _videos(p, "Web")["userId"])
    left = page.wait_for(
        "window.holocall.stats().then(s => s.left.length >= 2 && s.left)", 20, "both leaving"
    )
    assert {x["userId"] for x in left} == {"one", "two"}
    assert page.evaluate("window.holocall.stats().then(s => s.errors)") == []
    _no_tracebacks(*guests)
