"""Where the CLI's output goes (resbench.cli.output): warnings in one line, JSON made safe."""

import json
import math

from resbench.cli.output import print_json, warn_if_busy


def test_a_busy_machine_is_one_warning_line_and_a_quiet_one_none(capsys):
    warn_if_busy(0.01, "resnet20 trained")
    warn_if_busy(None, "resnet20 trained")
    assert capsys.readouterr().err == ""
    warn_if_busy(0.6, "resnet20 trained")
    err = capsys.readouterr().err
    assert err.startswith("warning:") and "resnet20 trained" in err and len(err.strip().splitlines()) == 1


def test_json_has_no_nan_or_infinity(capsys):
    print_json({"a": math.nan, "b": [math.inf, 1.5]})
    assert json.loads(capsys.readouterr().out) == {"a": None, "b": [None, 1.5]}
