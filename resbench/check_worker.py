"""Measure suite entries in a separate process: `python -m resbench.check_worker ENTRY_JSON...`.

`resbench check --against REF` runs this module twice per entry and round, once with
REF's code first on PYTHONPATH and once with the candidate's, interleaved in one job
so that machine drift cancels. It prints one JSON list of measurements on stdout.
This module stays at this path (outside resbench.check) because the REF side may be
an older resbench whose check code was one module.
"""

import json
import sys

import resbench
from resbench.check import Entry, measure_entry


def main(argv: list[str]) -> None:
    results = [measure_entry(Entry(**json.loads(a))) for a in argv]
    for r in results:
        r["resbench_path"] = resbench.__file__
    sys.stdout.write(json.dumps(results) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
