"""Comparison rows (resbench.train.comparison.summarize_arms) from typed results, no training:
diverged seeds counted per arm and left out of every pair, per-image intervals from three
pairs, Holm across arms, and the words under the table."""

import numpy as np
import pytest

from resbench.spec import parse_spec
from resbench.results import EpochStats, TrainResult, pack_correct

A, B, C = (parse_spec(s) for s in ("cifar-resnet8", "cifar-resnet8:shortcut=B", "cifar-resnet8:shortcut=C"))


def _result(spec, error: float | None, right=None) -> TrainResult:
    diverged = error is None
    hist = () if diverged else (EpochStats(1, 0.1, 1.0, error, error, 1.0, 0.5),)
    return TrainResult(spec=spec.name, params=1, macs=1, epochs=len(hist), history=hist,
                       final_train_error=error, final_test_error=error, diverged=diverged,
                       diverged_at="epoch 1, step 3" if diverged else None, seconds=1.0, images_per_second=1.0,
                       data_fraction=0.0, test_split="test", effective_batch_size=8, lr=0.1,
                       test_correct=None if right is None else pack_correct(right),
                       test_images=None if right is None else len(right))


def test_a_diverged_seed_is_counted_and_left_out_of_every_pair():
    from resbench.report.compare import compare_table, power_lines
    from resbench.train.comparison import summarize_arms

    results = [(A, 0, _result(A, 0.30)), (A, 1, _result(A, 0.32)), (A, 2, _result(A, 0.31)),
               (B, 0, _result(B, 0.35)), (B, 1, _result(B, None)), (B, 2, _result(B, 0.36))]
    ref, b = summarize_arms([A, B], results, A)
    assert (b.seeds, b.diverged, b.diverged_seeds, b.pairs) == (2, 1, (1,), 2)
    assert b.test_error_mean == pytest.approx(0.355) and b.delta_test_error == pytest.approx(0.05)
    assert b.interval_method == "paired-t" and b.p_adjust_method == "none"
    lines = power_lines([ref, b])
    assert any("1 seed(s) diverged (1)" in line and "left out of its mean and of every pair" in line for line in lines)
    from rich.console import Console

    console = Console(width=250, record=True)
    console.print(compare_table([ref, b]))
    assert "2 (+1 diverged)" in console.export_text()


def test_three_pairs_with_per_image_results_get_the_seed_and_image_interval_and_holm():
    from resbench.train.comparison import summarize_arms

    rng = np.random.default_rng(0)
    n = 2000
    base = rng.random(n) > 0.3
    results = []
    for seed in range(3):
        for spec, flip in ((A, 0.0), (B, 0.02), (C, 0.10)):
            right = base.copy()
            right[rng.random(n) < flip] = False  # the arm gets some of the reference's images wrong
            results.append((spec, seed, _result(spec, float(1 - right.mean()), right)))
    ref, b, c = summarize_arms([A, B, C], results, A)
    for row in (b, c):
        assert row.interval_method == "seed-and-image-bonferroni" and row.p_adjust_method == "holm"
        assert row.ci_level == pytest.approx(0.975) and row.delta_ci[0] < row.delta_test_error < row.delta_ci[1]
    assert c.significant and c.delta_test_error > b.delta_test_error
    # Holm over two arms: the smaller p doubled, the larger kept (never below the first)
    first, second = sorted((b, c), key=lambda r: r.p_value)
    assert first.p_adjusted == pytest.approx(min(1.0, 2 * first.p_value))
    assert second.p_adjusted == pytest.approx(max(first.p_adjusted, second.p_value))
    d = c.to_dict()
    assert isinstance(d["delta_ci"], list) and "look" not in d and d["diverged_seeds"] == []
