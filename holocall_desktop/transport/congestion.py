"""Bandwidth estimation for the hologram data channel, in the spirit of Google Congestion
Control (draft-ietf-rmcat-gcc-02) with transport-wide feedback.

The hologram channel is SCTP over DTLS: it has SCTP's loss-based congestion window but no rate
control, so a sender fills the bottleneck's queue and latency grows to the queue's length. Here
the receiver reports how each volumetric frame arrived (:class:`ArrivalRecorder` →
``ArrivalReport`` on ``control``, about every 100 ms) and the sender (:class:`CongestionControl`)
turns the reports into a target bitrate:

- **delay-based**: one frame is one packet group (its fragments leave in one burst). The
  one-way delay variation between consecutive frames, ``(a_i − a_{i−1}) − (s_i − s_{i−1})``, is
  accumulated and smoothed; the slope of a least-squares line through the last 8 to 20
  values, scaled, is compared with an adaptive threshold (:class:`TrendlineDetector`): above
  it the queue grows (*overuse*), below minus it the queue drains (*underuse*).
- **rate control** (:class:`AimdRate`): on overuse the estimate drops to 0.85 × the rate that
  arrived over the last 0.5 s; otherwise it grows 8 % a second (2 % near the rate of the last
  drop, 30 % while under half of what it was before a collapse) and never above 1.7 × what
  arrives; underuse holds it.
- **loss-based**: once a second, from the share of frames that could not be rebuilt (after the
  parity did what it could, counting only frames sent since the last drop): above 10 %, and
  within 2 s of an overuse (loss while no queue grows is random loss, which a lower rate does
  not cure), the limit drops by half the loss; below 2 % it grows 5 %. The share of
  *fragments* lost while no queue grows sets the parity the sender adds (:meth:`parity`), so
  that random loss costs parity, not frames.

A frame that arrives more than 100 ms later than the quickest of the last 10 s (against its
send time: the clocks' offset cancels) sits in a queue the trend no longer sees growing (a rung
just above the link's rate fills it slowly): that is overuse too, unless the trend shows the
queue draining.

A sender that has to skip more than a quarter of its frames in a second because the channel
still holds the one before counts that as overuse too, if the reports come in time and show no
queue: SCTP's window shrinks on loss, so a lossy link can carry less than any delay shows.

When the reports stop altogether while frames go out (a link that suddenly became far slower
than what is sent queues the reports behind the frames, for seconds), each 2 s without one
halves the estimate (from what was sent over the last second when no estimate was known yet),
as GCC does on a feedback timeout; a receiver that never sent a report (an older build) is left
alone. The reports are ordered and reliable (``control``), so on a lossy link one lost packet
holds them back for SCTP's retransmission timeout (at least 1 s) while the frames themselves
flow: when the reports that come after the silence show no queue, the estimate is given back
what it was before it (no limit, if there was none).

Either end's own device can look like the network: a receiver whose loop stalls stamps what
arrived meanwhile late (it marks those frames *late* in its report), and a sender whose loop
stalls right after handing a frame to the channel sends it only when the stall ends, or not at
all once the channel's lifetime ran out. Frames held up by either are no news about the path:
their delay is not a sample and their loss is not counted (``transport/looplag``).

The target is the least of the two and of what the receiver asks for because it cannot decode
faster (``QualityFeedback.max_bitrate_kbps``). Pure logic on injected times, no I/O: the peer
feeds it what it sent and what came back, the sender reads :meth:`CongestionControl.target_kbps`.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import logging
import math
from collections.abc import Callable

from holocall_desktop.codec.control import MAX_ARRIVALS, ArrivalReport, FrameArrival
from holocall_desktop.codec.volumetric import DEFAULT_PARITY
from holocall_desktop.transport import looplag

log = logging.getLogger(__name__)

#: the receiver reports at most this often…
REPORT_INTERVAL_S = 0.1
#: … a frame once none of its fragments came for this long
REPORT_IDLE_S = 0.04
#: frames the receiver tracks at once (older ones are reported as they are)
MAX_TRACKED = 128
#: frames sent and not reported yet that the sender remembers; older ones count as lost
HISTORY_S = 2.0
#: no report for this long while frames go out: the estimate halves (and again after as long).
#: Twice SCTP's least retransmission timeout: on a lossy link one lost packet holds the
#: (ordered, reliable) reports back for a second while the frames flow.
FEEDBACK_TIMEOUT_S = 2.0
#: a frame sent this long before one that was reported, and not reported itself, was lost
REORDER_S = 0.2

TRENDLINE_WINDOW = 20
#: the trend is taken from this many frames on (a full window of frames is 2 s at 10 fps)
TRENDLINE_MIN = 8
TRENDLINE_SMOOTHING = 0.9
TRENDLINE_GAIN = 4.0
THRESHOLD_INITIAL_MS = 12.5
THRESHOLD_UP = 0.0087
THRESHOLD_DOWN = 0.039
OVERUSE_TIME_MS = 10.0

BETA = 0.85  # on overuse: this × the arriving rate
INCREASE_FAR = 1.08  # per second, far from the last drop
INCREASE_NEAR = 1.02  # per second, within ±20 % of the rate at the last drop
#: per second, a second after the last drop while the estimate is under half of what it was
#: before the drops of the last 10 s (a collapse: the arriving rate fell below the link's while
#: SCTP stalled); the cap at 1.7 × what arrives still holds
INCREASE_RECOVER = 1.3
RECOVER_WINDOW_S = 10.0
#: the estimate never climbs above this × the arriving rate (GCC: 1.5; a rung of the ladder is
#: up to 1.5× the one below and is climbed to 10 % above its rate, so a little more here)
MAX_ABOVE_ARRIVING = 1.7
#: after a drop, the next one waits this long (for the queue to drain and the reports to show
#: the lower rate), unless what arrives fell below half the estimate
DROP_INTERVAL_S = 0.5
RATE_WINDOW_S = 0.5
LOSS_HIGH = 0.10
LOSS_LOW = 0.02
LOSS_INTERVAL_S = 1.0
CPU_INCREASE = 1.25  # per second, once the receiver stops asking for less
#: the loss limit drops only this soon after an overuse: loss with no queue growing is random
#: loss (radio, a bad cable), which a lower rate does not cure and the parity does
CONGESTED_S = 2.0
#: more than this share of the frames of a second skipped at the sender counts as overuse
SKIPPED_SHARE = 0.25
#: a frame this much later than the quickest of the last 10 s sits in a queue: overuse, if the
#: trend does not show the queue draining already
QUEUE_LIMIT_MS = 100.0
#: a frame handed to the channel this long before our own loop stalled waited for the stall
#: (the hologram channel's lifetime: after it, SCTP abandons what it could not send)
HELD_S = 0.15
#: … and only a stall this long counts: a shorter one neither outlasts that lifetime nor makes
#: a queue the standing-queue check would see, and a busy sender has many short ones (a
#: detector blind to every frame near one would miss a real queue on a slow link)
HELD_STALL_S = 0.1


def _held_by_stall(first: float, last: float) -> bool:
    return looplag.overlaps(first, last, longer_than=HELD_STALL_S)


BASE_DELAY_WINDOW_S = 10.0
#: … if the last report came no longer ago than this
FRESH_REPORT_S = 0.3
MIN_PARITY = DEFAULT_PARITY
MAX_PARITY = 1.0
PARITY_PER_LOSS = 3.5


class Signal(enum.Enum):
    NORMAL = "normal"
    OVERUSE = "overuse"
    UNDERUSE = "underuse"


@dataclasses.dataclass
class _Arriving:
    first: float
    last: float
    fragments: int = 0
    size: int = 0
    complete: float | None = None


class ArrivalRecorder:
    """Receiver side: what arrived of each volumetric frame, reported once per frame."""

    def __init__(self, stalled: Callable[[float, float], bool] = looplag.overlaps) -> None:
        #: whether this process's loop stalled while fragments stamped first…last arrived
        self._stalled = stalled
        self._frames: dict[int, _Arriving] = {}
        self._reported: collections.deque[int] = collections.deque(maxlen=256)
        self._reported_set: set[int] = set()
        self._last_report = -math.inf

    def fragment(self, frame_id: int, size: int, now: float, complete: bool) -> None:
        """One fragment of ``frame_id`` (``size`` bytes) arrived at ``now``; ``complete``: the
        frame could be rebuilt with it."""
        if frame_id in self._reported_set:
            return  # a straggler of a frame already reported
        entry = self._frames.get(frame_id)
        if entry is None:
            if len(self._frames) >= MAX_TRACKED:
                oldest = min(self._frames, key=lambda f: self._frames[f].first)
                self._forget(oldest)
            entry = self._frames[frame_id] = _Arriving(now, now)
        entry.fragments += 1
        entry.size += size
        entry.last = now
        if complete and entry.complete is None:
            entry.complete = now

    def _forget(self, frame_id: int) -> None:
        del self._frames[frame_id]
        if len(self._reported) == self._reported.maxlen:
            self._reported_set.discard(self._reported[0])
        self._reported.append(frame_id)
        self._reported_set.add(frame_id)

    def report(self, now: float, late_flags: bool = False) -> ArrivalReport | None:
        """The frames done arriving, if a report is due at ``now``; with ``late_flags`` (the
        sender reads them), frames that arrived while this loop stalled are marked late."""
        if now - self._last_report < REPORT_INTERVAL_S:
            return None
        ready = sorted(
            (e.first, fid) for fid, e in self._frames.items() if now - e.last >= REPORT_IDLE_S
        )
        if not ready:
            return None
        self._last_report = now
        frames = []
        for _, fid in ready[:MAX_ARRIVALS]:
            e = self._frames[fid]
            self._forget(fid)
            when = e.complete if e.complete is not None else e.last
            late = late_flags and self._stalled(e.first, e.last)
            frames.append(
                FrameArrival(
                    fid, e.fragments, e.size, round((when - now) * 1e6), e.complete is not None,
                    late,
                )
            )  # fmt: skip
        return ArrivalReport(now, tuple(frames))


class TrendlineDetector:
    """The delay-gradient trend of frame groups and the overuse detector with its adaptive
    threshold (GCC's arrival-time filter, as libwebrtc's trendline estimator does it)."""

    def __init__(self) -> None:
        self.accumulated_ms = 0.0
        self.smoothed_ms = 0.0
        self.samples: collections.deque[tuple[float, float]] = collections.deque(
            maxlen=TRENDLINE_WINDOW
        )
        self.deltas = 0
        self.threshold_ms = THRESHOLD_INITIAL_MS
        self.trend = 0.0
        self._prev_trend = 0.0
        self._over_ms = -1.0
        self._over_count = 0
        self._last_update_ms: float | None = None
        self.signal = Signal.NORMAL

    def update(self, delay_variation_ms: float, arrival_ms: float, send_delta_ms: float) -> Signal:
        """One frame group: its delay variation against the previous one, its arrival time."""
        self.deltas += 1
        self.accumulated_ms += delay_variation_ms
        self.smoothed_ms = (
            TRENDLINE_SMOOTHING * self.smoothed_ms + (1 - TRENDLINE_SMOOTHING) * self.accumulated_ms
        )
        self.samples.append((arrival_ms, self.smoothed_ms))
        if len(self.samples) >= TRENDLINE_MIN:
            self.trend = _slope(self.samples)
        modified = min(self.deltas, 60) * self.trend * TRENDLINE_GAIN
        self._detect(modified, send_delta_ms, arrival_ms)
        return self.signal

    def _detect(self, modified: float, send_delta_ms: float, now_ms: float) -> None:
        if self.deltas < 2:
            self.signal = Signal.NORMAL
        elif modified > self.threshold_ms:
            if self._over_ms < 0:
                self._over_ms = send_delta_ms / 2
            else:
                self._over_ms += send_delta_ms
            self._over_count += 1
            if (
                self._over_ms > OVERUSE_TIME_MS
                and self._over_count > 1
                and self.trend >= self._prev_trend
            ):
                self._over_ms = 0.0
                self._over_count = 0
                self.signal = Signal.OVERUSE
        elif modified < -self.threshold_ms:
            self._over_ms = -1.0
            self._over_count = 0
            self.signal = Signal.UNDERUSE
        else:
            self._over_ms = -1.0
            self._over_count = 0
            self.signal = Signal.NORMAL
        self._prev_trend = self.trend
        self._adapt_threshold(modified, now_ms)

    def _adapt_threshold(self, modified: float, now_ms: float) -> None:
        if self._last_update_ms is None:
            self._last_update_ms = now_ms
        if abs(modified) > self.threshold_ms + 15.0:
            self._last_update_ms = now_ms  # a spike (a lost-and-retransmitted fragment)
            return
        k = THRESHOLD_DOWN if abs(modified) < self.threshold_ms else THRESHOLD_UP
        dt = min(max(now_ms - self._last_update_ms, 0.0), 100.0)
        self.threshold_ms += k * (abs(modified) - self.threshold_ms) * dt
        self.threshold_ms = min(max(self.threshold_ms, 6.0), 600.0)
        self._last_update_ms = now_ms


def _kbps(value: float | None) -> str:
    return "none" if value is None else f"{value:.0f}"


def _slope(samples: collections.deque[tuple[float, float]]) -> float:
    n = len(samples)
    mean_x = sum(x for x, _ in samples) / n
    mean_y = sum(y for _, y in samples) / n
    num = sum((x - mean_x) * (y - mean_y) for x, y in samples)
    den = sum((x - mean_x) ** 2 for x, _ in samples)
    return num / den if den > 0 else 0.0


class AimdRate:
    """GCC's rate controller: the delay-based estimate (kbit/s) from the detector's signal and
    the arriving rate. ``None`` until the first overuse: no limit known yet."""

    def __init__(self) -> None:
        self.estimate_kbps: float | None = None
        self.last_drop_kbps: float | None = None
        self._last: float | None = None
        self._dropped_at = -math.inf
        self._hold = False
        self._before_drops: tuple[float, float] | None = None  # (when, estimate) before a fall

    @property
    def dropped_at(self) -> float:
        """When the estimate last dropped (monotonic s; -inf: never)."""
        return self._dropped_at

    def update(self, signal: Signal, arriving_kbps: float | None, now: float) -> None:
        dt = 0.0 if self._last is None else min(max(now - self._last, 0.0), 1.0)
        self._last = now
        if signal is Signal.OVERUSE:
            base = arriving_kbps if arriving_kbps else self.estimate_kbps
            est = self.estimate_kbps
            recent = now - self._dropped_at < DROP_INTERVAL_S
            if recent and est is not None and (base is None or base >= 0.5 * est):
                base = None
            if base is not None:
                self._dropped_at = now
                dropped = BETA * base
                log.info("overuse: estimate %s -> %.0f kbit/s", _kbps(est), dropped)
                if est is not None and (
                    self._before_drops is None or now - self._before_drops[0] > RECOVER_WINDOW_S
                ):
                    self._before_drops = (now, est)
                if self.estimate_kbps is None or dropped < self.estimate_kbps:
                    self.estimate_kbps = dropped
                    self.last_drop_kbps = base
            self._hold = True
            return
        if signal is Signal.UNDERUSE:
            self._hold = True
            return
        if self._hold:  # NORMAL after HOLD: start increasing from now on
            self._hold = False
            return
        est = self.estimate_kbps
        if est is None:
            return
        near = self.last_drop_kbps is not None and abs(est / self.last_drop_kbps - 1.0) < 0.2
        rate = INCREASE_NEAR if near else INCREASE_FAR
        before = self._before_drops
        if (
            before is not None
            and now - before[0] < RECOVER_WINDOW_S
            and now - self._dropped_at > 1.0
            and est < 0.5 * before[1]
        ):
            rate = INCREASE_RECOVER  # a collapse overshot (SCTP stalls): back up faster
        est *= rate**dt
        if arriving_kbps:
            est = min(est, MAX_ABOVE_ARRIVING * arriving_kbps + 10.0)
        self.estimate_kbps = est


@dataclasses.dataclass
class _Sent:
    sent: float
    size: int
    fragments: int


class CongestionControl:
    """Sender side, one per receiver: see the module doc. Times are ``time.monotonic()``."""

    def __init__(self, stalled: Callable[[float, float], bool] = _held_by_stall) -> None:
        #: whether this process's loop stalled long between two times (``time.monotonic()``)
        self._stalled = stalled
        self._sent: collections.OrderedDict[int, _Sent] = collections.OrderedDict()
        self.detector = TrendlineDetector()
        self.rate = AimdRate()
        self.loss_limit_kbps: float | None = None
        self.cpu_limit_kbps: float | None = None
        self._arrived: collections.deque[tuple[float, int]] = collections.deque()
        self._prev: tuple[float, float] | None = None  # arrival, send time of the last group
        self._frames_ok = 0
        self._frames_lost = 0
        self._fragments_sent = 0
        self._fragments_got = 0
        self.fragment_loss: float | None = None  # share of our fragments lost, last interval
        self._loss_congested = False  # whether a queue grew while that loss was measured
        self._loss_at = -math.inf
        self._loss_dropped_at = -math.inf
        self._overuse_at = -math.inf
        self._attempts = (0, 0)  # frames offered to the channel this second, and skipped
        self._skips_since = -math.inf
        self._report_at = -math.inf
        self._timeout_at = -math.inf
        self._unreported_since: float | None = None  # the first frame sent since the last report
        #: feedback timeouts since the last report, and the estimate before the first (given
        #: back when the reports after them show no queue)
        self._timed_out = False
        self._before_timeout: float | None = None
        #: (arrival, one-way delay) of the frames that may still be the least of the window
        self._owd: collections.deque[tuple[float, float]] = collections.deque()
        self.queue_ms = 0.0  # this frame's delay above the least of the last 10 s
        self._cpu_at = -math.inf
        self.frame_loss: float | None = None  # share of frames not rebuilt, last interval
        self._late_at = -math.inf  # when a report last said the receiver's loop had stalled

    # ---- what happened ---------------------------------------------------------------------

    def frame_sent(self, frame_id: int, size: int, now: float, fragments: int = 1) -> None:
        self._sent[frame_id] = _Sent(now, size, fragments)
        self._attempt(now, skipped=False)
        # no word on these for long (reports missing altogether): forget them, uncounted
        self._forget_before(now - HISTORY_S, count=False)

    def _check_feedback(self, now: float) -> None:
        """Halve the estimate for each timeout without a report while frames go out."""
        if self._unreported_since is None:
            self._unreported_since = now
        if self._report_at == -math.inf:
            return  # this receiver does not report (or not yet): nothing to miss
        since = max(self._report_at, self._timeout_at, self._unreported_since)
        if now - since < FEEDBACK_TIMEOUT_S:
            return
        recent = [s.size for s in self._sent.values() if now - s.sent < 1.0]
        # no estimate yet: what was sent over the last second, or (every frame skipped, the
        # channel full) what arrived before the silence
        base = self.rate.estimate_kbps
        if base is None:
            base = max(sum(recent) * 8 / 1000, self.arriving_kbps() or 0.0)
        if base <= 0:
            return
        if not self._timed_out:
            self._timed_out, self._before_timeout = True, self.rate.estimate_kbps
        self.rate.estimate_kbps = max(1.0, 0.5 * base)
        self._timeout_at = now
        log.info("no report for %.1f s: estimate %.0f kbit/s", now - self._report_at, base / 2)

    def _after_timeout(self, signal: Signal) -> None:
        """Reports again after feedback timeouts. No queue: the silence was the reports' own
        (held back by a retransmission), so the estimate before it comes back. A queue: the
        link did slow down, and the timeouts' guess gives way to what now arrives."""
        self._timed_out = False
        arriving = self.arriving_kbps()
        if signal is not Signal.OVERUSE:
            log.info("reports back without a queue: estimate %s", _kbps(self._before_timeout))
            self.rate.estimate_kbps = self._before_timeout
        elif signal is Signal.OVERUSE and arriving:
            est = self.rate.estimate_kbps
            self.rate.estimate_kbps = max(est or 0.0, BETA * arriving)

    def _forget_before(self, when: float, count: bool) -> None:
        while self._sent:
            fid, s = next(iter(self._sent.items()))
            if s.sent >= when:
                break
            del self._sent[fid]
            if count and not self._held_here(s):
                self._frames_lost += 1
                self._fragments_sent += s.fragments

    def _held_here(self, sent: _Sent) -> bool:
        """Whether our own loop stalled while the frame sent at ``sent.sent`` was waiting to
        go out: it left late, or not at all (our device's doing, not the path's)."""
        return self._stalled(sent.sent, sent.sent + HELD_S)

    def frame_skipped(self, now: float) -> None:
        """A frame was not sent: the channel still held the one before (SCTP could not get
        it out: its window shrank on loss, or the link is slower than any delay shows)."""
        self._attempt(now, skipped=True)

    def _attempt(self, now: float, skipped: bool) -> None:
        """A frame offered to the channel: sent, or ``skipped``."""
        self._check_feedback(now)
        if now - self._skips_since >= 1.0:
            attempts, skips = self._attempts
            # only while reports come in time and show no queue: then the channel itself
            # (SCTP's window, shrunk by loss) is the bottleneck, and what arrives is what it
            # carries; a queue on the way is the delay trend's to see
            fresh = now - self._report_at < FRESH_REPORT_S
            quiet = self.detector.signal is not Signal.OVERUSE
            quiet &= now - self._late_at > 1.0  # a stalled receiver reads its channel late
            quiet &= not self._stalled(now - 1.0, now)  # and a stalled sender sends late
            arriving = self.arriving_kbps()
            if attempts >= 5 and skips > SKIPPED_SHARE * attempts and fresh and quiet and arriving:
                log.info("%d of %d frames skipped: the channel is the bottleneck", skips, attempts)
                self._overuse_at = now
                self.rate.update(Signal.OVERUSE, arriving, now)
            self._attempts = (0, 0)
            self._skips_since = now
        attempts, skips = self._attempts
        self._attempts = (attempts + 1, skips + skipped)

    def on_report(self, report: ArrivalReport, now: float) -> None:
        self._report_at = now
        self._unreported_since = None
        if any(a.late for a in report.frames):
            self._late_at = now
        for a in sorted(report.frames, key=lambda f: f.arrival_us):
            self._on_frame(a, report.base_time + a.arrival_us / 1e6)
        signal = self.detector.signal
        if signal is Signal.NORMAL and self.queue_ms > QUEUE_LIMIT_MS:
            signal = Signal.OVERUSE  # a standing queue the trend no longer sees growing
            log.debug("queue of %.0f ms", self.queue_ms)
        if signal is Signal.OVERUSE:
            self._overuse_at = now
        if self._timed_out:
            self._after_timeout(signal)
        self.rate.update(signal, self.arriving_kbps(), now)
        self._update_loss(now)

    def _on_frame(self, a: FrameArrival, arrival: float) -> None:
        sent = self._sent.pop(a.frame_id, None)
        if sent is None:
            return  # not ours, or older than the history
        # frames sent well before this one and not reported never arrived at all
        self._forget_before(sent.sent - REORDER_S, count=True)
        held = self._held_here(sent)
        if sent.sent > self._loss_dropped_at and not held:
            # (frames sent before the last drop are its cause)
            if a.complete:
                self._frames_ok += 1
            else:
                self._frames_lost += 1
        if not held:
            self._fragments_sent += sent.fragments
            self._fragments_got += min(a.fragments, sent.fragments)
        self._arrived.append((arrival, a.size))
        while self._arrived and arrival - self._arrived[0][0] > RATE_WINDOW_S:
            self._arrived.popleft()
        if a.late or held:  # held up by either end's own loop: no news about the queue
            self._prev = None
            return
        owd = arrival - sent.sent  # one-way delay plus the clocks' offset
        lows = self._owd  # the running minimum: delays increasing, none older than the window
        while lows and lows[-1][1] >= owd:
            lows.pop()
        lows.append((arrival, owd))
        while arrival - lows[0][0] > BASE_DELAY_WINDOW_S:
            lows.popleft()
        self.queue_ms = (owd - lows[0][1]) * 1000
        prev = self._prev
        if prev is not None and sent.sent > prev[1]:
            send_delta = (sent.sent - prev[1]) * 1000
            variation = (arrival - prev[0]) * 1000 - send_delta
            self.detector.update(variation, arrival * 1000, send_delta)
        if prev is None or sent.sent > prev[1]:
            self._prev = (arrival, sent.sent)

    def arriving_kbps(self) -> float | None:
        """The hologram bitrate that arrived over the last 0.5 s (by the receiver's clock)."""
        if len(self._arrived) < 3:
            return None
        span = self._arrived[-1][0] - self._arrived[0][0]
        if span < 0.2:
            return None
        # the first frame opens the window: its bytes arrived before it
        size = sum(s for _, s in list(self._arrived)[1:])
        return size * 8 / 1000 / span

    def _update_loss(self, now: float) -> None:
        if now - self._loss_at < LOSS_INTERVAL_S:
            return
        total = self._frames_ok + self._frames_lost
        self._loss_at = now
        congested = now - self._overuse_at < CONGESTED_S
        if self._fragments_sent >= 20:
            self.fragment_loss = 1.0 - self._fragments_got / self._fragments_sent
            # loss from a full queue: more parity would only add to the load (the loss is
            # still told to the user)
            self._loss_congested = congested
            self._fragments_sent = self._fragments_got = 0
        elif congested:
            self._loss_congested = True
        if total < 5:
            return
        loss = self._frames_lost / total
        self._frames_ok = self._frames_lost = 0
        self.frame_loss = loss
        arriving = self.arriving_kbps()
        limit = self.loss_limit_kbps
        if loss > LOSS_HIGH and congested:
            # GCC: half the loss off the rate sent at; a drop of the delay-based estimate for
            # the same congestion is already in that rate
            est = self.rate.estimate_kbps
            base = limit if limit is not None else (est if est is not None else arriving)
            if base is not None:
                self.loss_limit_kbps = base * (1 - 0.5 * loss)
                self._loss_dropped_at = now
                log.info(
                    "%.0f %% of frames lost: loss limit %s -> %.0f kbit/s",
                    100 * loss,
                    _kbps(limit),
                    self.loss_limit_kbps,
                )
        elif loss < LOSS_LOW and limit is not None:
            limit *= 1.05
            if arriving and limit > MAX_ABOVE_ARRIVING * arriving:
                limit = None  # far above what is sent: no longer a limit
            self.loss_limit_kbps = limit

    def receiver_asks(self, max_kbps: int, now: float) -> None:
        """The receiver's quality feedback: the most it can take (0: no limit)."""
        dt = min(max(now - self._cpu_at, 0.0), 2.0) if self._cpu_at > -math.inf else 0.0
        self._cpu_at = now
        if max_kbps > 0:
            self.cpu_limit_kbps = float(max_kbps)
        elif self.cpu_limit_kbps is not None:
            self.cpu_limit_kbps *= CPU_INCREASE**dt
            arriving = self.arriving_kbps()
            if arriving and self.cpu_limit_kbps > 2 * arriving:
                self.cpu_limit_kbps = None

    def parity(self) -> float | None:
        """The parity (parity fragments per data fragment) that keeps frames whole at the
        fragment loss measured while no queue grows: 3.5 × the loss, from the default 25 % (up
        to 5 % loss) to 100 %; ``None`` before a measure or while congested (loss from a full
        queue is cured by sending less, not more). At 15 % loss a 16-fragment frame then carries 9
        parity fragments and loses under 1 % of frames (binomial)."""
        if self.fragment_loss is None or self._loss_congested:
            return None
        return min(MAX_PARITY, max(MIN_PARITY, PARITY_PER_LOSS * self.fragment_loss))

    def start_from(self, kbps: float) -> None:
        """A new connection replaces one that broke, whose target was ``kbps``: start from it
        instead of no limit (the top rung into a link that may have just failed under it)."""
        if self.rate.estimate_kbps is None:
            self.rate.estimate_kbps = kbps

    def probe(self, kbps: float) -> None:
        """We are about to send ``kbps`` to find out whether it fits (coming back from voice
        only, where nothing arrived to estimate from): the delay and loss limits let it
        through, and the reports that follow decide."""
        floor = 1.1 * kbps
        rate = self.rate
        if rate.estimate_kbps is not None and rate.estimate_kbps < floor:
            rate.estimate_kbps = floor
        if self.loss_limit_kbps is not None and self.loss_limit_kbps < floor:
            self.loss_limit_kbps = floor
        self._arrived.clear()
        self._prev = None
        # a fresh measure: frames lost on the way down (reported late, or never) are no news
        # about the probe, and must not take the loss limit back down at its first report
        self._forget_before(math.inf, count=False)
        self._frames_ok = self._frames_lost = 0
        self._fragments_sent = self._fragments_got = 0

    # ---- the answer ------------------------------------------------------------------------

    def limited_kbps(self, now: float, within_s: float) -> float | None:
        """:meth:`target_kbps` when the path was congested (the delay or the loss made the
        estimate drop) within the last ``within_s`` seconds, else ``None``: no limit seen
        lately (the estimate of a path that is not full only follows what is sent on it)."""
        last = max(self.rate.dropped_at, self._loss_dropped_at)
        return self.target_kbps() if now - last <= within_s else None

    def receiver_busy(self) -> bool:
        """The target is the receiver's own request (it cannot decode faster), not the
        network's limit."""
        cpu = self.cpu_limit_kbps
        return cpu is not None and cpu == self.target_kbps()

    def target_kbps(self) -> float | None:
        """The hologram bitrate to send at most; ``None``: no limit known."""
        limits = [
            x
            for x in (self.rate.estimate_kbps, self.loss_limit_kbps, self.cpu_limit_kbps)
            if x is not None
        ]
        return min(limits) if limits else None
