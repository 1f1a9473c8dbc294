"""Rich tables (resbench.report.tables): cells as text, and tables that hold what they are given."""

import math

import pandas as pd
from rich.console import Console

from resbench.measure.complexity import count_complexity
from resbench.report.tables import cell_text, complexity_table, presets_table, results_table


def _text(table) -> str:
    console = Console(width=200, record=True)
    console.print(table)
    return console.export_text()


def test_cells_are_short_text_and_missing_values_are_blank():
    assert [cell_text(v) for v in (None, math.nan, 0.087512, 12, "resnet20")] == ["", "", "0.08751", "12", "resnet20"]


def test_a_results_table_shows_every_row_with_readable_headers():
    shown = pd.DataFrame({"spec": ["resnet20", "plain20"], "latency_median_ms": [1.23456, None]})
    text = _text(results_table(shown))
    assert "median ms" in text and "1.235" in text and "plain20" in text


def test_the_complexity_table_has_a_row_per_stage_and_the_total():
    text = _text(complexity_table(count_complexity("resnet20")))
    assert all(stage in text for stage in ("layer1", "layer2", "layer3")) and "269,722" in text.replace(" ", "")


def test_the_presets_table_has_one_row_per_preset():
    rows = [{"name": "resnet20", "family": "cifar", "block": "basic", "depth": 20, "stages": [3, 3, 3], "shortcut": "A",
             "params": 269_722, "macs": 40_551_040},
            {"name": "resnet50", "family": "imagenet", "block": "bottleneck", "depth": 50, "stages": [3, 4, 6, 3],
             "shortcut": "B", "params": 25_557_032, "macs": 4_089_184_256}]
    text = _text(presets_table(rows))
    assert "resnet20" in text and "3.4.6.3" in text and "25.6 M" in text and "4.09 G" in text
