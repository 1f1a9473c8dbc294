"""Tables written for people: a value holding '|' or a line break never splits a Markdown cell."""

import pandas as pd
import pytest

from resbench.report.export import to_markdown


@pytest.mark.parametrize("value,shown", [("runs|a", r"runs\|a"), ("a\nb", "a b"), ("c:\\x|", r"c:\\x\|"),
                                         ("[bold]x[/]", "[bold]x[/]")])
def test_a_markdown_cell_keeps_its_value_in_one_cell(value, shown):
    text = to_markdown(pd.DataFrame([{"folder": value, "n": 1}]))
    header, rule, row = text.strip().splitlines()
    assert row.count("|") - row.count(r"\|") == 3  # two cells, three unescaped bars
    assert shown in row


def test_a_column_name_with_a_bar_is_escaped_too():
    header = to_markdown(pd.DataFrame([{"a|b": 1}])).splitlines()[0]
    assert r"a\|b" in header and header.count("|") - header.count(r"\|") == 2
