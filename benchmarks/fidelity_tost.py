"""Is resbench's training equivalent to an independent trainer's? Paired seeds and TOST.

resbench (`resbench train SPEC`) and the independent reference (benchmarks/fidelity_reference.py:
torchvision data and DataLoader, its own nets, torch SGD) train the same arm on the same
files, budget and schedule, seed by seed. The difference per seed (resbench minus reference,
final test error in points) is tested for equivalence within a margin fixed before the runs
(two one-sided tests: equivalent when the 90 % t interval of the mean difference lies
inside +-margin), and the power of that test at the measured spread is stated, so a verdict
of "equivalent" can be told from one that could not have failed.

    python3 benchmarks/fidelity_tost.py run DATA OUTDIR --arm resnet20 --epochs 6 --seeds 14 [--schedule linear] [--subset N]
        [--device cuda --lanes 4]
    python3 benchmarks/fidelity_tost.py report OUTDIR PREFIX [--margin 1.0]
    python3 benchmarks/fidelity_tost.py seeds --sd 1.2 [--margin 1.0]
    python3 benchmarks/fidelity_tost.py contrast OUTDIR1 OUTDIR2 [--side reference]

`run` trains in two lanes side by side (--lanes), one thread each on the CPU (accuracy does not
depend on it), taking the runs in pair order; with --device cuda both sides train on the GPU
(the reference's images still pass through its DataLoader, two worker processes per run).
It keeps every finished run (OUTDIR/<side>-s<seed>.json) and every unfinished one's last
epoch: the same command resumes, and more --seeds add pairs.
`report` writes PREFIX.txt (the verdict, margin, interval and power), PREFIX.csv (the
pairs) and PREFIX.png (each pair's difference, the 90 % interval and the margin). `seeds` says how many pairs give 80 % power at a paired spread.
`contrast` pairs one side's runs in two OUTDIRs by seed (a 95 % t interval of the difference):
what the one recipe change between the folders does, such as the reference's crop border.
Pairs may come from several machines (each compares the trainers on one); the report names each with its count.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from resbench.measure.env import cpu_model

HERE = Path(__file__).resolve().parent.parent
ALPHA = 0.05  # each one-sided test: the 90 % interval
POWER = 0.8


def _bad_input(message: str) -> None:
    """Bad input: one line on stderr, exit 2."""
    print(f"fidelity_tost.py: {message}", file=sys.stderr)
    raise SystemExit(2)


def _run_json(cmd: list[str], out: Path, env: dict | None = None) -> None:
    if out.is_file() and out.stat().st_size:
        return  # finished before: kept
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=HERE)
    if r.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
    tmp = out.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(r.stdout[r.stdout.index("{"):] if "{" in r.stdout else r.stdout)
    os.replace(tmp, out)


def run(a) -> None:
    out = Path(a.outdir)
    if not (Path(a.data) / "cifar-10-batches-py").is_dir():
        _bad_input(f"{a.data} has no cifar-10-batches-py/: give the folder prepare.py wrote")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        _bad_input(f"cannot make {out} ({e.strerror}): give an OUTDIR you can write")
    if not os.access(out, os.W_OK):
        _bad_input(f"{out} is not writable here: give an OUTDIR you can write")
    arch, _, shortcut = a.arm.partition(":shortcut=")
    common = ["--epochs", str(a.epochs), "--schedule", a.schedule] + (["--subset", str(a.subset)] if a.subset else [])
    path = os.pathsep.join(filter(None, (str(HERE), os.environ.get("PYTHONPATH"))))
    env = {**os.environ, "RESBENCH_RESULTS_DIR": str(out), "PYTHONPATH": path}  # records in OUTDIR/records

    cuda = a.device != "cpu"

    def ours(seed: int) -> None:
        _run_json([sys.executable, "-m", "resbench", "train", a.arm, "--dataset", "cifar10", "--data-dir", a.data,
                   "--no-download", "--seed", str(seed), "--dtype", "fp32", "--device", a.device,
                   "--threads", "2" if cuda else "1", "--json", *common], out / f"resbench-s{seed}.json", env)

    def reference(seed: int) -> None:
        target = out / f"reference-s{seed}.json"
        if target.is_file() and target.stat().st_size:
            _same_run(target, a)
        else:
            cmd = [sys.executable, str(HERE / "benchmarks" / "fidelity_reference.py"), "--data-dir", a.data, "--seed",
                   str(seed), "--threads", "1", "--workers", "2" if cuda else "0", "--device", a.device, "--arch", arch, "--shortcut", shortcut or "A",
                   "--pad-fill", a.pad_fill,
                   "--out", str(target), "--checkpoint", str(out / f"reference-s{seed}.ckpt"), *common]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode:
                raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")

    # One queue in pair order (seed 0 both sides, then seed 1, ...), taken by two lanes:
    # pairs finish in order, both cores stay busy though the sides' speeds differ, and a
    # run stopped part-way resumes from its last epoch (both sides checkpoint every epoch).
    for seed in range(a.seeds):  # finished runs that are not the run asked for: said before anything trains
        done = out / f"reference-s{seed}.json"
        if done.is_file() and done.stat().st_size:
            _same_run(done, a)
    tasks = [(side, seed) for seed in range(a.seeds) for side in (ours, reference)]
    with ThreadPoolExecutor(a.lanes) as pool:
        futures = [pool.submit(side, seed) for side, seed in tasks]
        try:
            for done in futures:
                done.result()
        except BaseException:  # a failed run fails the command now, not after the whole queue
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        print(f"{a.seeds} pairs finished in {out}", flush=True)


def _same_run(done: Path, a) -> None:
    """A finished reference run is reused only if it is the run asked for now."""
    try:
        doc = json.loads(done.read_text())
        have = (doc.get("epochs"), doc.get("schedule"), doc.get("subset"), doc.get("pad_fill", "black"))
    except (OSError, ValueError, AttributeError) as e:
        _bad_input(f"{done} is not a finished reference run ({e.__class__.__name__}); remove it or give another OUTDIR")
    want = (a.epochs, a.schedule, a.subset, a.pad_fill)
    if have != want:
        _bad_input(f"{done} is another run (epochs, schedule, subset, border {have}, asked {want}): "
                   "give another OUTDIR")


def _errors(folder: Path, side: str) -> dict[int, float]:
    """Final test error in points of each finished run of ``side`` in ``folder``, by seed
    (a file named so that is not such a run: bad input, one line)."""
    out = {}
    for f in folder.glob(f"{side}-s*.json"):
        try:
            seed, err = int(f.stem.split("-s", 1)[1]), json.loads(f.read_text())["final_test_error"]
            if isinstance(err, bool) or not (isinstance(err, (int, float)) and 0 <= err <= 1):
                raise ValueError(err)
        except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
            _bad_input(f"{f} is not a finished run of seed N with a final_test_error from 0 to 1 "
                       f"({e.__class__.__name__}); remove it or give another OUTDIR")
        out[seed] = 100 * err
    return out


def pairs(outdir: Path) -> list[tuple[int, float, float]]:
    """(seed, resbench test error, reference test error) in points, for seeds both sides finished."""
    ours, theirs = _errors(outdir, "resbench"), _errors(outdir, "reference")
    return [(seed, ours[seed], theirs[seed]) for seed in sorted(ours) if seed in theirs]


def _machine(outdir: Path, seed: int) -> str:
    """Where a pair ran: the reference run's machine, cores, device and versions (both sides ran together)."""
    doc = json.loads((outdir / f"reference-s{seed}.json").read_text())  # read before by _errors
    device = doc.get("device") or "cpu"
    return (f"{doc.get('machine') or cpu_model()}, {doc.get('cores') or os.cpu_count()} cores, {device}; "
            f"torch {doc.get('torch', '?')}, torchvision {doc.get('torchvision', '?')}")


