"""What each command sends to the experiment trackers (``resbench.tracking``).

Per-epoch metrics carry the epoch as their step, a profile's the batch size, a search's
hypervolume the number of finished trials. Params are the config and the spec; tags the
resolved environment; artifacts the command's table (CSV and Markdown, from the same
frame as --csv/--markdown) and its figures and traces.
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from pathlib import Path

from resbench.measure.env import collect_env
from resbench.report.export import comparison_frame, to_csv, to_markdown, train_frame, trials_frame
from resbench.report.frames import profile_frame
from resbench.runtime import resolve_device

EPOCH_METRICS = ("lr", "train_loss", "train_error", "test_error", "seconds", "step_seconds")


def spec_params(spec) -> dict:
    d = spec.to_dict() if hasattr(spec, "to_dict") else {}
    return {"spec": spec.name, **{f"net.{k}": v for k, v in d.items() if k != "name"}}


def config_params(cfg) -> dict:
    return {f"train.{k}": v for k, v in dataclasses.asdict(cfg).items()}


def _tables(run, frame, name: str) -> None:
    """The table as a CSV and a Markdown artifact."""
    with tempfile.TemporaryDirectory(prefix="resbench-track-") as tmp:
        for suffix, render in ((".csv", to_csv), (".md", to_markdown)):
            path = Path(tmp) / f"{name}{suffix}"
            path.write_text(render(frame))
            run.artifact(path)


class TrainLog:
    """One `train` run: epochs logged as they finish, the rest when the job ends."""

    def __init__(self, run) -> None:
        self.run, self.logged = run, 0

    def epoch(self, stats) -> bool:
        self.run.metrics({k: getattr(stats, k) for k in EPOCH_METRICS}, stats.epoch)
        self.logged = stats.epoch
        return True  # never stops the run

    def finish(self, job) -> None:
        r = job.result
        for h in r.history:
            if h.epoch > self.logged:  # the last epoch, and any restored from a checkpoint
                self.epoch(h)
        self.run.metrics({"final_test_error": r.final_test_error, "final_train_error": r.final_train_error,
                          "images_per_second": r.images_per_second, "seconds_total": r.seconds}, r.epochs)
        self.run.tags({**job.env, "diverged": r.diverged})
        _tables(self.run, train_frame(r), "train")
        if job.record is not None:
            self.run.artifact(job.record)


@contextlib.contextmanager
def train_run(tracker, spec, cfg):
    """A tracked `train` run (None without trackers); the job's epochs go to ``.epoch``."""
    if tracker is None:
        yield None
        return
    with tracker.run(spec.name, params={**spec_params(spec), **config_params(cfg)}) as run:
        yield TrainLog(run)


def run_environment(cfg) -> dict:
    return collect_env(resolve_device(cfg.device))


def log_comparison(tracker, name: str, comparison, rows: list[dict], env: dict | None = None, figures=()) -> None:
    """A compare or degradation: one parent run, one child per arm with every seed's
    per-epoch curves (``seed<N>/test_error``) and the arm's row as final metrics."""
    if tracker is None:
        return

    cfg = comparison.config
    params = {**config_params(cfg), "arms": ",".join(a.name for a in comparison.arms),
              "reference": comparison.reference.name, "seeds": comparison.seeds}
    by_name = {a.name: a for a in comparison.arms}
    frame = comparison_frame(rows)
    with tracker.run(name, params=params, tags=env if env is not None else run_environment(cfg)) as parent:
        for row in frame.to_dict(orient="records"):
            arm = row["arm"]
            with parent.child(arm) as child:
                if arm in by_name:
                    child.params(spec_params(by_name[arm]))
                for i, history in enumerate(comparison.histories.get(arm, [])):
                    for h in history:
                        child.metrics({f"seed{cfg.seed + i}/{k}": h[k] for k in EPOCH_METRICS if k in h}, h["epoch"])
                child.metrics({k: v for k, v in row.items() if k != "arm"}, cfg.epochs)
        _tables(parent, frame, name)
        for f in figures:
            parent.artifact(f)


def log_search(tracker, report, env: dict, figures=()) -> None:
    """A search: the study as the parent run, one child per evaluated trial, and the
    front's hypervolume by finished trials."""
    if tracker is None:
        return

    s = report.summary
    frame = trials_frame(s)
    with tracker.run(f"search {s.study}", params={"study": s.study, "objectives": ",".join(report.config.objectives),
                                                   "epochs": s.epochs, "seeds": s.seeds, "space": report.space.to_dict(),
                                                   "constraints": vars(report.constraints)}, tags=env) as parent:
        for row in frame.to_dict(orient="records"):
            with parent.child(f"trial {row['number']} {row['spec']}") as child:
                child.params({"spec": row["spec"], "status": row["status"], "on_front": row["on_front"]})
                child.metrics({k: row[k] for k in ("test_error", "test_error_std", "macs", "params", "latency_ms",
                                                   "epochs_trained") if row.get(k) is not None}, row["number"])
        hv = report.hypervolume
        if hv is not None:
            for trials, value in hv.history:
                parent.metrics({"hypervolume": value}, trials)
        parent.metrics({"trials": len(frame), "front_size": int(frame["on_front"].sum()) if len(frame) else 0}, len(frame))
        _tables(parent, frame, "trials")
        for f in figures:
            parent.artifact(f)


def log_profile(tracker, spec, cfg, results, files=()) -> None:
    """A profile: one run; each batch size's figures with the batch size as the step."""
    if tracker is None or not results:
        return

    rows = [r.to_dict() for r in results]
    frame = profile_frame(rows)
    with tracker.run(f"profile {spec.name}", params={**spec_params(spec), **{f"profile.{k}": v for k, v in
                                                                          dataclasses.asdict(cfg).items()}},
                     tags=rows[0].get("env", {})) as run:
        for row in frame.to_dict(orient="records"):
            run.metrics({k: v for k, v in row.items() if k not in ("batch_size",)}, int(row["batch_size"]))
        _tables(run, frame, "profile")
        for f in files:
            run.artifact(f)
