"""A stored train record keeps its per-image answers (what compare's per-image intervals and
figure read); the figures' forms: a comparison's forest and curves, a run's curves beside
the paper's figure. Other forms are tested with the commands that draw them
(tests/train/test_recipe.py)."""

import json


def test_a_stored_train_record_holds_its_per_image_answers(cli, tmp_path):
    from resbench.store import read_record

    code, out, err = cli("train", "cifar-resnet8", "--dataset", "synthetic", "--device", "cpu", "--subset", "64",
                         "--test-subset", "32", "--epochs", "1", "--results-dir", tmp_path)
    assert code == 0, err
    (path,) = (tmp_path / "records" / "train").glob("*.json")
    result = read_record(path).typed_result()
    right = result.correct()
    assert result.test_images == 32 and right.shape == (32,) and right.dtype == bool
    assert 1 - right.mean() == result.final_test_error
    assert isinstance(json.loads(path.read_text())["result"]["test_correct"], str)  # packed bits, base64


def test_curves_are_drawn_beside_the_forest_only_for_runs_of_several_epochs(tmp_path):
    """No training: a comparison's figure from its rows and histories."""
    from types import SimpleNamespace

    from tests.conftest import arm_row

    from resbench.report.plots import comparison_figure

    rows = (arm_row("a", reference=True), arm_row("b", delta_test_error=0.02, delta_ci=(0.01, 0.03)))
    errors = {"a": {0: 0.30, 1: 0.31}, "b": {0: 0.32, 1: 0.33}}
    for epochs, curves in ((1, False), (2, True)):
        hist = [[{"epoch": e, "train_error": 0.5 / e, "test_error": 0.6 / e} for e in range(1, epochs + 1)]] * 2
        cmp = SimpleNamespace(config=SimpleNamespace(epochs=epochs), rows=rows, seed_errors=errors, title="t",
                              histories={"a": hist, "b": hist})
        png = tmp_path / f"e{epochs}.png"
        comparison_figure(cmp, str(png))
        assert png.stat().st_size > 5_000 and (tmp_path / f"e{epochs}-curves.png").exists() == curves


def test_reference_lines_are_drawn_on_a_log_error_axis_that_still_shows_zero(tmp_path, monkeypatch):
    import resbench.report.plots as plots

    drawn = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: drawn.append(fig))
    hist = [[{"epoch": e, "train_error": 0.5 / e if e < 10 else 0.0, "test_error": 0.6 / e} for e in range(1, 11)]]
    plots.error_curves({"resnet20": hist}, str(tmp_path / "c.png"), references={"paper": 0.0875, "repro": 0.0827})
    (ax,) = drawn[0].axes
    flat = sorted(line.get_ydata()[0] for line in ax.get_lines() if len(set(line.get_ydata())) == 1)
    assert flat == [8.27, 8.75] and ax.get_yscale() == "symlog"
    assert {t.get_text() for t in ax.get_legend().get_texts()} >= {"paper: 8.75%", "repro: 8.27%"}
    assert ax.get_ylim()[0] == 0  # the last epoch's training error of 0 is inside the axis, and nothing below it
    assert all(t >= 0 for t in ax.get_yticks() if ax.get_ylim()[0] <= t <= ax.get_ylim()[1])  # no negative error ticks
    drawn.clear()
    plots.error_curves({"resnet20": hist}, str(tmp_path / "c.png"))  # no references: a linear axis, as before
    assert drawn[0].axes[0].get_yscale() == "linear"
