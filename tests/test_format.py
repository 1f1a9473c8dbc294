"""Number formatting shared by tables (resbench.format)."""

import pytest

from resbench.format import ms, pct, pct_pm, si


@pytest.mark.parametrize("n, unit, text", [
    (269_722, "", "270 k"), (25_557_032, "", "25.6 M"), (4_089_184_256, "MAC", "4.09 GMAC"), (3.14159, "", "3.14"),
    (12, "", "12"), (None, "", "-"), (-2_500_000, "", "-2.5 M"),
])
def test_si_uses_decimal_prefixes_as_papers_do(n, unit, text):
    assert si(n, unit) == text


def test_milliseconds_keep_about_four_significant_digits():
    assert [ms(x) for x in (0.12345, 12.345, 123.45, None)] == ["0.123", "12.35", "123.5", "-"]


def test_error_fractions_read_as_percent():
    assert pct_pm(0.0875, 0.0016) == "8.75 ± 0.16" and pct_pm(0.0875) == "8.75" and pct_pm(None) == "-"
    assert pct(0.0875) == "8.8 %" and pct(0.0875, 2) == "8.75 %" and pct(None) == "-"
