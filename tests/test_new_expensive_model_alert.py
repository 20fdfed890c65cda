"""The new-expensive-model rule: a user's first spend on an expensive model, found in the checked period."""

from billing_reports.builtin_plugins.new_expensive_model_alert import first_uses
from billing_reports.months import Month
from billing_reports.periods import cut_periods, parse_day
from billing_reports.usage import OnDemandUsage, UsageTotals


def _cell(cost: int) -> UsageTotals:
    return UsageTotals(cost=cost, requests=1, input_tokens=0, output_tokens=0, cache_write_tokens=0,
                       cache_read_tokens=0, list_cost=cost)


def test_only_first_uses_in_the_checked_period_are_new_with_their_spend_there():
    d = parse_day
    ledger = {
        (d("2026-01-20"), "bob@example.com", "opus", False): _cell(5),        # bob: opus in January already
        (d("2026-02-03"), "bob@example.com", "opus", True): _cell(7),
        (d("2026-02-10"), "ann@example.com", "opus", False): _cell(11),       # ann: first opus on 10 Feb
        (d("2026-02-11"), "ann@example.com", "opus", True): _cell(13),
        (d("2026-02-11"), "ann@example.com", "sonnet", False): _cell(17),     # not an expensive model
        (d("2026-01-05"), "cy@example.com", "sonnet", False): _cell(19),
        (d("2026-02-28"), "cy@example.com", "o3", False): _cell(23),          # cy: first o3 on 28 Feb
    }
    usage = OnDemandUsage(months=[Month(2026, 1), Month(2026, 2)], ledger=ledger)
    february = cut_periods("month", d("2026-01-01"), d("2026-02-28"))[-1]
    found = first_uses(usage, ["opus", "o3"], february)
    assert found == {("ann@example.com", "opus"): (d("2026-02-10"), 24), ("cy@example.com", "o3"): (d("2026-02-28"), 23)}
