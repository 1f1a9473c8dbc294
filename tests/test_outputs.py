"""Output places (resbench.outputs): checked before the work, their folders made, written whole."""

import os

import pytest

from resbench.errors import UsageError
from resbench.outputs import FIGURE_SUFFIXES, appendable, figure_path, prepare_output, write_text_atomic


@pytest.mark.parametrize("name, fragment", [
    ("", "is not a file name"), (".png", "has no name before the suffix"), ("plot.txt", "unsupported file type '.txt'"),
    ("plot", r"unsupported file type '\(none\)'"),
])
def test_a_figure_name_must_be_a_file_of_a_known_type(tmp_path, name, fragment):
    with pytest.raises(UsageError, match=fragment):
        prepare_output(tmp_path / name if name else name, FIGURE_SUFFIXES, "--plot")


def test_a_folder_is_refused_and_a_missing_parent_is_made(tmp_path):
    (tmp_path / "d.png").mkdir()
    with pytest.raises(UsageError, match="is a folder"):
        prepare_output(tmp_path / "d.png", FIGURE_SUFFIXES, "--plot")
    p = prepare_output(tmp_path / "new" / "deeper" / "f.PNG", FIGURE_SUFFIXES, "--plot")
    assert p.parent.is_dir() and not p.exists()  # the place is checked; nothing is written yet


def test_a_field_is_named_in_backticks_and_the_default_figure_goes_under_the_results(tmp_path):
    with pytest.raises(UsageError, match="^`plot` 'x.txt'"):
        prepare_output("x.txt", FIGURE_SUFFIXES, "plot")
    assert figure_path(None, "curves.png", tmp_path) == tmp_path / "figures" / "curves.png"


def test_an_appended_report_must_name_a_writable_file(tmp_path):
    with pytest.raises(UsageError, match="is a folder"):
        appendable(tmp_path, "GITHUB_STEP_SUMMARY")
    assert appendable(tmp_path / "summary.md", "GITHUB_STEP_SUMMARY") == tmp_path / "summary.md"


def test_text_is_written_whole_and_keeps_the_files_mode(tmp_path):
    p = tmp_path / "report.txt"
    p.write_text("old")
    os.chmod(p, 0o640)
    write_text_atomic(p, "new\n")
    assert p.read_text() == "new\n" and (os.stat(p).st_mode & 0o777) == 0o640
    assert [n for n in os.listdir(tmp_path) if n != "report.txt"] == []  # no temporary left
