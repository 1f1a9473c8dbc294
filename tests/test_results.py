"""resbench.results: the typed results records hold, and the checks the store reads them through."""

import subprocess
import sys

import numpy as np
import pytest

from resbench.results import (
    EpochStats,
    ProfileResult,
    StageTime,
    TrainResult,
    check_profile_result,
    check_train_config,
    check_train_result,
    pack_correct,
    unpack_correct,
)
from resbench.errors import UsageError
from resbench.stats import summarize


def _train_result(**changes) -> dict:
    epoch = {"epoch": 1, "lr": 0.1, "train_loss": 1.0, "train_error": 0.3, "test_error": 0.3, "seconds": 1.0, "step_seconds": 0.5}
    return {"spec": "x", "params": 1, "macs": 1, "epochs": 1, "history": [epoch], "final_train_error": 0.3,
            "final_test_error": 0.3, "diverged": False, "diverged_at": None, "seconds": 1.0, "images_per_second": 1.0,
            "data_fraction": 0.0, "test_split": "test", "effective_batch_size": 8, "lr": 0.1, **changes}


def _profile_result() -> ProfileResult:
    samples = (1.0, 1.2, 1.1, 0.9)
    return ProfileResult(spec="resnet20", device="cpu", device_name="x", dtype="fp32", mode="infer", batch_size=8,
                         batch_size_requested=8, channels_last=False, compiled=False, cuda_graphs=False, threads=2,
                         params=269_722, macs=40_551_104, flops=81_102_208, latency=summarize(samples), samples_ms=samples,
                         throughput=7000.0, phases_ms=None, peak_memory_bytes=None, memory_method="rss",
                         achieved_tflops=0.5, peak_tflops=None, peak_source=None, mfu=None, compile_s=None,
                         warmup_s=0.1, measure_s=1.0, total_s=1.2, breakdown=(StageTime("stem", 0.1, 1.0, None, None),))


def test_a_train_result_reads_back_as_itself():
    r = check_train_result(_train_result())
    assert isinstance(r, TrainResult) and r.history == (EpochStats(1, 0.1, 1.0, 0.3, 0.3, 1.0, 0.5),)
    assert TrainResult.from_dict(r.to_dict()) == r
    assert r.to_dict()["test_error"] == 0.3  # the flat names tables and trackers read


@pytest.mark.parametrize("changes, match", [
    ({"final_test_error": 1.5}, "final_test_error"),
    ({"params": 0}, "params"),
    ({"seconds": 0.0}, "seconds"),
    ({"epochs": 2}, "history holds 1"),
    ({"history": [], "epochs": 0}, "no history"),
    ({"contention": 2.0}, "contention"),
    ({"data_official": "yes"}, "data_official"),
    ({"history": "none"}, "not a list"),
])
def test_a_train_result_no_run_could_have_produced_is_refused(changes, match):
    with pytest.raises((ValueError, TypeError, UsageError), match=match):
        check_train_result(_train_result(**changes))


def test_a_train_config_with_no_epochs_or_a_negative_seed_is_refused():
    check_train_config({"epochs": 1, "batch_size": 8, "seed": 0})
    for bad, match in (({"epochs": 0}, "epochs"), ({"seed": -1}, "seed"), ({"batch_size": 1.5}, "batch size")):
        with pytest.raises((ValueError, TypeError, UsageError), match=match):
            check_train_config(bad)


def test_a_profile_result_reads_back_as_itself_and_its_samples_must_agree_with_their_count():
    p = _profile_result()
    assert check_profile_result(p.to_dict()) == p
    d = p.to_dict()
    d["samples_ms"] = d["samples_ms"][:2]
    with pytest.raises(ValueError, match="n_samples is 4"):
        check_profile_result(d)
    d = p.to_dict()
    d["mfu"] = 1.5
    with pytest.raises(UsageError, match="mfu"):
        check_profile_result(d)


def test_the_result_types_load_without_torch():
    code = "import sys, resbench.results, resbench.store; print('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "False"


def test_the_result_keeps_its_per_image_answers_checked_against_its_error():
    right = np.array([True] * 7 + [False] * 3)
    text = pack_correct(right)
    assert (unpack_correct(text, 10) == right).all()
    with pytest.raises(ValueError, match="do not hold"):
        unpack_correct(text, 20)
    base = _train_result()
    assert check_train_result({**base, "test_correct": text, "test_images": 10}).correct().sum() == 7
    with pytest.raises(ValueError, match="disagree"):
        check_train_result({**base, "final_test_error": 0.5, "test_correct": text, "test_images": 10})
    with pytest.raises(TypeError, match="count of images"):
        check_train_result({**base, "test_correct": text, "test_images": "10"})
