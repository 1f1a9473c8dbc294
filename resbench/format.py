"""Number formatting shared by tables (no Rich, no torch)."""

from __future__ import annotations


def si(n: float | int | None, unit: str = "", digits: int = 3) -> str:
    """1234567 -> '1.23 M' (decimal prefixes, as papers report params and MACs)."""
    if n is None:
        return "-"
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= factor:
            return f"{n / factor:.{digits}g} {prefix}{unit}".rstrip()
    return f"{n:.{digits}g} {unit}".rstrip() if isinstance(n, float) else f"{n} {unit}".rstrip()


def ms(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3f}" if x < 10 else f"{x:.2f}" if x < 100 else f"{x:.1f}"


def pct_pm(mean: float | None, std: float | None = None) -> str:
    """An error fraction as '12.34 ± 0.56' percent (no ± with one seed), '-' when missing."""
    if mean is None:
        return "-"
    return f"{100 * mean:.2f}" + (f" ± {100 * std:.2f}" if std is not None else "")


def pct(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{100 * x:.{digits}f} %"
