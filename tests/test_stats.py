import numpy as np
import pytest

from resbench.stats import summarize


def test_percentiles_on_known_samples():
    s = summarize(range(1, 101))  # 1..100
    assert s.median == 50.5
    assert s.mean == 50.5
    assert (s.min, s.max, s.n) == (1, 100, 100)
    assert s.p90 == pytest.approx(90.1)  # linear interpolation: 1 + 0.9 * 99
    assert s.p99 == pytest.approx(99.01)
    assert s.iqr == pytest.approx(75.25 - 25.75)
    assert s.std == pytest.approx(np.std(np.arange(1, 101), ddof=1))


def test_noise_flag():
    assert not summarize([10, 10.1, 9.9, 10.05, 9.95]).noisy
    assert summarize([10, 14, 6, 13, 7]).noisy


def test_single_sample_and_empty():
    s = summarize([3.0])
    assert (s.median, s.std, s.iqr) == (3.0, 0.0, 0.0)
    with pytest.raises(ValueError):
        summarize([])
