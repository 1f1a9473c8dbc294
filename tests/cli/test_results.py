"""`resbench results`: the stored records as a table."""


def test_an_empty_table_says_there_are_no_records(cli, tmp_path):
    target = tmp_path / "t.csv"
    code, out, err = cli("results", "--results-dir", tmp_path / "none", "--csv", target)
    assert code == 0 and target.exists() and "no records under" in out
    code, out, err = cli("results", "--results-dir", tmp_path / "none", "--csv", "-")  # stdout is the table
    assert code == 0 and "no records under" in err and "the table written is empty" in err
