"""The quality ladder: what the hologram is sent at, rung by rung, down to avatar and voice only.

Each rung caps the participant's chosen :class:`~holocall_desktop.codec.base.Quality` (the top
rung *is* that quality): decimation, depth step, colour quality and scale, frame rate. Rungs are
at most 1.5× apart in bitrate, so the bandwidth estimate, which may climb to 1.7× what arrives,
can always reach the 10 % above the next rung that a climb needs. The seed's tiers are named
rungs: **High** (~3 Mbit/s), **Medium** (~1.5 Mbit/s), **Low** (~500 kbit/s) at 848×480.
Below the lightest hologram is the **avatar** (the sender tracks the face in its own colour
images and sends blendshape frames of under 100 bytes, ``AVATAR_KBPS``; the receiver draws the
avatar at the seat until holograms come again), and below that **voice only** (nothing; the
receivers keep the last picture). A sender that cannot track a face (no face in view, no face
model) sends nothing on the avatar rung, which then is voice only in effect.

A rung's bitrate is the mean encoded size of its *profile* (the rung without its frame rate)
times its frame rate: measured while that profile is sent, otherwise scaled from a measured one
by the sizes below (the synthetic person at 848×480 with the background removed, parity
included: ``docs/calls.md``).

:class:`RungChooser` (one per receiver) goes down at once to the highest rung under the target
and climbs one rung when the target has been 10 % above the next rung for a hold time; a climb
that is undone within 4 s doubles the hold time (2 s up to 32 s), so a link just below a rung is
probed less and less often instead of oscillating. From the avatar or voice only (where no
hologram arrives to estimate from) the lightest hologram is tried after the hold, the same way;
from voice only the avatar comes back at once when the estimate allows it. Pure logic on
injected times.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

from holocall_desktop.codec.base import Quality


@dataclasses.dataclass(frozen=True)
class Cap:
    """How a rung lightens the base quality (each field caps or scales it)."""

    decimation: int = 1  # multiplies
    depth_step_at_1m: float = 0.0  # at least this
    color_quality: int = 100  # at most this
    color_scale: float = 1.0  # at most this
    relative_size: float = 1.0  # a frame's size against the top profile's


@dataclasses.dataclass(frozen=True)
class Rung:
    name: str
    quality: Quality | None  # None: avatar or voice only
    profile: int  # index of its profile (rungs differing only in frame rate share one); -1 else

    @property
    def hologram(self) -> bool:
        return self.quality is not None


#: (name, profile cap, frame rate). The profiles and their sizes against the top one, measured
#: at 848×480 on the synthetic person: 18.9, 14.3, 5.9, 4.7, 2.6, 2.0 KB a frame.
_PROFILES = (
    Cap(relative_size=1.0),
    Cap(color_quality=50, color_scale=0.75, depth_step_at_1m=0.006, relative_size=0.757),
    Cap(2, 0.006, 50, 0.75, relative_size=0.312),
    Cap(2, 0.008, 40, 0.5, relative_size=0.249),
    Cap(4, 0.008, 40, 0.5, relative_size=0.138),
    Cap(4, 0.012, 30, 0.35, relative_size=0.106),
)
_RUNGS: tuple[tuple[str, int, float], ...] = (
    ("full", 0, 30.0),
    ("high-30", 1, 30.0),
    ("high", 1, 20.0),
    ("high-15", 1, 15.0),
    ("medium-30", 2, 30.0),
    ("medium", 2, 20.0),
    ("light-20", 3, 20.0),
    ("low-30", 4, 30.0),
    ("low", 4, 22.0),
    ("minimal-20", 5, 20.0),
    ("minimal", 5, 15.0),
    ("minimal-10", 5, 10.0),
)
AVATAR = "avatar"
VOICE = "voice"
#: what the avatar rung is expected to take: ~80-byte frames at 30 fps, with their overhead
AVATAR_KBPS = 30.0
#: how the network to a participant rates while our hologram to them is on a rung: no worse
#: than excellent down to this rung, poor from this one on (voice only too)
EXCELLENT_DOWN_TO = "medium-30"
POOR_FROM = "minimal-20"
_ORDER = [name for name, _, _ in _RUNGS] + [AVATAR, VOICE]
#: the seed's tiers (000_83f874f78a8d4b33 §4) among the rungs
NAMED = {"high": "High", "medium": "Medium", "low": "Low"}


def rung_rating(name: str) -> int:
    """0 if sending rung ``name`` leaves the network to that participant excellent, 1 if it
    makes it no better than good, 2 if it makes it poor."""
    i = _ORDER.index(name)
    if i <= _ORDER.index(EXCELLENT_DOWN_TO):
        return 0
    return 2 if i >= _ORDER.index(POOR_FROM) else 1


def _apply(base: Quality, cap: Cap, fps: float) -> Quality:
    return dataclasses.replace(
        base,
        decimation=min(8, base.decimation * cap.decimation),
        depth_step_at_1m=min(0.1, max(base.depth_step_at_1m, cap.depth_step_at_1m)),
        color_quality=min(base.color_quality, cap.color_quality),
        color_scale=max(0.05, min(base.color_scale, cap.color_scale)),
        max_fps=min(base.max_fps, fps),
    )


def _weight(rung: Rung) -> float:
    assert rung.quality is not None
    return _PROFILES[rung.profile].relative_size * rung.quality.max_fps


class Ladder:
    """The rungs for one base quality and what each profile's frames measure."""

    def __init__(self, base: Quality) -> None:
        rungs: list[Rung] = []
        for name, profile, fps in _RUNGS:
            cap = _PROFILES[profile]
            quality = _apply(base, cap, fps)
            if rungs and rungs[-1].quality == quality:
                continue  # the base is already lighter than this rung
            rungs.append(Rung(name, quality, profile))
        rungs.append(Rung(AVATAR, None, -1))
        rungs.append(Rung(VOICE, None, -1))
        for upper, lower in itertools.pairwise(rungs[:-2]):
            assert _weight(upper) > _weight(lower), "rungs must get lighter down the ladder"
        self.rungs: tuple[Rung, ...] = tuple(rungs)
        self._measured: dict[int, float] = {}  # profile -> mean frame bytes

    def __len__(self) -> int:
        return len(self.rungs)

    @property
    def lightest(self) -> int:
        """The index of the lightest hologram rung (the avatar is the next one)."""
        return len(self.rungs) - 3

    def index(self, name: str) -> int:
        for i, rung in enumerate(self.rungs):
            if rung.name == name:
                return i
        raise KeyError(name)

    def frame_sent(self, profile: int, size: int) -> None:
        """A frame of ``profile`` was encoded to ``size`` bytes (fragments and parity)."""
        mean = self._measured.get(profile)
        self._measured[profile] = float(size) if mean is None else 0.9 * mean + 0.1 * size

    def frame_bytes(self, profile: int) -> float | None:
        """The expected size of a frame of ``profile``: measured, else scaled from the measured
        profile of the nearest size; ``None`` before any frame was measured."""
        if profile in self._measured:
            return self._measured[profile]
        if not self._measured:
            return None
        size = _PROFILES[profile].relative_size
        ref = min(self._measured, key=lambda p: abs(math.log(_PROFILES[p].relative_size / size)))
        return self._measured[ref] * size / _PROFILES[ref].relative_size

    def kbps(self, index: int) -> float | None:
        """The expected bitrate of rung ``index`` (0 for voice only; None: nothing measured)."""
        rung = self.rungs[index]
        if rung.name == AVATAR:
            return AVATAR_KBPS
        if rung.quality is None:
            return 0.0
        size = self.frame_bytes(rung.profile)
        return None if size is None else size * 8 / 1000 * rung.quality.max_fps

    def describe(self, index: int) -> str:
        """Rung ``index`` as :func:`describe_rung` says it."""
        return describe_rung(self.rungs[index].name, self.kbps(index))


