"""A one-slot, thread-safe "latest value wins" mailbox.

Producers never block and never queue: a new value replaces an unread one (counted as dropped).
This is how frames cross threads (capture thread -> GUI, network loop -> GUI).
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestMailbox(Generic[T]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: T | None = None
        self._has_value = False
        self._event = threading.Event()
        self.dropped = 0
        self.posted = 0

    def put(self, value: T) -> None:
        with self._lock:
            if self._has_value:
                self.dropped += 1
            self._value = value
            self._has_value = True
            self.posted += 1
            self._event.set()

    def take(self) -> T | None:
        """The newest value if one arrived since the last take, else ``None``. Never blocks."""
        with self._lock:
            if not self._has_value:
                return None
            value = self._value
            self._value = None
            self._has_value = False
            self._event.clear()
            return value

    def wait(self, timeout: float | None = None) -> T | None:
        """Block until a value is available (or timeout), then take it."""
        self._event.wait(timeout)
        return self.take()
