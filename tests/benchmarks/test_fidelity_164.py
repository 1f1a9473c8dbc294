"""resbench's full-schedule run beside the reference's (benchmarks/fidelity_164.py): the verdict, a partial
reference said to be partial, and bad input."""

import importlib.util
import json
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location("fidelity_164", Path(__file__).parents[2] / "benchmarks" / "fidelity_164.py")
f164 = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(f164)


def _history(n, end, device=None):
    rows = [{"epoch": e, "lr": 0.1, "train_error": 0.5 / e, "test_error": end + 0.3 / e} for e in range(1, n + 1)]
    return [dict(r, device=device) if device else r for r in rows]


@pytest.mark.parametrize("ours,theirs,says", [
    (0.1192, 0.1180, "points to what both share"),  # both far from 8.75 %, within the margin of each other
    (0.1192, 0.0850, "a bias in resbench"),
    (0.1192, 0.1320, "worse than resbench by more than the margin, and both end more than 1.5 points above"),
    (0.0850, 0.1192, "resbench ends within 1.5 points of the paper and the reference does not"),
    (0.0650, 0.0900, "bounds nothing here"),  # resbench far below the paper, the reference near it
    (0.1400, 0.1250, "a bias in resbench at the full schedule (the reference too ends more than 1.5 points above"),
    # exactly 1.00 and 1.50 points are inside the margin and the band, whatever the floating point makes of them
    (0.1292, 0.1192, "ends within the margin of resbench"),
    (0.1192, 0.1292, "ends within the margin of resbench"),
    (0.1093, 0.1193, "ends within the margin of resbench"),
    (0.1025, 0.1025, "both end within 1.5 points"),
    (0.0900, 0.0880, "both end within 1.5 points"),
    (0.1100, 0.1000, "no verdict"),  # resbench 2.25 points above, the reference only 1.25
    (0.0700, 0.0680, "neither both within 1.5 points of the paper nor both more than that above it"),  # both well below
])
def test_the_verdict_names_whose_gap_it_is(ours, theirs, says):
    text = " ".join(f164.verdict(ours, theirs))
    assert says in text and "one seed a side" in text and "sd of about 0.38 points" in text


def test_a_complete_pair_writes_the_table_the_curve_and_the_figure(tmp_path):
    (tmp_path / "ours.json").write_text(json.dumps({"history": _history(164, 0.1192), "env": {"cpu": "X"},
                                                    "spec": "resnet20", "epochs": 164}))
    (tmp_path / "ref.json").write_text(json.dumps({"history": _history(164, 0.1180, "cpu (Y, 2 threads)"),
                                                   "epochs": 164, "final_test_error": 0.1198}))
    f164.main([str(tmp_path / "ours.json"), str(tmp_path / "ref.json"), str(tmp_path / "out")])
    text = (tmp_path / "out.txt").read_text()
    assert "points to what both share" in text and "PARTIAL" not in text and "cpu (Y, 2 threads)" in text
    assert len((tmp_path / "out.csv").read_text().splitlines()) == 165 and (tmp_path / "out.png").stat().st_size > 0


def test_a_partial_reference_says_it_is_partial(tmp_path):
    (tmp_path / "ours.json").write_text(json.dumps({"history": _history(164, 0.1192)}))
    (tmp_path / "ref.json").write_text(json.dumps({"history": _history(38, 0.18), "epochs": 164, "arch": "resnet20"}))
    f164.main([str(tmp_path / "ours.json"), str(tmp_path / "ref.json"), str(tmp_path / "out")])
    text = (tmp_path / "out.txt").read_text()
    assert "PARTIAL: the reference has 38 of 164" in text and "over epochs 21-38" in text and "bias" not in text


@pytest.mark.parametrize("args,says", [
    (["a"], "usage"),
    (["{nope}", "{ref}", "{out}"], "not a resbench train record"),
    (["{ours}", "{ours_txt}", "{out}"], "neither fidelity_reference.py's JSON nor its checkpoint"),
    (["{ours}", "{ref}", "{missing}/out"], "is not a PREFIX inside an existing folder"),
    (["{ours}", "{ref}", "."], "is not a PREFIX"),
    (["{short}", "{ref}", "{out}"], "not a finished 164-epoch resnet20 run"),
    (["{ours}", "{ref3}", "{out}"], "is a run of"),
    (["{ours}", "{bad_rows}", "{out}"], "not a list of epochs"),
    (["{ours}", "{empty}", "{out}"], "no finished epoch"),
    (["{ours}", "{tmp}/nope.ckpt", "{out}"], "neither fidelity_reference.py's JSON nor its checkpoint"),
    (["{ours}", "{nan}", "{out}"], "fractions from 0 to 1"),
    (["{ours}", "{ref}", "{tmp}/"], "is not a PREFIX"),
    (["{ours}", "{ref}", "{tmp}/taken"], "is a folder, not a file"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, says):
    files = {"ours": {"history": _history(164, 0.12)}, "short": {"history": _history(3, 0.2)},
             "ref": {"history": _history(3, 0.2), "epochs": 164}, "ref3": {"history": _history(3, 0.2), "epochs": 3},
             "bad_rows": {"history": {"1": 0.2}, "epochs": 164}, "empty": {"history": [], "epochs": 164},
             "nan": {"history": [{"epoch": 1, "test_error": float("nan"), "train_error": 0.1}], "epochs": 164}}
    (tmp_path / "taken.png").mkdir()
    (tmp_path / "taken.txt").write_text("kept")
    for name, doc in files.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(doc))
    (tmp_path / "ours.txt").write_text("not json")
    names = {**{n: tmp_path / f"{n}.json" for n in files}, "nope": tmp_path / "nope.json", "out": tmp_path / "out",
             "ours_txt": tmp_path / "ours.txt", "missing": tmp_path / "missing", "tmp": tmp_path}
    with pytest.raises(SystemExit) as e:
        f164.main([a.format(**names) for a in args])
    err = capsys.readouterr().err
    assert e.value.code == 2 and says in err and len(err.strip().splitlines()) == 1
    assert (tmp_path / "taken.txt").read_text() == "kept" and not (tmp_path / "out.txt").exists()  # nothing written
