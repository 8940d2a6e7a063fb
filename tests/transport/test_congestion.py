"""The bandwidth estimate against a simulated bottleneck (a FIFO queue of fixed capacity),
and the quality ladder's rung choice with its hysteresis."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from holocall_desktop.codec.base import Quality
from holocall_desktop.codec.control import ArrivalReport, decode_control, encode_control
from holocall_desktop.transport.congestion import ArrivalRecorder, CongestionControl, Signal
from holocall_desktop.transport.ladder import (
    AVATAR,
    AVATAR_KBPS,
    HOLD_S,
    VOICE,
    Ladder,
    RungChooser,
    describe_rung,
    rung_rating,
)


@dataclasses.dataclass
class Bottleneck:
    """Frames through a link of ``kbps`` with a FIFO queue and a fixed propagation delay; the
    receiver reports to the sender as the real one does (through the wire format)."""

    kbps: float
    delay_s: float = 0.02
    fragment: int = 1200
    busy_until: float = 0.0

    def __post_init__(self) -> None:
        self.recorder = ArrivalRecorder()
        self.cc = CongestionControl()
        self.inflight: list[tuple[float, int, int, bool]] = []  # arrival, fid, size, complete
        self.fid = 0
        self.delays: list[float] = []

    def send(self, now: float, size: int, lost: bool = False) -> None:
        self.fid += 1
        count = max(1, -(-size // self.fragment))
        piece = size // count
        self.cc.frame_sent(self.fid, size, now, count)
        start = max(now, self.busy_until)
        for i in range(count):
            start += piece * 8 / 1000 / self.kbps
            last = i == count - 1
            if not (lost and last):
                self.inflight.append((start + self.delay_s, self.fid, piece, last))
        self.busy_until = start
        self.delays.append(start + self.delay_s - now)

    def run_until(self, now: float) -> None:
        due = sorted(x for x in self.inflight if x[0] <= now)
        self.inflight = [x for x in self.inflight if x[0] > now]
        for arrival, fid, size, complete in due:
            self.recorder.fragment(fid, size, arrival, complete)
        report = self.recorder.report(now)
        if report is not None:
            self.cc.on_report(decode_control(encode_control(report)), now)  # type: ignore[arg-type]


def drive(link: Bottleneck, seconds: float, kbps: float, t0: float = 0.0, fps: float = 30.0,
          loss_every: int = 0) -> float:  # fmt: skip
    """Send ``kbps`` of frames for ``seconds``; the time at the end."""
    size = int(kbps * 1000 / 8 / fps)
    t = t0
    n = 0
    while t < t0 + seconds:
        n += 1
        link.send(t, size, lost=bool(loss_every) and n % loss_every == 0)
        for step in range(4):  # the receiver runs between frames too
            link.run_until(t + step / fps / 4)
        t += 1 / fps
    return t


def test_no_limit_while_the_link_has_room() -> None:
    link = Bottleneck(kbps=5000)
    drive(link, 10, kbps=2000)
    assert link.cc.target_kbps() is None
    assert link.cc.detector.signal is not Signal.OVERUSE
    assert max(link.delays) < 0.05  # propagation and serialisation only


def test_a_queue_that_grows_is_overuse_and_the_target_drops_under_the_capacity() -> None:
    link = Bottleneck(kbps=1000)
    t = drive(link, 2.0, kbps=1500)
    target = link.cc.target_kbps()
    assert target is not None and 600 <= target <= 1000  # 0.85 × what arrived
    # sending at the target drains the queue and the estimate climbs slowly, not past 1.7×
    before = target
    drive(link, 12, kbps=0.9 * before, t0=t)
    after = link.cc.target_kbps()
    assert after is not None and before < after <= 1.7 * 0.9 * before + 10


def test_a_queue_filling_slowly_is_caught_by_its_delay() -> None:
    link = Bottleneck(kbps=1000)
    drive(link, 12, kbps=1030)  # 3 % too much: a trend too faint for the detector
    target = link.cc.target_kbps()
    assert target is not None and target < 1000
    assert max(link.delays) < 0.5  # caught before the queue held half a second


def test_random_loss_raises_the_parity_and_leaves_the_rate_alone() -> None:
    link = Bottleneck(kbps=10000)
    drive(link, 4, kbps=1000, loss_every=2)  # half the frames lose one of their 4 fragments
    assert link.cc.frame_loss == pytest.approx(0.5, abs=0.1)
    assert link.cc.fragment_loss == pytest.approx(1 / 8, abs=0.03)
    parity = link.cc.parity()
    assert parity is not None and parity > 0.25  # more parity for the loss…
    assert link.cc.target_kbps() is None  # …and no lower rate: no queue grew


def test_loss_while_the_queue_grows_lowers_the_loss_limit() -> None:
    link = Bottleneck(kbps=1000)
    drive(link, 4, kbps=3000, loss_every=3)
    assert link.cc.loss_limit_kbps is not None and link.cc.loss_limit_kbps < 1000
    # the loss is still measured, for the user to be told, but adds no parity to the load
    assert link.cc.fragment_loss is not None and link.cc.fragment_loss > 0.02
    assert link.cc.parity() is None


def test_the_receiver_asking_for_less_is_a_limit_that_lifts() -> None:
    cc = CongestionControl()
    cc.receiver_asks(300, 0.0)
    assert cc.target_kbps() == 300
    for i in range(1, 60):
        cc.receiver_asks(0, i * 0.5)
    assert cc.target_kbps() is None or cc.target_kbps() > 300  # type: ignore[operator]


def test_stragglers_of_a_reported_frame_are_not_reported_again() -> None:
    rec = ArrivalRecorder()
    rec.fragment(1, 1200, 0.0, True)
    first = rec.report(0.1)
    assert first is not None and [f.frame_id for f in first.frames] == [1]
    rec.fragment(1, 1200, 0.15, False)  # a parity fragment after the report
    assert rec.report(0.3) is None


def ladder() -> Ladder:
    lad = Ladder(Quality())
    lad.frame_sent(0, 23_600)  # the top profile's frames: ~5.7 Mbit/s at 30 fps
    return lad


def test_rungs_get_lighter_and_name_the_seed_tiers() -> None:
    lad = ladder()
    rates = [lad.kbps(i) for i in range(len(lad))]
    assert all(a is not None and b is not None and a > b for a, b in itertools.pairwise(rates))
    holograms = rates[: lad.lightest + 1]
    assert all(a / b <= 1.5 + 1e-9 for a, b in itertools.pairwise(holograms))
    assert lad.rungs[-1].name == VOICE and lad.rungs[-1].quality is None
    assert lad.rungs[-2].name == AVATAR and not lad.rungs[-2].hologram
    assert rates[-2] == AVATAR_KBPS < rates[lad.lightest]  # type: ignore[operator]
    assert describe_rung(AVATAR, AVATAR_KBPS) == "avatar" and rung_rating(AVATAR) == 2
    assert "High" in lad.describe(lad.index("high"))
    assert 2000 < rates[lad.index("high")] < 3500  # type: ignore[operator]
    assert 1000 < rates[lad.index("medium")] < 1800  # type: ignore[operator]
    assert 400 < rates[lad.index("low")] < 700  # type: ignore[operator]


def test_a_rung_never_lighter_than_the_chosen_quality_allows() -> None:
    small = Ladder(Quality(decimation=4, color_quality=30, max_fps=15))
    assert small.rungs[0].quality == Quality(decimation=4, color_quality=30, max_fps=15)
    assert all(r.quality is None or r.quality.decimation <= 8 for r in small.rungs)


def test_chooser_drops_at_once_and_climbs_after_the_hold() -> None:
    lad = ladder()
    ch = RungChooser(lad)
    assert (
        ch.update(1000, 0.0)
        == max(
            i
            for i in range(len(lad))
            if lad.kbps(i) is not None and lad.kbps(i) <= 1000  # type: ignore[operator]
        )
        or lad.kbps(ch.index) <= 1000
    )  # type: ignore[operator]
    low = ch.index
    assert lad.kbps(low) <= 1000 < lad.kbps(low - 1)  # type: ignore[operator]
    plenty = 1.2 * lad.kbps(low - 1)  # type: ignore[operator]
    assert ch.update(plenty, 1.0) == low  # not at once
    assert ch.update(plenty, 1.0 + HOLD_S) == low - 1
    assert ch.update(100.0, 2.0 + HOLD_S) == len(lad) - 2  # no hologram fits: the avatar
    assert ch.update(10.0, 3.0 + HOLD_S) == len(lad) - 1  # not even that: voice only


def test_a_climb_that_fails_doubles_the_hold() -> None:
    lad = ladder()
    ch = RungChooser(lad)
    ch.update(1000, 0.0)
    low = ch.index
    t = 1.0
    holds = []
    for _ in range(4):
        up = 1.2 * lad.kbps(ch.index - 1)  # type: ignore[operator]
        start = t
        while ch.index == low:
            t += 0.1
            ch.update(up, t)
        holds.append(t - start)
        t += 1.0
        ch.update(1000, t)  # the climb overshot: back down within FAILED_CLIMB_S
        assert ch.index == low
    assert holds[1] > 1.8 * holds[0] and holds[2] > 1.8 * holds[1]


def test_from_voice_only_the_lightest_hologram_is_tried_after_the_hold() -> None:
    lad = ladder()
    ch = RungChooser(lad)
    assert ch.update(5.0, 0.0) == len(lad) - 1  # nothing fits: voice only
    assert ch.update(5.0, 1.0) == len(lad) - 1
    assert ch.update(5.0, 1.1 + HOLD_S) == lad.lightest  # the estimate is stale: try
    cc = CongestionControl()
    cc.rate.estimate_kbps = 5.0
    cc.probe(lad.kbps(lad.lightest) or 0.0)
    target = cc.target_kbps()
    assert target is not None and target >= (lad.kbps(lad.lightest) or 0.0)
    assert ch.update(target, 1.2 + HOLD_S) == lad.lightest  # and it holds until reports say


def test_the_avatar_comes_back_at_once_and_holograms_are_probed_from_it() -> None:
    lad = ladder()
    ch = RungChooser(lad)
    assert ch.update(5.0, 0.0) == len(lad) - 1  # voice only
    assert ch.update(2 * AVATAR_KBPS, 0.5) == len(lad) - 2  # the avatar fits again: at once
    assert ch.update(2 * AVATAR_KBPS, 1.0) == len(lad) - 2
    # no hologram arrives to lift the estimate: the lightest one is tried after the hold
    assert ch.update(2 * AVATAR_KBPS, 0.9 + HOLD_S) == len(lad) - 2
    assert ch.update(2 * AVATAR_KBPS, 1.0 + HOLD_S) == lad.lightest
    assert ch.update(2 * AVATAR_KBPS, 1.2 + HOLD_S) == len(lad) - 2  # it did not fit
    start = t = 1.3 + HOLD_S
    while ch.index == len(lad) - 2:  # the failed climb doubled the hold
        ch.update(2 * AVATAR_KBPS, t)
        t += 0.1
    assert ch.index == lad.lightest and t - start > 1.8 * HOLD_S


def test_reports_that_stop_while_frames_go_out_halve_the_estimate_every_2_s() -> None:
    cc = CongestionControl()
    for i in range(30):  # frames go out; no report ever came: an older receiver, left alone
        cc.frame_sent(i, 20_000, i / 30)
    assert cc.target_kbps() is None
    link = Bottleneck(kbps=100_000)
    t = drive(link, 1.0, kbps=5000)  # a fast link: reports, no limit
    assert link.cc.target_kbps() is None
    # the link all but stops: frames still go out, no report comes back
    size = 5000 * 1000 // 8 // 30
    targets = []
    for n in range(1, 7 * 30):
        link.cc.frame_sent(10_000 + n, size, t + n / 30)
        targets.append(link.cc.target_kbps())
    assert targets[50] is None  # under the timeout: nothing yet
    first = next(x for x in targets if x is not None)
    assert 2000 < first < 3000  # half of what was sent over the last second
    assert targets[-1] is not None and targets[-1] < first / 3  # halved again every 2 s


def test_reports_held_back_without_a_queue_give_the_estimate_back() -> None:
    link = Bottleneck(kbps=3000)
    t = drive(link, 3.0, kbps=4000)  # overuse: an estimate under 3000
    before = link.cc.target_kbps()
    assert before is not None and before < 3000
    t = drive(link, 4.0, kbps=0.8 * before, t0=t)  # the queue drains
    before = link.cc.target_kbps()
    assert before is not None
    # the reports stall 2.5 s (retransmissions on a lossy link) while frames flow unqueued
    size = int(0.8 * before * 1000 / 8 / 30)
    for _ in range(75):
        link.send(t, size)
        t += 1 / 30
    assert (link.cc.target_kbps() or 0) < 0.6 * before  # the timeout halved it
    drive(link, 0.5, kbps=0.8 * before, t0=t)  # the reports come: no queue
    after = link.cc.target_kbps()
    assert after is not None and after > 0.8 * before


def test_a_probe_starts_a_fresh_loss_measure() -> None:
    # on the way down to the avatar, frames were lost on a collapsed link and never reported,
    # and the loss limit fell; a probe of 300 kbit/s on a link that has room again must not be
    # judged by those old losses
    link = Bottleneck(kbps=10000)
    cc = link.cc
    for fid in range(10_000, 10_040):
        cc.frame_sent(fid, 2000, 0.0, 2)  # never arrived
    cc.loss_limit_kbps = 215.0
    cc.probe(300.0)
    t = 1.0
    while cc.frame_loss is None:  # the probe's first measure: its own frames only
        t = drive(link, 0.1, kbps=300, t0=t)
    assert cc.frame_loss < 0.02
    drive(link, 3, kbps=300, t0=t)
    target = cc.target_kbps()
    assert target is not None and target >= 300.0


def test_from_the_avatar_a_target_just_above_the_lightest_hologram_is_probed_too() -> None:
    # the estimate froze between the lightest hologram's bitrate and the 10 % more a climb
    # asks for: nothing arrives on the avatar to lift it, so only a probe can come back
    lad = ladder()
    lightest = lad.kbps(lad.lightest)
    assert lightest is not None
    ch = RungChooser(lad)
    ch.update(5.0, 0.0)
    ch.update(2 * AVATAR_KBPS, 0.5)
    assert ch.index == len(lad) - 2  # the avatar
    target = 1.05 * lightest
    t = 0.6
    while ch.index != lad.lightest and t < 0.6 + 2 * HOLD_S:
        ch.update(target, t)
        t += 0.1
    assert ch.index == lad.lightest


def test_a_shared_screen_is_held_to_a_limit_only_while_the_link_shows_one() -> None:
    from holocall_desktop.transport.screen import SCREEN_HOLD_S, SCREEN_RUNGS, fit, screen_rung

    link = Bottleneck(kbps=1000)
    t = drive(link, 2.0, kbps=1500)  # a queue grows: the estimate drops under 1 Mbit/s
    limited = link.cc.limited_kbps(t, SCREEN_HOLD_S)
    assert limited is not None and limited < 1000
    assert screen_rung(limited) in ((640, 5), (480, 3))
    t = drive(link, SCREEN_HOLD_S + 2, kbps=500, t0=t)  # well under the link: no drop since
    assert link.cc.limited_kbps(t, SCREEN_HOLD_S) is None
    assert screen_rung(None) == SCREEN_RUNGS[0][1:] == (1280, 10)
    assert fit((1920, 1080), 640) == (640, 360)
    assert fit((641, 361), 1280) == (640, 360)  # even sides, never scaled up


@dataclasses.dataclass
class StallingReceiver(Bottleneck):
    """A link with room to spare whose receiver's loop stalls for ``stall_s`` every
    ``every_s``: what arrived meanwhile is handled (stamped) when the stall ends."""

    stall_s: float = 0.15
    every_s: float = 1.0
    late_flags: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self.stalls: list[tuple[float, float]] = []
        self.recorder = ArrivalRecorder(
            lambda first, last: any(s <= last and e + 0.05 >= first for s, e in self.stalls)
        )

    def run_until(self, now: float) -> None:
        start = (now // self.every_s) * self.every_s
        if start > 0 and (not self.stalls or self.stalls[-1][0] != start):
            self.stalls.append((start, start + self.stall_s))
        if self.stalls and self.stalls[-1][0] <= now < self.stalls[-1][1]:
            return  # the loop is held up: nothing is handled
        due = sorted(x for x in self.inflight if x[0] <= now)
        self.inflight = [x for x in self.inflight if x[0] > now]
        for _arrival, fid, size, complete in due:
            self.recorder.fragment(fid, size, now, complete)  # stamped when handled
        report = self.recorder.report(now, self.late_flags)
        if report is not None:
            self.cc.on_report(decode_control(encode_control(report)), now)  # type: ignore[arg-type]


def test_a_receiver_that_stalls_is_not_taken_for_a_full_link() -> None:
    # unflagged, its own stalls look like a queue and the estimate drops…
    blind = StallingReceiver(kbps=20000, late_flags=False)
    drive(blind, 12, kbps=3000)
    assert blind.cc.target_kbps() is not None and blind.cc.target_kbps() < 3000
    # …flagged late, they are no news about the network: no limit
    flagged = StallingReceiver(kbps=20000)
    drive(flagged, 12, kbps=3000)
    assert flagged.cc.target_kbps() is None, flagged.cc.target_kbps()


def test_a_real_queue_is_still_seen_when_the_receiver_stalls_too() -> None:
    link = StallingReceiver(kbps=1000, every_s=2.0)
    drive(link, 6, kbps=1500)
    target = link.cc.target_kbps()
    assert target is not None and target < 1100


@dataclasses.dataclass
class StallingSender(Bottleneck):
    """A link with room to spare whose sender's loop stalls every ``every_s``, for each of
    ``stalls_s`` in turn: nothing is sent meanwhile, a frame handed to the channel just before
    leaves when the stall ends (or never, past the channel's ``lifetime_s``), and reports are
    read after it."""

    stalls_s: tuple[float, ...] = (0.12, 0.3)
    every_s: float = 1.0
    lifetime_s: float = 0.15
    aware: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self.clock = 0.0
        self.cc = CongestionControl(self._overlaps if self.aware else lambda first, last: False)
        self.unread: list[ArrivalReport] = []

    def _stall(self, k: int) -> tuple[float, float]:
        return (k * self.every_s, k * self.every_s + self.stalls_s[k % len(self.stalls_s)])

    def _overlaps(self, first: float, last: float) -> bool:
        ended = [self._stall(k) for k in range(1, int(self.clock / self.every_s) + 1)]
        return any(s <= last and e + 0.05 >= first and e <= self.clock for s, e in ended)

    def send(self, now: float, size: int, lost: bool = False) -> None:
        start, end = self._stall(int(now // self.every_s))
        if now >= self.every_s and start <= now < end:
            return  # the loop is held up: nothing is sent
        start, end = self._stall(int(now // self.every_s) + 1)
        if start - now < 0.05:  # handed over just before a stall: its fragments wait for it
            if end - now > self.lifetime_s:
                self.fid += 1  # expired in the channel: nothing of it ever leaves
                self.cc.frame_sent(self.fid, size, now, max(1, -(-size // self.fragment)))
                return
            self.busy_until = max(self.busy_until, end)
        super().send(now, size, lost)

    def run_until(self, now: float) -> None:
        self.clock = now
        due = sorted(x for x in self.inflight if x[0] <= now)
        self.inflight = [x for x in self.inflight if x[0] > now]
        for arrival, fid, size, complete in due:
            self.recorder.fragment(fid, size, arrival, complete)
        report = self.recorder.report(now, late_flags=True)
        if report is not None:
            self.unread.append(decode_control(encode_control(report)))  # type: ignore[arg-type]
        start, end = self._stall(int(now // self.every_s))
        if now >= self.every_s and start <= now < end:
            return  # read when the loop runs again
        for r in self.unread:
            self.cc.on_report(r, now)
        self.unread.clear()


def test_a_sender_that_stalls_is_not_taken_for_a_full_or_lossy_link() -> None:
    # blind to its own stalls, the frames they held up look like a queue and like loss…
    blind = StallingSender(kbps=20000, aware=False)
    drive(blind, 12, kbps=3000)
    assert blind.cc.target_kbps() is not None and blind.cc.target_kbps() < 3000
    assert blind.cc.frame_loss is not None and blind.cc.frame_loss > 0.02
    # …aware of them, the path shows neither: no limit, no loss
    aware = StallingSender(kbps=20000)
    drive(aware, 12, kbps=3000)
    assert aware.cc.target_kbps() is None, aware.cc.target_kbps()
    assert aware.cc.frame_loss == 0.0 and aware.cc.fragment_loss == 0.0


def test_a_lossy_link_is_still_seen_when_the_sender_stalls_too() -> None:
    link = StallingSender(kbps=20000)
    drive(link, 8, kbps=3000, loss_every=5)  # every fifth frame loses a fragment
    assert link.cc.frame_loss is not None and link.cc.frame_loss > 0.1
