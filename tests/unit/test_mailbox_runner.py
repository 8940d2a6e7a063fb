"""Frames cross threads through a latest-wins mailbox; the runner reports errors, stops cleanly."""

from __future__ import annotations

import threading
import time

import pytest

from holocall_desktop.capture.base import DeviceDisconnectedError, SourceError
from holocall_desktop.capture.runner import SourceRunner
from holocall_desktop.capture.synthetic import SyntheticPersonSource
from holocall_desktop.model import DepthFrame, LatestMailbox


def test_mailbox_keeps_only_the_newest_value() -> None:
    box: LatestMailbox[int] = LatestMailbox()
    assert box.take() is None
    for i in range(5):
        box.put(i)
    assert box.take() == 4
    assert box.take() is None
    assert box.dropped == 4 and box.posted == 5


def test_mailbox_wait_wakes_on_put() -> None:
    box: LatestMailbox[str] = LatestMailbox()
    threading.Timer(0.05, box.put, args=("hi",)).start()
    assert box.wait(timeout=2.0) == "hi"


def test_runner_delivers_processed_frames_and_stops() -> None:
    source = SyntheticPersonSource(realtime=False, width=212, height=120)
    seen: list[int] = []

    def mark(frame: DepthFrame) -> DepthFrame:
        seen.append(frame.frame_number)
        return frame

    runner = SourceRunner(source, processors=[mark])
    runner.start()
    got = runner.mailbox.wait(timeout=5.0)
    assert got is not None and got.frame.width == 212
    assert got.processed >= got.received
    deadline = time.monotonic() + 5
    while runner.frames_read < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    runner.stop()
    assert not runner.running
    assert seen == sorted(seen) and len(seen) >= 5


class _Failing:
    name = "Failing camera"
    fps = 30.0
    finished = False

    def __init__(self, fail_on_start: bool) -> None:
        self.fail_on_start = fail_on_start
        self.stopped = False

    def start(self) -> None:
        if self.fail_on_start:
            raise SourceError("No RealSense camera is connected")

    def read(self, timeout: float = 1.0) -> DepthFrame | None:
        raise DeviceDisconnectedError("The RealSense camera was disconnected")

    def stop(self) -> None:
        self.stopped = True


@pytest.mark.parametrize(
    ("fail_on_start", "message"),
    [(True, "No RealSense camera is connected"), (False, "The RealSense camera was disconnected")],
)
def test_runner_reports_source_errors_once(fail_on_start: bool, message: str) -> None:
    errors: list[str] = []
    source = _Failing(fail_on_start)
    runner = SourceRunner(source, on_error=errors.append)  # type: ignore[arg-type]
    runner.start()
    deadline = time.monotonic() + 5
    while runner.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert errors == [message]
    assert runner.error == message
    assert source.stopped is (not fail_on_start)
