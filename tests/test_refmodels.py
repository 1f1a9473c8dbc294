"""Reference models (torchvision:, timm:) next to resbench's specs in show, profile and check
(their counts: tests/measure/test_target.py; the ONNX Runtime backend: test_onnx_backend.py)."""

import json

import pytest

from resbench.errors import SpecError
from resbench.measure.target import parse_target


def test_unknown_reference_names_the_closest(cli):
    with pytest.raises(SpecError, match="did you mean resnet50"):
        parse_target("torchvision:resnt50")
    code, _, err = cli("show", "torchvision:resnt50")
    assert code == 2 and "did you mean" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("show", "torchvision:resnet18", "--shortcut", "B")
    assert code == 2 and "only --input-size" in err


def test_show_and_profile_a_reference_model_with_breakdown_per_child(cli):
    code, out, err = cli("show", "torchvision:resnet18", "--json")
    d = json.loads(out)
    assert code == 0 and d["counted_by"] == "FlopCounterMode" and d["macs"] == 1_814_073_344 and d["backward_flops"] > 0
    code, out, err = cli("profile", "torchvision:resnet18", "--device", "cpu", "-b", "1", "--breakdown", "--iters", "5",
                         "--min-time", "0", "--no-compare-layouts", "--no-save", "--json")
    r = json.loads(out)
    assert code == 0, err
    assert r["spec"] == "torchvision:resnet18" and r["macs"] == 1_814_073_344
    assert [s["name"] for s in r["breakdown"]][:2] == ["conv1", "bn1"]


def test_a_suite_can_hold_a_reference_model(tmp_path, cli):
    suite = tmp_path / "s.toml"
    suite.write_text('[suite]\ntiming = "off"\n[[entry]]\nspec = "torchvision:resnet18"\n[[entry]]\nspec = "resnet18"\n')
    base = tmp_path / "b.json"
    assert cli("baseline", suite, "--out", base)[0] == 0
    entries = {e["id"]: e for e in json.loads(base.read_text())["entries"]}
    assert entries["torchvision:resnet18"]["macs"] == entries["resnet18"]["macs"] == 1_814_073_344
    assert cli("check", suite, "--baseline", base)[0] == 0


def test_timm_reference_when_timm_is_installed(cli):
    pytest.importorskip("timm")
    r = parse_target("timm:resnet50d")
    assert r.input_size == 224 and r.num_classes == 1000
    code, out, err = cli("show", "timm:resnet18", "--json")
    assert code == 0 and json.loads(out)["params"] == 11_689_512  # the same net as torchvision's


