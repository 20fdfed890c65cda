"""The about page's measure of the forecast: its backtest over the team's own periods, beside the
flat run rate's (see :func:`billing_reports.forecast.team_backtest`)."""

from __future__ import annotations

from ..forecast import BACKTEST_DAYS, Backtest, team_backtest
from ..sections import Column, Table
from ..usage import OnDemandUsage


def backtest_grain(usage: OnDemandUsage) -> str:
    """Billing cycles when the report is by cycle, else calendar months."""
    return "cycle" if usage.grain == "cycle" else "month"


def backtest_table(usage: OnDemandUsage) -> tuple[Table, Backtest]:
    """One row per projection day (5, 10, 15, 20), the whole backtest as the total row."""
    grain = backtest_grain(usage)
    noun = "billing cycle" if grain == "cycle" else "month"
    result = team_backtest(usage, grain)

    def row(line, label):
        return [label, line.projections, line.forecast_mape, line.flat_mape,
                round(line.within_range * 100 / line.projections, 1) if line.projections else None]

    columns = [Column("made_on", "Projected at the end of", "text"),
               Column("projections", "Projections", "count"),
               Column("forecast_mape", "Forecast: mean absolute error", "percent"),
               Column("flat_mape", "Flat run rate: mean absolute error", "percent"),
               Column("within_range", "Ended within the forecast's range", "percent")]
    rows = [row(line, f"day {line.day}") for line in result.lines if line.day is not None]
    return Table(
        "forecast-backtest", "How close the projections came", columns, rows,
        total=row(result.overall, f"days {', '.join(str(day) for day in BACKTEST_DAYS)}"),
        description=(f"Each complete {noun} in range ({result.periods} with spend) projected as of the end of "
                     f"its day 5, 10, 15 and 20 from what was known then, against what the {noun} came to: the "
                     "mean of the absolute errors as a percentage of the actual spend (MAPE). Flat run rate: "
                     "the spend so far divided by the days elapsed, times the days of the period."),
    ), result


__all__ = ["backtest_grain", "backtest_table"]
