"""`resbench list`: every preset, as a table and as JSON."""

import json


def test_list(cli):
    code, out, _ = cli("list", "--json")
    rows = json.loads(out)
    by_name = {r["name"]: r for r in rows}
    assert by_name["resnet152"]["params"] == 60_192_808
    assert by_name["resnet20"]["macs"] == 40_551_040
    assert {"plain18", "plain1202", "resnet1202"} <= set(by_name)
    code, out, _ = cli("list")
    assert code == 0 and "resnet110" in out