def contrast(a) -> None:
    """One side's runs in two folders, paired by seed: what the one recipe change between them does
    (for example the reference with a black against a mean-colour crop border)."""
    from scipy import stats

    first, second = Path(a.first), Path(a.second)
    for folder in (first, second):
        if not folder.is_dir():
            _bad_input(f"{folder} is not a folder: give two OUTDIRs `run` wrote")
    one, other = _errors(first, a.side), _errors(second, a.side)
    seeds = sorted(set(one) & set(other))
    if len(seeds) < 3:
        _bad_input(f"{first} and {second} share {len(seeds)} finished {a.side} run(s): the contrast needs at least 3")
    d = np.array([one[s] - other[s] for s in seeds])
    t = stats.ttest_1samp(d, 0.0)
    lo, hi = t.confidence_interval(0.95)
    print(f"{a.side} runs, {first} minus {second}, paired on seeds {seeds[0]}-{seeds[-1]} ({len(seeds)}):\n"
          f"mean difference {d.mean():+.2f} points, sd {d.std(ddof=1):.2f}, 95 % t interval [{lo:+.2f}, {hi:+.2f}], "
          f"two-sided p = {t.pvalue:.3g}")


def tost(diffs: np.ndarray, margin: float) -> dict:
    """Paired TOST at ALPHA per side: the 90 % interval, both one-sided p values, the verdict."""
    from scipy import stats

    n, mean, sd = len(diffs), float(diffs.mean()), float(diffs.std(ddof=1))
    se = sd / math.sqrt(n)
    half = float(stats.t.ppf(1 - ALPHA, n - 1)) * se
    p_low = float(stats.t.sf((mean + margin) / se, n - 1))  # H0: mean <= -margin
    p_high = float(stats.t.cdf((mean - margin) / se, n - 1))  # H0: mean >= +margin
    return {"n": n, "mean": mean, "sd": sd, "ci90": (mean - half, mean + half), "p_tost": max(p_low, p_high),
            "equivalent": -margin < mean - half and mean + half < margin}


