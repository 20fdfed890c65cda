"""The yardstick: DuckDB doing the loader's aggregation over the same cache files.

DuckDB reads every ``*-usage-based-data.json`` of a data directory with
``read_json``, unnests the events, keeps the on-demand ones (``kind ==
"Usage-based"`` and chargeable and token-based), and aggregates them per
(month, user, model), then monthly per user and monthly per model, with costs
in exact micro-cents by the project's cost rule (``on_demand.event_cost``:
``chargedCents``, else ``totalCents x (1 - discountPercentOff/100) +
cursorTokenFee``). DuckDB is a benchmark dependency only
(the ``bench`` extra), so it is imported when the yardstick runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from billing_reports.cache import CACHE_SUFFIX

REMOVED_USER = "(removed user)"
#: Milliseconds in a UTC day: ``epoch_ms // DAY_MS`` is the ledger's day.
DAY_MS = 86_400_000

#: The fields the aggregation reads; declaring them spares DuckDB from sampling
#: the (large) files to infer a schema, as a careful user would do.
EVENT_TYPE = (
    "STRUCT(timestamp VARCHAR, userEmail VARCHAR, model VARCHAR, kind VARCHAR, isChargeable BOOLEAN,"
    " isTokenBasedCall BOOLEAN, tokenUsage STRUCT(inputTokens BIGINT, outputTokens BIGINT,"
    " cacheWriteTokens BIGINT, cacheReadTokens BIGINT, totalCents DOUBLE, discountPercentOff DOUBLE),"
    " cursorTokenFee DOUBLE, chargedCents DOUBLE)[]"
)


@dataclass(frozen=True)
class MonthFigures:
    requests: int
    cost: int  # micro-cents


@dataclass(frozen=True)
class YardstickResult:
    seconds: float
    #: cache ``month`` stem (``01-2026``) -> on-demand requests and cost
    months: dict[str, MonthFigures]
    #: rows of the per-(day, user, model) aggregation, and of the monthly per-user and per-model ones
    day_rows: int
    user_month_rows: int
    model_month_rows: int

    @property
    def requests(self) -> int:
        return sum(figures.requests for figures in self.months.values())

    @property
    def cost(self) -> int:
        return sum(figures.cost for figures in self.months.values())


def usage_query(data_dir: Path) -> str:
    """SQL for the per-(UTC day, user, model) aggregates of the cache files in ``data_dir``.

    Each row keeps its file's ``month`` too (a day lies in one month), for the monthly sums.
    """
    pattern = str(Path(data_dir) / f"*{CACHE_SUFFIX}").replace("'", "''")
    return f"""
        WITH files AS (
            SELECT month, unnest(events) AS event
            FROM read_json('{pattern}', format = 'auto', maximum_object_size = 2147483647,
                           columns = {{month: 'VARCHAR', events: '{EVENT_TYPE}'}})
        )
        SELECT month,
               CAST(event.timestamp AS BIGINT) // {DAY_MS} AS day,
               coalesce(event.userEmail, '{REMOVED_USER}') AS user_email,
               event.model AS model,
               count(*) AS requests,
               sum(coalesce(round(event.chargedCents * 1e6),
                            round((event.tokenUsage.totalCents
                                   * (1 - coalesce(event.tokenUsage.discountPercentOff, 0) / 100)
                                   + coalesce(event.cursorTokenFee, 0)) * 1e6))::BIGINT) AS cost,
               sum(event.tokenUsage.inputTokens) AS input_tokens,
               sum(event.tokenUsage.outputTokens) AS output_tokens,
               sum(event.tokenUsage.cacheWriteTokens) AS cache_write_tokens,
               sum(event.tokenUsage.cacheReadTokens) AS cache_read_tokens
        FROM files
        WHERE event.kind = 'Usage-based' AND event.isChargeable AND event.isTokenBasedCall
        GROUP BY ALL
    """


def run_yardstick(data_dir: Path, *, threads: int | None = None) -> YardstickResult:
    """Aggregate the cache of ``data_dir`` with DuckDB; time it from connect to the last row."""
    import duckdb

    started = time.perf_counter()
    connection = duckdb.connect()
    try:
        connection.execute("SET enable_progress_bar = false")
        if threads:
            connection.execute(f"SET threads = {int(threads)}")
        connection.execute(f"CREATE TEMP TABLE usage AS {usage_query(data_dir)}")
        [(day_rows,)] = connection.execute("SELECT count(*) FROM usage").fetchall()
        per_user = connection.execute(
            "SELECT month, user_email, sum(requests), sum(cost) FROM usage GROUP BY ALL"
        ).fetchall()
        per_model = connection.execute(
            "SELECT month, model, sum(requests), sum(cost), sum(input_tokens + output_tokens"
            " + cache_write_tokens + cache_read_tokens) FROM usage GROUP BY ALL"
        ).fetchall()
    finally:
        connection.close()
    seconds = time.perf_counter() - started

    requests: dict[str, int] = {}
    costs: dict[str, int] = {}
    for month, _user, month_requests, cost in per_user:
        requests[month] = requests.get(month, 0) + int(month_requests)
        costs[month] = costs.get(month, 0) + int(cost)
    return YardstickResult(
        seconds=seconds,
        months={month: MonthFigures(requests[month], costs[month]) for month in sorted(requests)},
        day_rows=int(day_rows),
        user_month_rows=len(per_user),
        model_month_rows=len(per_model),
    )


__all__ = ["MonthFigures", "YardstickResult", "run_yardstick", "usage_query"]
