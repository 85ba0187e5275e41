"""Numbers as the report prints them: percentages, signed points, p-values, missing values; one place."""

from __future__ import annotations

import math

import pandas as pd

MISSING = "–"


def is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def pct(value, digits: int = 1) -> str:
    """0.9731 -> '97.3' (percent, no sign); missing -> '–'."""
    return MISSING if is_missing(value) else f"{100 * value:.{digits}f}"


def points(value, digits: int = 1) -> str:
    """A difference of fractions as signed percentage points: 0.012 -> '+1.2'."""
    return MISSING if is_missing(value) else f"{100 * value:+.{digits}f}"


def paired_diff(row: dict) -> str:
    """'+2.1 [+1.4, +2.8]' from a leaderboard row's paired difference, or '–' when there is none."""
    if row["diff_mean"] is None:
        return MISSING
    return f"{points(row['diff_mean'])} [{points(row['diff_ci_low'])}, {points(row['diff_ci_high'])}]"


def num(value, digits: int = 1) -> str:
    if is_missing(value):
        return MISSING
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def signed(value, digits: int = 1) -> str:
    """+1.2, −3.0, +∞: a signed number for an effect or an interval bound."""
    if is_missing(value):
        return MISSING
    if math.isinf(value):
        return "+∞" if value > 0 else "−∞"
    return f"{value:+.{digits}f}".replace("-", "−")


def pvalue(value, at_floor: bool = False) -> str:
    """0.0123 -> '0.012'; below 0.001 -> '<0.001'; at the method's resampling floor -> '< 0.0046' (the true
    value is at most that); missing -> '–'."""
    if is_missing(value):
        return MISSING
    if value < 0.001:
        return "<0.001"
    return f"<{value:.2g}" if at_floor else f"{value:.2g}"


def p_phrase(value, at_floor: bool = False) -> str:
    """'p = 0.012' or 'p < 0.001'."""
    text = pvalue(value, at_floor)
    return f"p < {text[1:]}" if text.startswith("<") else f"p = {text}"


def records(frame: pd.DataFrame) -> list[dict]:
    """DataFrame rows as dicts, missing values (NaN, NA) as None for the template."""
    return [{k: (None if not isinstance(v, str | list) and pd.isna(v) else v) for k, v in row.items()}
            for row in frame.to_dict("records")]


def value_text(value) -> str:
    return MISSING if is_missing(value) else f"{value:g}"
