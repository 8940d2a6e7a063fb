"""The receiver's bitrate request from what arrives (loss, latest-wins drops, queueing)."""

from __future__ import annotations

import dataclasses

from holocall_desktop.transport.api import PeerStats
from holocall_desktop.transport.congestion import CongestionControl
from holocall_desktop.transport.peerstats import MIN_REQUEST_KBPS, PeerMetrics, assess_network


def _stats(**kw: object) -> PeerStats:
    base: dict[str, object] = {"user_id": "x", "bitrate_in_kbps": 1000.0, "fps_in": 30.0}
    return PeerStats(**{**base, **kw})  # type: ignore[arg-type]


def test_a_stream_that_arrives_well_asks_for_no_limit() -> None:
    assert PeerMetrics("x").bitrate_request(_stats(loss=0.01, latency_ms=40.0, rtt_ms=20.0)) == 0


def test_decode_drops_ask_for_70_percent_and_network_trouble_does_not() -> None:
    metrics = PeerMetrics("x")
    assert metrics.bitrate_request(_stats(frames_dropped=10)) == 700  # 10 in a second: too many
    assert metrics.bitrate_request(_stats(frames_dropped=10)) == 0  # none new since
    # loss and queueing are for the sender's bandwidth estimate (arrival reports)
    assert PeerMetrics("x").bitrate_request(_stats(loss=0.2)) == 0
    assert PeerMetrics("x").bitrate_request(_stats(latency_ms=300.0, rtt_ms=40.0)) == 0


def test_the_request_has_a_floor() -> None:
    assert PeerMetrics("x").bitrate_request(_stats(frames_dropped=10, bitrate_in_kbps=50.0)) == (
        MIN_REQUEST_KBPS
    )


def test_a_frame_still_arriving_is_not_counted_lost() -> None:
    """With a frame in many fragments, one is usually part-way in when the stats are taken:
    that is not a lost frame (it read as 1/fps of loss, enough at 15 fps to ask for less)."""
    m = PeerMetrics("x")
    m.collect({}, 0.0)
    m.ids_seen, m.ids_done, m.ids_pending = 30, 29, 1  # the 30th is arriving
    assert m.collect({}, 1.0).loss == 0.0
    m.ids_seen, m.ids_done, m.ids_pending = 60, 59, 0  # it completed; one other was lost
    assert m.collect({}, 2.0).loss == 1 - 30 / 31


def test_the_network_rating_names_the_worst_reasons_first_then_the_lesser_ones() -> None:
    clean = PeerStats(user_id="a", rtt_ms=20.0, loss=0.0)
    assert assess_network(clean) == ("excellent", "")
    lossy = PeerStats(user_id="a", rtt_ms=20.0, loss=0.0, fragment_loss_out=0.15)
    assert assess_network(lossy) == ("poor", "15 % loss out")
    # down to a minimal rung by a link that also loses 5 %: poor for the rung, and why
    slow = PeerStats(
        user_id="a", rtt_ms=20.0, loss=0.0, fragment_loss_out=0.05, send_rung="minimal",
        estimate_kbps=600.0,
    )  # fmt: skip
    assert assess_network(slow) == ("poor", "0.6 Mbit/s, 5 % loss out")


def test_a_receiver_that_cannot_decode_faster_is_not_a_poor_network() -> None:
    busy = PeerStats(
        user_id="a", rtt_ms=20.0, loss=0.0, send_rung="avatar", estimate_kbps=200.0,
        receiver_busy=True,
    )  # fmt: skip
    assert assess_network(busy) == ("good", "their device is busy")
    # the same rung because of the link: poor
    assert assess_network(dataclasses.replace(busy, receiver_busy=False))[0] == "poor"


def test_the_estimate_is_the_receivers_when_its_request_is_the_least_limit() -> None:
    cc = CongestionControl()
    cc.receiver_asks(300, 1.0)
    assert cc.target_kbps() == 300 and cc.receiver_busy()
    cc.rate.estimate_kbps = 250.0  # the network's estimate below it: the network's doing
    assert not cc.receiver_busy()
