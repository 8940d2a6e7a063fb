"""One-Euro smoothing of tracked values."""

from __future__ import annotations

import numpy as np

from holocall_desktop.avatar.smoothing import OneEuroFilter, OneEuroParams, QuaternionOneEuroFilter


def test_one_euro_reduces_noise_on_a_still_signal() -> None:
    rng = np.random.default_rng(1)
    f = OneEuroFilter(OneEuroParams(min_cutoff=1.0, beta=0.0))
    noisy = 0.5 + rng.normal(0, 0.05, size=(300, 3))
    out = np.array([f(x, i / 30) for i, x in enumerate(noisy)])
    assert np.std(out[30:]) < 0.4 * np.std(noisy[30:])  # theory: ×0.31 at 30 Hz
    np.testing.assert_allclose(out[30:].mean(axis=0), 0.5, atol=0.02)


def test_speed_raises_the_cutoff() -> None:
    step = [0.0] * 10 + [1.0] * 10
    slow = OneEuroFilter(OneEuroParams(min_cutoff=0.5, beta=0.0))
    fast = OneEuroFilter(OneEuroParams(min_cutoff=0.5, beta=5.0))
    out_slow = [float(slow([v], i / 30)[0]) for i, v in enumerate(step)]
    out_fast = [float(fast([v], i / 30)[0]) for i, v in enumerate(step)]
    assert out_fast[12] > out_slow[12] + 0.2  # follows the jump with less lag
    assert out_fast[-1] > 0.9


def test_reset_forgets_history() -> None:
    f = OneEuroFilter(OneEuroParams(min_cutoff=0.1))
    f([0.0], 0.0)
    f.reset()
    assert f([1.0], 1.0)[0] == 1.0


def test_quaternion_filter_handles_sign_flips_and_stays_unit() -> None:
    f = QuaternionOneEuroFilter(OneEuroParams(min_cutoff=1.0))
    q = np.array([0.0, 0.0, np.sin(0.2), np.cos(0.2)])
    outs = [f(q if i % 2 else -q, i / 30) for i in range(20)]  # same rotation, flipping sign
    for out in outs:
        assert abs(np.linalg.norm(out) - 1) < 1e-9
        assert abs(abs(float(np.dot(out, q))) - 1) < 1e-6
