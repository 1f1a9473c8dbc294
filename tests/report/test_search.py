"""The search's report lines (resbench.report.search): the hypervolume said in one sentence."""

from types import SimpleNamespace

from resbench.report.search import hypervolume_line


def test_the_hypervolume_line_names_its_reference_point_and_when_it_was_reached():
    assert hypervolume_line(None) == "hypervolume: not computed"
    assert hypervolume_line(SimpleNamespace(value=None, why_none="no finished trial")) == "hypervolume: none (no finished trial)"
    h = SimpleNamespace(value=0.5, reference={"error": 1.0, "macs": 2e8}, history=[(1, 0.2), (2, 0.5), (3, 0.5)])
    assert hypervolume_line(h) == ("hypervolume 0.5000 of the normalised objective space (reference point: error 1, "
                                   "macs 2e+08); reached after 2 of 3 finished trials")