def describe_rung(name: str, kbps: float | None) -> str:
    """``"medium (Medium) 1.4 Mbit/s"``-style text of a rung and its bitrate, for the UI."""
    if name == VOICE:
        return "voice only"
    if name == AVATAR:
        return "avatar"
    named = f" ({NAMED[name]})" if name in NAMED else ""
    rate = "" if kbps is None else f" {kbps / 1000:.1f} Mbit/s"
    return f"{name}{named}{rate}"


START_RUNG = 2
UP_MARGIN = 1.1
HOLD_S = 2.0
MAX_HOLD_S = 32.0
FAILED_CLIMB_S = 4.0


class RungChooser:
    """Which rung to send one receiver, from the target bitrate (see the module doc)."""

    def __init__(self, ladder: Ladder) -> None:
        self.ladder = ladder
        # a new receiver starts two rungs down (High at the default quality) and climbs a rung
        # every half second while no limit is known: full within a second on a good link, and
        # a slow one is not flooded with the heaviest frames first
        self.index = min(START_RUNG, ladder.lightest)
        self.hold_s = HOLD_S
        self._above_since: float | None = None
        self._climbed_at = -math.inf

    @property
    def rung(self) -> Rung:
        return self.ladder.rungs[self.index]

    def update(self, target_kbps: float | None, now: float) -> int:
        """The rung to send at ``now`` for a target of ``target_kbps`` (None: no limit)."""
        ladder = self.ladder
        if target_kbps is None:  # no limit known: climb, faster than on an estimate
            if self.index != 0 and self._up_due(now, HOLD_S / 4):
                self._move(self.index - 1, now, up=False)  # not a probe: a failure is no news
            return self.index
        lightest = ladder.kbps(ladder.lightest)
        if not self.rung.hologram and lightest is not None and UP_MARGIN * lightest > target_kbps:
            # avatar or voice only: no hologram arrives to estimate from, so the estimate
            # cannot grow (not even the last 10 % a climb asks for); try the lightest hologram
            # after the hold (the sender lifts the estimate for it). From voice only, the
            # avatar as soon as it fits.
            if self.rung.name == AVATAR and target_kbps < AVATAR_KBPS:
                self._move(self.index + 1, now, up=False)  # not even the avatar fits
            elif self.rung.name == VOICE and target_kbps >= UP_MARGIN * AVATAR_KBPS:
                self._move(self.index - 1, now, up=False)
            elif self._up_due(now, self.hold_s):
                self._move(ladder.lightest, now, up=True)
            return self.index
        current = ladder.kbps(self.index)
        if current is not None and current > target_kbps:
            lower = self.index + 1
            while lower < len(ladder) - 1:
                kbps = ladder.kbps(lower)
                if kbps is not None and kbps <= target_kbps:
                    break
                lower += 1
            if now - self._climbed_at < FAILED_CLIMB_S:
                self.hold_s = min(MAX_HOLD_S, self.hold_s * 2)
            self._above_since = None
            self._move(lower, now, up=False)
            return self.index
        if now - self._climbed_at > 4 * MAX_HOLD_S:
            self.hold_s = HOLD_S  # a long quiet spell: forget the failed climbs
        if self.index > 0:
            nxt = ladder.kbps(self.index - 1)
            if nxt is not None and target_kbps >= UP_MARGIN * nxt:
                if self._up_due(now, self.hold_s):
                    self._move(self.index - 1, now, up=True)
            else:
                self._above_since = None
        return self.index

    def _up_due(self, now: float, hold_s: float) -> bool:
        if self._above_since is None:
            self._above_since = now
        return now - self._above_since >= hold_s

    def _move(self, index: int, now: float, up: bool) -> None:
        """Go to rung ``index``; ``up``: a climb on the estimate's word (its failure backs
        off the next one)."""
        if index == self.index:
            return
        self.index = index
        self._above_since = None
        if up:
            self._climbed_at = now
