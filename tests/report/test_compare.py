"""The comparison table's words: what it answers and which intervals it shows."""

from dataclasses import replace

from tests.conftest import arm_row


def test_method_lines_name_every_interval_method_shown():
    """A table that mixes methods (per-image for arms with per-image results, paired t for
    one without) says so, arm by arm; one method is one line."""
    from resbench.report.compare import method_lines

    about = "final test error of 13-epoch nets"
    rows = [arm_row("A", reference=True, answers=about),
            arm_row("B", answers=about, interval_method="seed-and-image-bonferroni", ci_level=0.975),
            arm_row("C", answers=about, interval_method="paired-t-bonferroni", ci_level=0.975)]
    lines = method_lines(rows)
    assert lines[0] == "answers: final test error of 13-epoch nets"
    intervals = [x for x in lines if x.startswith("intervals: ")]
    assert len(intervals) == 2 and intervals[0].endswith("(B)") and intervals[1].endswith("(C)")
    assert "seeds and test images" in intervals[0] and "paired t" in intervals[1]
    same = [rows[0], rows[1], replace(rows[1], arm="C")]
    (one,) = [x for x in method_lines(same) if x.startswith("intervals: ")]
    assert "(B" not in one and "0.975 each" in one
