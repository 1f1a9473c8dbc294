"""The comparison table's words: what it answers and which intervals it shows."""


def test_method_lines_name_every_interval_method_shown():
    """A table that mixes methods (per-image for arms with per-image results, paired t for
    one without) says so, arm by arm; one method is one line."""
    from resbench.report.compare import method_lines

    base = {"reference": False, "answers": "final test error of 13-epoch nets"}
    rows = [{**base, "arm": "A", "reference": True, "interval_method": None, "ci_level": None},
            {**base, "arm": "B", "interval_method": "seed-and-image-bonferroni", "ci_level": 0.975},
            {**base, "arm": "C", "interval_method": "paired-t-bonferroni", "ci_level": 0.975}]
    lines = method_lines(rows)
    assert lines[0] == "answers: final test error of 13-epoch nets"
    intervals = [x for x in lines if x.startswith("intervals: ")]
    assert len(intervals) == 2 and intervals[0].endswith("(B)") and intervals[1].endswith("(C)")
    assert "seeds and test images" in intervals[0] and "paired t" in intervals[1]
    same = [rows[0], rows[1], {**rows[1], "arm": "C"}]
    (one,) = [x for x in method_lines(same) if x.startswith("intervals: ")]
    assert "(B" not in one and "0.975 each" in one
