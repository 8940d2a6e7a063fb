"""The receiver's bitrate request from what arrives (loss, latest-wins drops, queueing)."""

from __future__ import annotations

from holocall_desktop.transport.api import PeerStats
from holocall_desktop.transport.peerstats import MIN_REQUEST_KBPS, PeerMetrics


def _stats(**kw: object) -> PeerStats:
    base: dict[str, object] = {"user_id": "x", "bitrate_in_kbps": 1000.0, "fps_in": 30.0}
    return PeerStats(**{**base, **kw})  # type: ignore[arg-type]


def test_a_stream_that_arrives_well_asks_for_no_limit() -> None:
    assert PeerMetrics("x").bitrate_request(_stats(loss=0.01, latency_ms=40.0, rtt_ms=20.0)) == 0


def test_loss_drops_and_queueing_each_ask_for_70_percent() -> None:
    assert PeerMetrics("x").bitrate_request(_stats(loss=0.2)) == 700
    metrics = PeerMetrics("x")
    assert metrics.bitrate_request(_stats(frames_dropped=10)) == 700  # 10 in a second: too many
    assert metrics.bitrate_request(_stats(frames_dropped=10)) == 0  # none new since
    assert PeerMetrics("x").bitrate_request(_stats(latency_ms=300.0, rtt_ms=40.0)) == 700


def test_the_request_has_a_floor() -> None:
    assert PeerMetrics("x").bitrate_request(_stats(loss=0.5, bitrate_in_kbps=50.0)) == (
        MIN_REQUEST_KBPS
    )
