"""What one direction of an emulated link does to each packet: rate, queue, delay, jitter,
random and bursty loss, reordering, cut. Pure logic, fed packet sizes and times: the forwarder
in :mod:`holocall_desktop.netlab.lab` applies it to real packets."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Shape:
    """One direction of a link. ``None``/0 means "not limited" / "none".

    - ``rate_kbps``: the bottleneck's rate; packets wait in its queue, and one that would wait
      longer than ``queue_ms`` is dropped (a tail-drop queue, like ``tbf``'s limit);
    - ``delay_ms`` ± ``jitter_ms`` (normal, cut at 0) after the queue; packets keep their order
      unless ``reorder`` (a share of packets that skip the delay, as netem's reordering);
    - ``loss``: the share of packets lost; with ``burst`` > 1 the losses come in bursts of that
      mean length (a two-state Gilbert-Elliott chain with the same average);
    - ``cut``: nothing passes.
    """

    rate_kbps: float | None = None
    queue_ms: float = 300.0
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss: float = 0.0
    burst: float = 1.0
    reorder: float = 0.0
    cut: bool = False

    def __post_init__(self) -> None:
        if self.rate_kbps is not None and self.rate_kbps <= 0:
            raise ValueError("rate_kbps must be > 0 (or None: unlimited)")
        if min(self.queue_ms, self.delay_ms, self.jitter_ms) < 0:
            raise ValueError("queue_ms, delay_ms and jitter_ms must be >= 0")
        if not (0.0 <= self.loss < 1.0 and 0.0 <= self.reorder <= 1.0):
            raise ValueError("loss must be in [0, 1) and reorder in [0, 1]")
        if self.burst < 1.0:
            raise ValueError("burst (mean length of a loss burst) must be >= 1")

    def but(self, **changes: object) -> Shape:
        return replace(self, **changes)  # type: ignore[arg-type]


OPEN = Shape()


class Direction:
    """Decides, packet by packet, whether it passes and when it comes out."""

    def __init__(self, shape: Shape = OPEN, seed: int | None = None) -> None:
        self._rng = random.Random(seed)
        self.shape = shape
        self._busy_until = 0.0  # when the bottleneck has sent what is queued
        self._last_due = 0.0  # packets keep their order unless reordered
        self._bad = False  # Gilbert-Elliott state
        self.passed = 0
        self.dropped_loss = 0
        self.dropped_queue = 0
        self.dropped_cut = 0

    def set(self, shape: Shape) -> None:
        self.shape = shape
        if shape.loss == 0:
            self._bad = False

    def _lost(self) -> bool:
        s = self.shape
        if s.loss <= 0:
            return False
        if s.burst <= 1.0:
            return self._rng.random() < s.loss
        # bursts of mean length `burst`, stationary loss `loss`: leave the bad state with
        # 1/burst, enter it with p such that p / (p + 1/burst) = loss
        leave = 1.0 / s.burst
        enter = leave * s.loss / (1.0 - s.loss)
        self._bad = self._rng.random() >= leave if self._bad else self._rng.random() < enter
        return self._bad

    def admit(self, size: int, now: float) -> float | None:
        """The time the packet of ``size`` bytes arriving at ``now`` leaves; ``None``: dropped."""
        s = self.shape
        if s.cut:
            self.dropped_cut += 1
            return None
        if self._lost():
            self.dropped_loss += 1
            return None
        depart = now
        if s.rate_kbps is not None:
            start = max(now, self._busy_until)
            if start - now > s.queue_ms / 1000.0:
                self.dropped_queue += 1
                return None
            self._busy_until = start + size * 8.0 / (s.rate_kbps * 1000.0)
            depart = self._busy_until
        if s.reorder > 0 and self._rng.random() < s.reorder:
            self.passed += 1
            return depart  # overtakes the delayed ones
        delay = s.delay_ms / 1000.0
        if s.jitter_ms > 0:
            delay = max(0.0, self._rng.gauss(delay, s.jitter_ms / 1000.0))
        due = max(depart + delay, self._last_due)
        self._last_due = due
        self.passed += 1
        return due
