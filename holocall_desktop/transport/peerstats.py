"""What is measured about one remote participant: counters, the clock estimate, the stats.

:class:`PeerMetrics` belongs to one :class:`~holocall_desktop.transport.peer.Peer` and lives on
the engine's event loop, except :meth:`PeerMetrics.record_latency`, which the UI thread may call
(a deque append, atomic under the GIL; :meth:`collect` copies the deque in one step).
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import statistics
import time
from typing import Any

from holocall_desktop.codec import control as wire
from holocall_desktop.transport.api import PeerStats
from holocall_desktop.transport.congestion import ArrivalRecorder, CongestionControl
from holocall_desktop.transport.ladder import rung_rating

log = logging.getLogger(__name__)

#: receivers that cannot decode fast enough never ask for less than this bitrate
MIN_REQUEST_KBPS = 100
#: clock samples kept; the offset comes from the one with the smallest round trip
CLOCK_SAMPLES = 16


class ClockEstimate:
    """Round trip and wall-clock offset from our pings and their pongs (NTP-style)."""

    def __init__(self) -> None:
        self.seq = 0
        self.pending: dict[int, float] = {}  # seq -> t1 of the pings not answered yet
        self.samples: collections.deque[tuple[float, float]] = collections.deque(
            maxlen=CLOCK_SAMPLES
        )
        self.rtt_s: float | None = None
        self.offset_s: float | None = None

    def next_ping(self) -> wire.Ping:
        self.seq = (self.seq + 1) & 0xFFFFFFFF
        t1 = time.time()
        self.pending[self.seq] = t1
        while len(self.pending) > CLOCK_SAMPLES:
            del self.pending[next(iter(self.pending))]
        return wire.Ping(self.seq, t1)

    def on_pong(self, msg: wire.Pong, now: float) -> bool:
        """Take a pong received at ``now``; False if it answers no ping of ours."""
        if self.pending.pop(msg.seq, None) != msg.t1:
            return False
        self.samples.append(wire.clock_sample(msg, now))
        self.rtt_s = statistics.median(r for r, _ in self.samples)
        self.offset_s = min(self.samples)[1]
        return True

    def to_local_time(self, remote_time: float) -> float:
        return remote_time - (self.offset_s or 0.0)


class PeerMetrics:
    """Counters of one peer and the :class:`PeerStats` made from them once a second."""

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        self.bytes_in = 0
        self.bytes_out = 0
        self.frames_in = 0
        self.frames_out = 0
        self.frames_bad = 0
        self.frames_dropped = 0
        self.frames_skipped = 0  # not sent: the path was still busy with earlier frames
        self.ids_seen = 0  # frame-id advance on the data channel (for loss)
        self.ids_done = 0
        self.ids_pending = 0  # frames of which fragments are in but that are not done yet
        self.frame_times: collections.deque[float] = collections.deque(maxlen=240)
        self.latencies: collections.deque[tuple[float, float]] = collections.deque(maxlen=600)
        self.clock = ClockEstimate()
        self.arrivals = ArrivalRecorder()  # how this peer's frames arrive, for its estimate
        self.remote_feedback: wire.QualityFeedback | None = None
        self._prev = (0, 0, 0.0, 0, 0)  # bytes_in, bytes_out, time, ids_seen, ids_done
        self._dropped_prev = 0
        self._rtp_prev = (0, 0)  # RTP packets received, lost (getStats is cumulative)
        self._wire_prev: tuple[float, float] | None = None  # DTLS bytes in, out

    def record_latency(self, when: float, latency_ms: float) -> None:
        """A frame of this peer was drawn ``latency_ms`` after its capture (any thread)."""
        self.latencies.append((when, latency_ms))

    def bitrate_request(self, st: PeerStats) -> int:
        """The bitrate (kbit/s) to ask this peer for: 0 (no limit) while its frames are decoded
        as fast as they come; 70 % of what arrives when over a fifth of them are replaced before
        they could be decoded (latest-wins drops: this machine's decode headroom). Loss and
        queueing on the network are the sender's bandwidth estimate's business (arrival
        reports, transport/congestion.py), not asked for here."""
        dropped = st.frames_dropped - self._dropped_prev
        self._dropped_prev = st.frames_dropped
        struggling = dropped > 0.2 * max(1.0, st.fps_in)
        if not struggling or st.bitrate_in_kbps <= 0:
            return 0
        return max(MIN_REQUEST_KBPS, int(st.bitrate_in_kbps * 0.7))

    def collect(self, rtp: dict[str, float | None], now_mono: float) -> PeerStats:
        b_in, b_out, t_prev, seen_prev, done_prev = self._prev
        dt = max(1e-3, now_mono - t_prev) if t_prev else 1.0
        rate_in = (self.bytes_in - b_in) * 8 / 1000 / dt
        rate_out = (self.bytes_out - b_out) * 8 / 1000 / dt
        wire_in, wire_out = rtp.get("wire_in"), rtp.get("wire_out")
        if wire_in is not None and wire_out is not None:
            if self._wire_prev is not None and t_prev:
                # everything on the wire: data channels and media, with their overhead
                rate_in = (wire_in - self._wire_prev[0]) * 8 / 1000 / dt
                rate_out = (wire_out - self._wire_prev[1]) * 8 / 1000 / dt
            self._wire_prev = (wire_in, wire_out)
        # a frame still arriving (some of its fragments in) is neither lost nor done yet
        settled = self.ids_seen - self.ids_pending
        seen = settled - seen_prev
        done = self.ids_done - done_prev
        self._prev = (self.bytes_in, self.bytes_out, now_mono, settled, self.ids_done)
        fps = sum(1 for t in self.frame_times if now_mono - t <= 1.0)
        wall = time.time()
        # list() copies in one step: record_latency() appends from the UI thread
        recent = [ms for t, ms in list(self.latencies) if wall - t <= 1.0]
        fb = self.remote_feedback
        # the worst of the RTP streams and the hologram channel's frames
        losses = [x for x in (rtp.get("loss"),) if x is not None]
        if seen > 0:
            losses.append(max(0.0, 1.0 - done / seen))
        loss = max(losses) if losses else None
        clock = self.clock
        return PeerStats(
            user_id=self.user_id,
            rtt_ms=None if clock.rtt_s is None else clock.rtt_s * 1000,
            loss=loss,
            jitter_ms=rtp.get("jitter_ms"),
            bitrate_in_kbps=rate_in,
            bitrate_out_kbps=rate_out,
            fps_in=float(fps),
            latency_ms=statistics.median(recent) if recent else None,
            frames_in=self.frames_in,
            frames_bad=self.frames_bad,
            clock_offset_ms=None if clock.offset_s is None else clock.offset_s * 1000,
            frames_out=self.frames_out,
            frames_dropped=self.frames_dropped,
            frames_skipped=self.frames_skipped,
            remote_fps_in=fb.fps if fb is not None else None,
            remote_loss=fb.loss if fb is not None else None,
            remote_latency_ms=fb.latency_ms if fb is not None else None,
        )

    def rtp_from_report(self, report: Any) -> dict[str, float | None]:
        """From aiortc's ``getStats()`` report: loss and jitter of the incoming RTP streams
        (video track, audio) over the last interval, and the bytes on the DTLS transport
        (``wire_in``, ``wire_out``: data channels and media together, cumulative)."""
        received = lost = 0
        wire_in = wire_out = 0
        jitters: list[float] = []
        for stat in report.values():
            kind = getattr(stat, "type", None)
            if kind == "inbound-rtp":
                received += int(getattr(stat, "packetsReceived", 0) or 0)
                lost += max(0, int(getattr(stat, "packetsLost", 0) or 0))
                if getattr(stat, "packetsReceived", 0):
                    clock = 90000 if getattr(stat, "kind", "") == "video" else 48000
                    jitters.append(float(getattr(stat, "jitter", 0) or 0) / clock * 1000)
            elif kind == "transport":
                wire_in += int(getattr(stat, "bytesReceived", 0) or 0)
                wire_out += int(getattr(stat, "bytesSent", 0) or 0)
        out: dict[str, float | None] = {"wire_in": float(wire_in), "wire_out": float(wire_out)}
        d_received, d_lost = received - self._rtp_prev[0], lost - self._rtp_prev[1]
        self._rtp_prev = (received, lost)
        if d_received + d_lost > 0:
            out["loss"] = max(0.0, d_lost / (d_received + d_lost))
        if jitters:
            out["jitter_ms"] = max(jitters)
        return out


#: network quality thresholds: (good from, poor from)
LOSS_STEPS = (0.02, 0.10)
RTT_STEPS_MS = (150.0, 400.0)
JITTER_STEPS_MS = (30.0, 100.0)


def assess_network(st: PeerStats) -> tuple[str, str]:
    """The network to one participant as the user is told it: ``"excellent"``, ``"good"``,
    ``"poor"`` or ``"unknown"``, with the reason for anything below excellent. From the loss
    both ways (what arrives from them; of ours, the fragments lost on the way or the frames
    they could not rebuild, whichever is more), the round trip,
    the jitter and the rung of the quality ladder our hologram to them is down to."""
    if st.rtt_ms is None and st.loss is None:
        return "unknown", "measuring"
    findings: list[tuple[int, str]] = []  # (0 good, 1 poor), reason

    def check(value: float | None, steps: tuple[float, float], text: str) -> None:
        if value is None or value < steps[0]:
            return
        findings.append((1 if value >= steps[1] else 0, text))

    check(st.loss, LOSS_STEPS, f"{(st.loss or 0) * 100:.0f} % loss")
    # our packets lost on the way to them: what the parity had to make good, or could not
    out = max(
        (x for x in (st.remote_frame_loss, st.fragment_loss_out) if x is not None), default=None
    )
    check(out, LOSS_STEPS, f"{(out or 0) * 100:.0f} % loss out")
    check(st.rtt_ms, RTT_STEPS_MS, f"round trip {st.rtt_ms or 0:.0f} ms")
    check(st.jitter_ms, JITTER_STEPS_MS, f"jitter {st.jitter_ms or 0:.0f} ms")
    rating = 0 if st.send_rung is None else rung_rating(st.send_rung)
    if rating and st.receiver_busy:
        findings.append((0, "their device is busy"))  # not the network's doing: good at worst
    elif rating:
        slow = "slow link" if st.estimate_kbps is None else f"{st.estimate_kbps / 1000:.1f} Mbit/s"
        findings.append((rating - 1, slow))
    if not findings:
        return "excellent", ""
    worst = max(level for level, _ in findings)
    # the reasons for the rating first, then the lesser ones (a slow rung is often the loss's
    # doing: "0.6 Mbit/s, 8 % loss out")
    reasons = [text for level, text in sorted(findings, key=lambda f: -f[0])]
    return ("poor" if worst else "good"), ", ".join(reasons)


async def collect_peer_stats(
    pc: Any, metrics: PeerMetrics, congestion: CongestionControl, now_mono: float
) -> PeerStats:
    """One peer connection's :class:`PeerStats` for this interval: aiortc's ``getStats`` of
    ``pc``, the ``metrics`` counters and the ``congestion`` estimate of the path to it."""
    try:
        report = await pc.getStats()
    except Exception as exc:
        log.debug("getStats failed: %s", exc)
        rtp: dict[str, float | None] = {}
    else:
        rtp = metrics.rtp_from_report(report)
    return dataclasses.replace(
        metrics.collect(rtp, now_mono),
        estimate_kbps=congestion.target_kbps(),
        receiver_busy=congestion.receiver_busy(),
        remote_frame_loss=congestion.frame_loss,
        fragment_loss_out=congestion.fragment_loss,
    )
