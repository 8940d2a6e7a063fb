"""Runs a FrameSource on its own thread and hands the newest frame to the consumer.

The capture thread reads, applies the processing chain, and posts into a
:class:`~holocall_desktop.model.LatestMailbox` (latest frame wins, never a queue). Control calls
for the source (pause, seek, …) are queued with :meth:`SourceRunner.call` and run on the capture
thread between reads, so the source is only ever touched from one thread. Failures end the
thread and are reported once through ``on_error`` with the source's user-facing message.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from holocall_desktop.capture.base import FrameSource, SourceError
from holocall_desktop.model import DepthFrame, LatestMailbox

log = logging.getLogger(__name__)

Processor = Callable[[DepthFrame], DepthFrame]


@dataclass(frozen=True)
class CapturedFrame:
    frame: DepthFrame
    received: float  # time.monotonic() when the source handed it over
    processed: float  # time.monotonic() after processing
    wall_time: float  # time.time() when the source handed it over (capture time for latency)


class SourceRunner:
    def __init__(
        self,
        source: FrameSource,
        processors: list[Processor] | None = None,
        on_error: Callable[[str], None] | None = None,
        on_finished: Callable[[], None] | None = None,
    ) -> None:
        self.source = source
        self.processors = list(processors or [])
        self.mailbox: LatestMailbox[CapturedFrame] = LatestMailbox()
        self._on_error = on_error
        self._on_finished = on_finished
        self._commands: queue.SimpleQueue[Callable[[FrameSource], None]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: str | None = None
        self.frames_read = 0

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("runner already started")
        self._thread = threading.Thread(
            target=self._run, name=f"capture:{self.source.name}", daemon=True
        )
        self._thread.start()

    def call(self, command: Callable[[FrameSource], None]) -> None:
        """Run ``command(source)`` on the capture thread before its next read."""
        self._commands.put(command)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning(
                    "capture thread for %s did not stop within %.1f s", self.source.name, timeout
                )

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _fail(self, message: str) -> None:
        self.error = message
        if self._on_error is not None:
            self._on_error(message)

    def _run(self) -> None:
        try:
            self.source.start()
        except SourceError as exc:
            self._fail(str(exc))
            return
        except Exception as exc:  # a bug or an SDK failure: report it, keep the app alive
            log.exception("starting %s failed", self.source.name)
            self._fail(f"Could not start {self.source.name}: {exc}")
            return
        finished_reported = False
        try:
            while not self._stop.is_set():
                while True:
                    try:
                        command = self._commands.get_nowait()
                    except queue.Empty:
                        break
                    command(self.source)
                frame = self.source.read(timeout=0.25)
                if frame is None:
                    if self.source.finished:
                        if not finished_reported and self._on_finished is not None:
                            self._on_finished()
                        finished_reported = True
                        # stay alive: a seek or loop toggle may resume a finished recording
                        self._stop.wait(0.05)
                    continue
                finished_reported = False
                received = time.monotonic()
                wall = time.time()
                for process in self.processors:
                    frame = process(frame)
                self.frames_read += 1
                self.mailbox.put(CapturedFrame(frame, received, time.monotonic(), wall))
        except SourceError as exc:
            self._fail(str(exc))
        except Exception as exc:
            log.exception("capture from %s failed", self.source.name)
            self._fail(f"{self.source.name} stopped: {exc}")
        finally:
            try:
                self.source.stop()
            except Exception:
                log.exception("stopping %s failed", self.source.name)
