"""`resbench results`: the stored records as a table."""

SYN = ["--dataset", "synthetic", "--device", "cpu", "--subset", "64", "--test-subset", "32", "--epochs", "1",
       "--batch-size", "32", "--threads", "1"]
TINY_SEARCH = ["--dataset", "synthetic", "--subset", "64", "--test-subset", "32", "--batch-size", "32", "--epochs", "1",
               "--widths", "4", "--max-blocks-per-stage", "1", "--blocks", "basic", "--threads", "1", "--trials", "2",
               "--no-pruning", "--no-references"]


def test_an_empty_table_says_there_are_no_records(cli, tmp_path):
    target = tmp_path / "t.csv"
    code, out, err = cli("results", "--results-dir", tmp_path / "none", "--csv", target)
    assert code == 0 and target.exists() and "no records under" in out
    code, out, err = cli("results", "--results-dir", tmp_path / "none", "--csv", "-")  # stdout is the table
    assert code == 0 and "no records under" in err and "the table written is empty" in err
