"""Depth quantisation, prediction and the residual/mask streams."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from holocall_desktop.codec import depthcode as dc
from holocall_desktop.codec.base import CodecError


def test_realsense_step_matches_intels_rms_formula() -> None:
    # D435 at 848x480: fx ~ 426 px, baseline 50 mm, subpixel 0.08 -> 3.76 mm at 1 m
    assert dc.realsense_step_at_1m(426.0) == pytest.approx(0.08 / (426.0 * 0.05))


@pytest.mark.parametrize("step", [0.001, 0.0037, 0.01])
def test_quantisation_error_is_at_most_half_a_step_plus_rounding(step: float) -> None:
    depth = np.arange(200, 4000, dtype=np.uint16).reshape(1, -1)
    k = dc.quantiser_constant(step, 0.001)
    back = dc.dequantise(dc.quantise(depth, k), k).astype(np.float64)
    d = depth.astype(np.float64)
    local_step = d**2 / k  # depth step (mm) at each depth
    # half a step (1 % slack: the code spacing around d is not exactly d^2/K) plus mm rounding
    assert np.all(np.abs(back - d) <= 0.505 * local_step + 0.5)
    # the error grows as z^2 like the sensor's and stays below the sensor-derived step
    assert np.all(np.abs(back - d) <= np.maximum(step * 1000 * (d / 1000) ** 2, 1.0))


def test_depth_is_exact_where_the_step_is_below_one_unit() -> None:
    k = dc.quantiser_constant(0.0037, 0.001)
    limit = int(np.sqrt(k))
    depth = np.arange(int(k / 65535) + 1, limit, dtype=np.uint16).reshape(1, -1)
    assert np.array_equal(dc.dequantise(dc.quantise(depth, k), k), depth)


def test_invalid_pixels_stay_invalid() -> None:
    depth = np.array([[0, 1000, 0, 65535]], dtype=np.uint16)
    k = dc.quantiser_constant(0.003, 0.001)
    q = dc.quantise(depth, k)
    assert list(q[0] > 0) == [False, True, False, True]
    assert list(dc.dequantise(q, k)[0] > 0) == [False, True, False, True]


@given(
    codes=hnp.arrays(
        np.uint16, st.tuples(st.integers(1, 24), st.integers(1, 24)), elements=st.integers(0, 65535)
    ),
)
@settings(max_examples=150, deadline=None)
def test_prediction_round_trips_any_codes_and_mask(codes: np.ndarray) -> None:
    mask = codes > 0
    runs = dc.mask_runs(mask)
    assert np.array_equal(dc.runs_to_mask(runs, mask.shape), mask)
    residuals = dc.predict(codes, mask, runs)
    assert residuals.size == int(mask.sum())
    packed = dc.pack_unsigned(dc.zigzag(residuals))
    back = dc.unzigzag(dc.unpack_unsigned(*packed))
    assert np.array_equal(back, residuals)
    pairs, *escapes = dc.pack_nibbles(dc.zigzag(residuals))
    nib = dc.unzigzag(dc.unpack_nibbles(pairs, residuals.size, *escapes))
    assert np.array_equal(nib, residuals)
    assert np.array_equal(dc.reconstruct(back, mask, runs), codes)
    for levels in (1, 3):
        hier = dc.predict_levels(codes, mask, levels)
        assert hier.size == int(mask.sum())
        assert np.array_equal(dc.reconstruct_levels(hier, mask, levels), codes)


def test_smooth_surfaces_give_small_residuals() -> None:
    y, x = np.mgrid[0:100, 0:100]
    codes = (300 + x + 2 * y).astype(np.uint16)  # a plane: the gradient predictor is exact
    mask = codes > 0
    r = dc.predict(codes, mask, dc.mask_runs(mask))
    image = np.zeros(codes.shape, np.int64)
    image[mask] = r
    assert not image[1:, 1:].any()  # exact inside; only the first row and column carry values


def test_interpolation_averages_noise_away() -> None:
    """On a noisy plane the hierarchical residuals are smaller than the causal ones."""
    rng = np.random.default_rng(0)
    codes = np.rint(300 + rng.normal(0, 1.2, (120, 160))).astype(np.uint16)
    mask = codes > 0
    causal = dc.predict(codes, mask, dc.mask_runs(mask))
    hier = dc.predict_levels(codes, mask)
    assert np.mean(np.abs(hier)) < 0.75 * np.mean(np.abs(causal))


def test_mask_runs_reject_wrong_totals() -> None:
    with pytest.raises(CodecError):
        dc.runs_to_mask(np.array([3, 4], dtype=np.int64), (2, 2))


def test_escape_counts_are_checked() -> None:
    small = np.array([255, 1], dtype=np.uint8)
    with pytest.raises(CodecError, match="escape"):
        dc.unpack_unsigned(small, np.zeros(0, np.uint16), np.zeros(0, np.uint32))


def test_nibble_streams_are_checked() -> None:
    pairs, *escapes = dc.pack_nibbles(np.array([1, 2, 30, 4], dtype=np.int64))
    assert pairs.tolist() == [0x12, 0xF4]
    with pytest.raises(CodecError):
        dc.unpack_nibbles(pairs, 6, *escapes)
    with pytest.raises(CodecError):
        dc.unpack_nibbles(pairs, 4, np.zeros(0, np.uint8), escapes[1], escapes[2])


def test_codes_out_of_range_are_rejected() -> None:
    mask = np.ones((1, 2), dtype=bool)
    runs = dc.mask_runs(mask)
    with pytest.raises(CodecError):
        dc.reconstruct(np.array([70000, 0], dtype=np.int64), mask, runs)
    with pytest.raises(CodecError):
        dc.reconstruct(np.array([5, -10], dtype=np.int64), mask, runs)
    with pytest.raises(CodecError):
        dc.reconstruct_levels(np.array([5, -10], dtype=np.int64), mask)
    with pytest.raises(CodecError):
        dc.reconstruct_levels(np.array([5, 1 << 40], dtype=np.int64), mask)
    with pytest.raises(CodecError):
        dc.reconstruct_levels(np.array([5], dtype=np.int64), mask)