def tost_power(sd: float, n: int, margin: float, true_diff: float = 0.0, reps: int = 20_000) -> float:
    """The chance that paired TOST with n pairs concludes equivalence when the true mean
    difference is ``true_diff`` and the pairs spread as ``sd`` (simulated, seeded)."""
    from scipy import stats

    rng = np.random.default_rng(0)
    d = rng.normal(true_diff, sd, (reps, n))
    mean, se = d.mean(1), d.std(1, ddof=1) / math.sqrt(n)
    half = stats.t.ppf(1 - ALPHA, n - 1) * se
    return float(np.mean((mean - half > -margin) & (mean + half < margin)))


def seeds_for_power(sd: float, margin: float, most: int = 200) -> int | None:
    for n in range(3, most + 1):
        if tost_power(sd, n, margin) >= POWER:
            return n
    return None


def report(a) -> None:
    outdir, prefix = Path(a.outdir), Path(a.prefix)
    if a.prefix.endswith(("/", os.sep)):
        _bad_input(f"{a.prefix} is a folder, not a PREFIX: give one such as {a.prefix.rstrip('/')}/fidelity_x")
    if not outdir.is_dir():
        _bad_input(f"{outdir} is not a folder: give the OUTDIR `run` wrote")
    _writable_prefix(prefix)
    got = pairs(outdir)
    if len(got) < 3:
        _bad_input(f"{outdir} holds {len(got)} finished pair(s): TOST needs at least 3")
    diffs = np.array([o - r for _, o, r in got])
    if np.ptp(diffs) == 0:
        _bad_input(f"the {len(got)} pairs in {outdir} all differ by {diffs[0]:+.2f} points: no spread, so no interval")
    t = tost(diffs, a.margin)
    power = tost_power(t["sd"], t["n"], a.margin)
    need = seeds_for_power(t["sd"], a.margin)
    first = json.loads((outdir / f"resbench-s{got[0][0]}.json").read_text())
    ref_doc = json.loads((outdir / f"reference-s{got[0][0]}.json").read_text())
    machine = {s: _machine(outdir, s) for s, _, _ in got}
    where = collections.Counter(machine.values())
    lines = [
        f"Fidelity by TOST: {first.get('spec', '?')} in resbench against benchmarks/fidelity_reference.py "
        f"({ref_doc.get('arch')}, shortcut {ref_doc.get('shortcut')}, {ref_doc.get('schedule')} schedule, "
        f"{ref_doc.get('pad_fill', 'black')} crop border), "
        f"{ref_doc.get('epochs', '?')} epochs" + (f" on a {ref_doc['subset']}-image subset" if ref_doc.get("subset") else ""),
        "machine: " + "; ".join(f"{m} ({n} pair{'s' if n > 1 else ''})" for m, n in where.items()),
        f"pairs (same seed on both sides): {t['n']}; margin fixed before the runs: +-{a.margin:g} points of test error",
        f"resbench mean {np.mean([o for _, o, _ in got]):.2f} %, reference mean {np.mean([r for _, _, r in got]):.2f} %",
        f"difference (resbench - reference): {t['mean']:+.2f} points, sd of the pairs {t['sd']:.2f}",
        f"90 % interval [{t['ci90'][0]:+.2f}, {t['ci90'][1]:+.2f}]; TOST p = {t['p_tost']:.3g}",
        f"power at the measured sd (true difference 0): {power:.0%}; 80 % power takes {need} pairs",
        "verdict: " + ("equivalent within the margin" if t["equivalent"] else "not shown equivalent")
        + ("" if power >= POWER else " (under 80 % power: the test could easily have failed to show equivalence)"),
    ]
    lo, hi = t["ci90"]
    if lo > 0 or hi < 0:  # the interval excludes no difference: name the bias, whatever the verdict
        lines.append(f"bias: the 90 % interval excludes 0: resbench's test error is {abs(t['mean']):.2f} points "
                     f"{'lower' if hi < 0 else 'higher'} than the reference's at this budget")
    _atomic(Path(f"{prefix}.txt"), lambda p: p.write_text("\n".join(lines) + "\n"))
    _atomic(Path(f"{prefix}.csv"), lambda p: p.write_text(
        "seed,resbench_test_error,reference_test_error,difference,machine\n" + "".join(
            f"{s},{o:.4f},{r:.4f},{o - r:.4f},\"{machine[s]}\"\n" for s, o, r in got)))
    _atomic(Path(f"{prefix}.png"), lambda p: _plot(p, diffs, t, a.margin, lines[0]))
    print("\n".join(lines))


