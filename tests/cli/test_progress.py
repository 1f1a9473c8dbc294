"""Progress (resbench.cli.progress): plain lines in a log, at most one a minute per phase."""

from resbench.cli.progress import _log_lines, progress_bar


def test_a_log_gets_a_line_per_new_phase_and_not_one_per_step(capsys):
    update = _log_lines("train")
    for i in range(50):
        update("epoch 1", i, 50)
    update("epoch 2", 0, 50)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and lines[0].startswith("train · epoch 1: 0/50 (0:00 elapsed)")
    assert lines[1].startswith("train · epoch 2: 0/50")


def test_not_on_a_terminal_the_bar_is_log_lines(capsys):
    with progress_bar("compare") as update:
        update("calibrating", 1, 3)
    assert capsys.readouterr().err.startswith("compare · calibrating: 1/3")
