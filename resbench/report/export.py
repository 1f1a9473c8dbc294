"""Every table command's rows as one pandas DataFrame, and that frame as CSV or Markdown.

`--csv` and `--markdown` mean the same on every command: the frame built here, written
with pandas' own ``to_csv`` / ``to_markdown``. Columns hold raw values (fractions, counts,
seconds), never the terminal table's formatted strings, so a pasted or loaded table can
be computed with.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported when a frame is built: `list`, `show` start without it
    import pandas as pd


def _frame(rows) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(rows)


def to_csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False)


def to_markdown(frame: pd.DataFrame) -> str:
    # tabulate's GitHub dialect; four significant digits keep pasted tables readable; a
    # missing value is an empty cell, not "nan"; a '|' or a line break inside a value (a
    # legal folder name) is escaped, so it never splits a cell or a row
    cells = frame.astype(object).where(frame.notna(), None).map(_markdown_cell)
    cells.columns = [_markdown_cell(c) for c in cells.columns]
    return cells.to_markdown(index=False, tablefmt="github", floatfmt=".4g", missingval="") + "\n"


def _markdown_cell(value):
    if not isinstance(value, str):
        return value
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def presets_frame(rows: list[dict]) -> pd.DataFrame:
    return _frame([{**r, "stages": ".".join(map(str, r["stages"]))} for r in rows])


def complexity_frame(c) -> pd.DataFrame:
    """`show`: one row per stage (the paper's Table 1), or per block or layer when asked."""
    if c.layers:
        return _frame([{"name": r.name, "output": "x".join(map(str, r.out_shape)), "params": r.params,
                              "macs": r.macs, "activations": r.activations} for r in c.layers])
    return _frame([{**dataclasses.asdict(s), "macs_share": s.macs / c.macs if c.macs else None} for s in c.stages])


def train_frame(result, paper=None) -> pd.DataFrame:
    """`train`: one row per epoch, with the run's spec, seed-independent facts beside it,
    and for a Table 6 net on CIFAR-10 the paper's test error and whether the recipe is the paper's."""
    extra = {} if paper is None else {"paper_test_error": paper.test_error, "paper_recipe": paper.same_recipe}
    return _frame([{"spec": result.spec, **dataclasses.asdict(h), **extra} for h in result.history])


def comparison_frame(rows: list[dict]) -> pd.DataFrame:
    """`compare` and `degradation`: one row per arm; nested values (intervals, time to
    target) flattened to scalar columns."""
    nested = {"delta_ci", "diverged_seeds"} | {k for r in rows for k, v in r.items() if isinstance(v, (dict, list, tuple))}
    flat = []
    for r in rows:
        d = {k: v for k, v in r.items() if k not in nested}
        d["delta_ci_low"], d["delta_ci_high"] = r["delta_ci"] if r.get("delta_ci") else (None, None)
        d["diverged_seeds"] = " ".join(map(str, r.get("diverged_seeds") or ()))
        flat.append(d)
    return _frame(flat)


def check_frame(outcome) -> pd.DataFrame:
    rows = []
    for r in outcome.rows:
        d = dataclasses.asdict(r)
        runs = d.pop("runs")
        d["baseline_runs"], d["current_runs"] = runs if runs else (None, None)
        rows.append(d)
    return _frame(rows)


def profile_rows_frame(results) -> pd.DataFrame:
    from resbench.report.frames import profile_frame

    return profile_frame([r.to_dict() for r in results])


def trials_frame(summary) -> pd.DataFrame:
    """`search`: every evaluated candidate (not the ones refused by a constraint), with on_front."""
    return _frame([t.to_dict() for t in summary.trials if t.status != "infeasible"])


def responses_frame(nets: dict[str, list[dict]]) -> pd.DataFrame:
    """`analyze responses`: one row per net and layer."""
    return _frame([{"net": name, **v} for name, vs in nets.items() for v in vs])


def gradients_frame(nets: dict[str, list[dict]]) -> pd.DataFrame:
    """`analyze gradients`: one row per net, epoch and conv weight."""
    return _frame([{"net": name, "epoch": p["epoch"], "verdict": p["verdict"], "index": w.get("index"), "layer": w.get("name"),
                          "weight_grad_norm": w["value"]}
                         for name, pts in nets.items() for p in pts for w in p["weights"]])