def _writable_prefix(prefix: Path) -> None:
    """PREFIX's folder exists (or can be made) and can be written, and none of its three files is a folder."""
    try:
        prefix.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        _bad_input(f"cannot make {prefix.parent} ({e.strerror}): give PREFIX in a folder you can write")
    if not os.access(prefix.parent, os.W_OK) or prefix.name in ("", ".", ".."):
        _bad_input(f"{prefix} is not a PREFIX in a folder you can write: give one such as results/experiments/fidelity_x")
    for ext in (".txt", ".csv", ".png"):
        if Path(f"{prefix}{ext}").is_dir():
            _bad_input(f"{prefix}{ext} is a folder, not a file: give another PREFIX")


def _atomic(path: Path, write) -> None:
    """``write(tmp)`` then the temporary file takes ``path``'s place (resbench.store.atomic_output):
    a reader never sees half a file."""
    from resbench.errors import WriteFailed
    from resbench.store import atomic_output

    try:
        with atomic_output(path) as tmp:
            write(tmp)
    except (OSError, WriteFailed) as e:
        _bad_input(f"cannot write {path} ({getattr(e, 'strerror', None) or e}): give PREFIX in a folder you can write")


def _plot(path: Path, diffs: np.ndarray, t: dict, margin: float, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 2.6))
    ax.axvspan(-margin, margin, color="tab:green", alpha=0.12, label=f"margin +-{margin:g}")
    ax.axvline(0, color="grey", lw=0.8)
    ax.plot(diffs, np.full(len(diffs), 1.0), "o", color="tab:blue", alpha=0.6, label="one seed's pair")
    lo, hi = t["ci90"]
    ax.errorbar([t["mean"]], [0.5], xerr=[[t["mean"] - lo], [hi - t["mean"]]], fmt="D", color="black", capsize=4,
                label="mean, 90 % interval")
    ax.set_yticks([])
    ax.set_ylim(0, 1.5)
    ax.set_xlabel("resbench - reference, final test error (points)")
    ax.set_title(title, fontsize=7)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    r = sub.add_parser("run")
    r.add_argument("data")
    r.add_argument("outdir")
    r.add_argument("--arm", default="resnet20", help="resnet20, resnet32, resnet56 or cifar-resnet29-bottleneck, "
                                                     "with :shortcut=B or C")
    r.add_argument("--epochs", type=int, default=6)
    r.add_argument("--seeds", type=int, default=14)
    r.add_argument("--schedule", choices=("step", "linear"), default="step")
    r.add_argument("--subset", type=int, default=None)
    r.add_argument("--device", default="cpu", help="cpu, or cuda: both trainers on the GPU")
    r.add_argument("--pad-fill", choices=("black", "mean"), default="black",
                   help="the reference's crop border (resbench's is the mean colour); mean matches the two")
    r.add_argument("--lanes", type=int, default=2, help="runs side by side (default 2: one per core of a 2-core machine)")
    p = sub.add_parser("report")
    p.add_argument("outdir")
    p.add_argument("prefix")
    p.add_argument("--margin", type=float, default=1.0)
    c = sub.add_parser("contrast")
    c.add_argument("first")
    c.add_argument("second")
    c.add_argument("--side", choices=("resbench", "reference"), default="reference")
    s = sub.add_parser("seeds")
    s.add_argument("--sd", type=float, required=True, help="sd of the paired differences, points")
    s.add_argument("--margin", type=float, default=1.0)
    a = ap.parse_args(argv)
    if a.what == "run" and a.lanes < 1:
        ap.error(f"--lanes must be at least 1, got {a.lanes}")
    if getattr(a, "margin", 1.0) is not None and not 0 < getattr(a, "margin", 1.0) < math.inf:
        _bad_input(f"--margin must be a positive number of points, got {a.margin}")
    if a.what == "seeds" and not 0 <= a.sd < math.inf:
        _bad_input(f"--sd must be a number of points, 0 or more, got {a.sd}")
    if a.what == "run":
        run(a)
    elif a.what == "report":
        report(a)
    elif a.what == "contrast":
        contrast(a)
    else:
        print(f"{seeds_for_power(a.sd, a.margin)} pairs give {POWER:.0%} power at +-{a.margin:g} points, "
              f"paired sd {a.sd:g}")


if __name__ == "__main__":
    main()
