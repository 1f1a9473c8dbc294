"""`resbench show`: JSON shape, modifiers reaching the spec, the table."""

import json


def test_show_json_shape(cli):
    code, out, err = cli("show", "resnet50", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["spec"] == "resnet50"
    assert (d["params"], d["macs"], d["flops"], d["input_size"]) == (25_557_032, 4_089_184_256, 8_178_368_512, 224)
    assert [s["name"] for s in d["stages"]] == ["stem", "layer1", "layer2", "layer3", "layer4", "head"]
    for s in d["stages"]:
        assert set(s) >= {"name", "blocks", "out_channels", "out_size", "params", "macs"}


def test_show_modifiers_reach_the_spec(cli):
    code, out, _ = cli("show", "resnet56", "--shortcut", "B", "--num-classes", "100", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["spec"] == "resnet56:shortcut=B:num-classes=100"
    assert d["net"]["shortcut"] == "B"


def test_show_table(cli):
    code, out, _ = cli("show", "resnet20")
    assert code == 0
    assert "layer3" in out and "269,722" in out and "MACs" in out
