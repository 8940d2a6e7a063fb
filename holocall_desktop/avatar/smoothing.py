"""Temporal smoothing for tracked values: a vectorised One-Euro filter and a quaternion variant.

One-Euro (Casiez, Roussel, Vogel, CHI 2012) is a low-pass filter whose cutoff rises with the
signal's speed: still faces stay steady (low cutoff, little jitter), fast motion follows with
little lag (high cutoff). ``min_cutoff`` is in Hz, ``beta`` in 1 / (signal unit), ``d_cutoff``
is the cutoff for the speed estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class OneEuroParams:
    min_cutoff: float = 1.0
    beta: float = 0.0
    d_cutoff: float = 1.0


def _alpha(cutoff: FloatArray | float, dt: float) -> FloatArray | float:
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Element-wise One-Euro filter over a fixed-size float vector."""

    def __init__(self, params: OneEuroParams) -> None:
        self.params = params
        self._x: FloatArray | None = None
        self._dx: FloatArray | None = None
        self._t: float | None = None

    def reset(self) -> None:
        self._x = self._dx = None
        self._t = None

    def __call__(self, value: npt.ArrayLike, t: float) -> FloatArray:
        x = np.asarray(value, dtype=np.float64)
        if self._x is None or self._t is None or self._dx is None:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dt = t - self._t
        if dt <= 0:  # same or older timestamp: nothing to integrate over
            dt = 1e-3
        p = self.params
        dx = (x - self._x) / dt
        a_d = _alpha(p.d_cutoff, dt)
        self._dx = self._dx + a_d * (dx - self._dx)
        cutoff = p.min_cutoff + p.beta * np.abs(self._dx)
        a = _alpha(cutoff, dt)
        self._x = self._x + a * (x - self._x)
        self._t = t
        return self._x.copy()


class QuaternionOneEuroFilter:
    """One-Euro over unit quaternions (x, y, z, w): keeps one hemisphere, renormalises.

    Filtering the four components and renormalising is a good approximation of filtering on
    the rotation group for the small per-frame steps of a tracked head.
    """

    def __init__(self, params: OneEuroParams) -> None:
        self._filter = OneEuroFilter(params)
        self._last: FloatArray | None = None

    def reset(self) -> None:
        self._filter.reset()
        self._last = None

    def __call__(self, q: npt.ArrayLike, t: float) -> FloatArray:
        quat = np.asarray(q, dtype=np.float64)
        if self._last is not None and float(np.dot(quat, self._last)) < 0:
            quat = -quat  # q and -q are the same rotation: stay on the filter's side
        out = self._filter(quat, t)
        out /= np.linalg.norm(out)
        self._last = out
        return out
