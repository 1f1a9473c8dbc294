"""`resbench check` and `resbench baseline` at the command line: what each needs, refused in one line."""

import pytest


@pytest.fixture
def suite(tmp_path):
    p = tmp_path / "suite.toml"
    p.write_text('[suite]\nname = "t"\n[[entry]]\nspec = "resnet20"\nbatch_sizes = [8]\n')
    return p


def test_check_needs_a_baseline_or_a_ref(cli, suite):
    code, _, err = cli("check", suite)
    assert code == 2 and "--baseline" in err


def test_a_baseline_whose_folder_is_a_file_is_refused_before_measuring(cli, suite, tmp_path):
    (tmp_path / "file").write_text("x")
    code, _, err = cli("baseline", suite, "--out", tmp_path / "file" / "b.json")
    assert code == 2 and "file" in err and len(err.strip().splitlines()) == 1


def test_a_missing_suite_is_one_line(cli, tmp_path):
    code, _, err = cli("check", tmp_path / "none.toml", "--baseline", tmp_path / "b.json")
    assert code == 2 and "none.toml" in err and "Traceback" not in err
