"""A search trial survives Ctrl-C: asked again, resumed from its checkpoint."""

import json


def test_an_interrupted_trial_is_asked_again_and_resumes_at_its_last_epoch(cli, tmp_path, monkeypatch):
    """Ctrl-C in a trial's second epoch, then the same command: the trial is re-queued with
    the same candidate, training resumes from its checkpoint (the finished epoch replayed to
    the pruner) and ends with exactly the result of an uninterrupted search."""
    import optuna

    from resbench.train import engine

    args = ["search", "--dataset", "synthetic", "--subset", "64", "--test-subset", "32", "--batch-size", "32",
            "--epochs", "3", "--widths", "4", "--max-blocks-per-stage", "1", "--blocks", "basic", "--threads", "1",
            "--trials", "1", "--objectives", "error", "--no-references", "--json"]
    code, out, err = cli(*args, "--results-dir", tmp_path / "whole")
    assert code == 0, err
    whole = json.loads(out)["trials"][0]

    real, calls = engine._train_epoch, []

    def interrupted_in_epoch_two(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(engine, "_train_epoch", interrupted_in_epoch_two)
    code, out, err = cli(*args, "--results-dir", tmp_path / "cut")
    assert code == 130, err
    assert len(list((tmp_path / "cut" / "checkpoints").glob("*.pt"))) == 1  # epoch 1 kept
    monkeypatch.setattr(engine, "_train_epoch", real)
    code, out, err = cli(*args, "--results-dir", tmp_path / "cut")
    assert code == 0, err
    resumed = next(t for t in json.loads(out)["trials"] if t["state"] == "complete")
    assert resumed["spec"] == whole["spec"] and resumed["test_error"] == whole["test_error"]
    study = optuna.load_study(study_name=json.loads(out)["study"], storage=f"sqlite:///{tmp_path / 'cut' / 'search.db'}")
    first, again = study.trials[0], study.trials[1]
    assert first.state == optuna.trial.TrialState.FAIL and again.params == first.params
    assert sorted(again.intermediate_values) == [1, 2]  # epoch 1 replayed from the checkpoint, epoch 2 trained
    assert not list((tmp_path / "cut" / "checkpoints").glob("*.pt"))  # removed once the trial finished
