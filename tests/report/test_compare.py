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


def test_holm_significance_beside_an_interval_through_zero_is_explained():
    """Holm's step-down can reject for the second arm (raw p 0.0285 < 0.05 after the first
    arm's 0.0042 was rejected at 0.025) while that arm's Bonferroni interval at 97.5 % still
    touches 0: the table says why, instead of showing "sig." beside an interval through 0."""
    from resbench.report.compare import method_lines
    from resbench.stats import holm

    raw = [0.0042, 0.0285]
    adj = holm(raw)
    assert adj == [0.0084, 0.0285]
    rows = [arm_row("A", reference=True),
            arm_row("B", delta_ci=(0.001, 0.008), p_value=raw[0], p_adjusted=adj[0], p_adjust_method="holm",
                    significant=True),
            arm_row("C", delta_ci=(-0.0004, 0.0162), p_value=raw[1], p_adjusted=adj[1], p_adjust_method="holm",
                    significant=True)]
    said = [x for x in method_lines(rows) if "step-down" in x]
    assert len(said) == 1 and said[0].startswith("C: significant by Holm") and "0.029" in said[0]
