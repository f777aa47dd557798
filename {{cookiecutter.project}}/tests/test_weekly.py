"""Weekly business review core: the KPI tree adds up, mix + rate add up, the seasonal baseline
finds the planted anomalies and rarely fires on anomaly-free weeks, and the decision rules."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.module_name }} import _project, data, operations, periods, sample, weekly


def test_the_log_decomposition_adds_up_exactly():
    before = {"sessions": 10_000, "conversion": 0.03, "orders_per_buyer": 1.1, "aov": 50.0}
    after = {"sessions": 11_000, "conversion": 0.027, "orders_per_buyer": 1.1, "aov": 52.0}
    tree = weekly.kpi_tree(before, after)
    assert sum(tree.share.values()) == pytest.approx(1.0, rel=1e-12)
    assert tree.log_change["conversion"] == pytest.approx(math.log(0.9), rel=1e-12)
    assert tree.relative == pytest.approx(1.1 * 0.9 * 52 / 50 - 1, rel=1e-12)


def test_mix_and_rate_add_up_to_the_change():
    w0 = pd.Series({"desktop": 0.5, "mobile": 0.4, "tablet": 0.1})
    w1 = pd.Series({"desktop": 0.4, "mobile": 0.5, "tablet": 0.1})
    r0 = pd.Series({"desktop": 0.03, "mobile": 0.02, "tablet": 0.025})
    r1 = pd.Series({"desktop": 0.03, "mobile": 0.015, "tablet": 0.025})
    split = weekly.mix_rate(w0, r0, w1, r1)
    assert split.total.sum() == pytest.approx((w1 * r1).sum() - (w0 * r0).sum(), rel=1e-12)
    assert split.loc["mobile", "rate"] < 0 and split.loc["desktop", "rate"] == 0
    assert split.loc["desktop", "mix"] < 0  # traffic moved away from the better-converting device
    # by hand: R̄ = (0.0255 + 0.022) / 2 = 0.02375; desktop Δw = -0.1, r̄ = 0.03 → -0.1 × 0.00625
    assert split.loc["desktop", "mix"] == pytest.approx(-0.000625, rel=1e-9)
    assert split.loc["tablet", "mix"] == 0  # its share did not move
    assert split.mix.sum() == pytest.approx((-0.1 * 0.03 + 0.1 * 0.0175), rel=1e-9)  # Σ Δw_i r̄_i


def test_a_share_moving_to_a_cut_that_converts_like_the_shop_is_no_mix_effect():
    w0 = pd.Series({"a": 0.5, "b": 0.5})
    w1 = pd.Series({"a": 0.3, "b": 0.7})
    same = pd.Series({"a": 0.02, "b": 0.02})
    split = weekly.mix_rate(w0, same, w1, same)
    assert split.mix.abs().max() == pytest.approx(0.0, abs=1e-15)


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    out = tmp_path_factory.mktemp("weekly")
    truth = sample.write_sample(out, customers=3000, seed=42)
    return out, truth


def _mobile_conversion(con, end):
    t = data.table(con, "traffic")
    t = t.filter((t.device == "mobile") & (t.date < end.to_pydatetime()))
    t = t.mutate(week=periods.week_start(t.date))
    weeks = data.fetch(
        t.group_by("week").aggregate(s=t.sessions.sum(), p=t.purchases.sum())
    ).sort_values("week")
    return pd.Series((weeks.p / weeks.s).to_numpy(), index=pd.to_datetime(weeks.week))


def test_the_planted_factor_and_mobile_drop_are_recovered(shop):
    folder, truth = shop
    planted = truth["weekly_review"]
    con = data.connect(folder)
    end = pd.Timestamp(planted["last_complete_week"]) + pd.Timedelta(days=7)
    series = weekly.weekly_series(con, end)
    assert series.index[-1] == pd.Timestamp(planted["last_complete_week"])
    tree = weekly.kpi_tree(series.iloc[-2], series.iloc[-1])
    assert sum(tree.share.values()) == pytest.approx(1.0)
    scores = weekly.seasonal_scores(_mobile_conversion(con, end))
    week = pd.Timestamp(planted["mobile_drop"]["week"])
    assert scores.loc[week, "z"] < -weekly.ROBUST_Z
    assert scores.loc[week, "value"] / scores.loc[week, "baseline"] == pytest.approx(0.75, abs=0.08)
    assert weekly.decide(tree, []).rule == "WBR-4"


@pytest.mark.slow
def test_false_alarms_on_anomaly_free_weeks_stay_below_five_percent(tmp_path):
    sample.write_sample(tmp_path, customers=3000, seed=7, faults=("clean_weeks",))
    con = data.connect(tmp_path)
    end = sample.last_complete_week(sample.AS_OF, _project.WEEK_STARTS_ON) + pd.Timedelta(days=7)
    series = weekly.weekly_series(con, end)
    kpis = [series[c] for c in ("revenue", "orders", "buyers", "sessions", "conversion", "aov")]
    kpis.append(_mobile_conversion(con, end))
    # the operational metrics raise WBR-2 alerts too, so they count in the rate
    kpis += [values.dropna() for _, values in operations.operations(con, end).series.items()]
    flags = []
    for kpi in kpis:
        z = weekly.seasonal_scores(kpi).z.iloc[-40:]
        flags.append(np.abs(z.dropna()) > weekly.ROBUST_Z)
    rate = float(np.concatenate(flags).mean())
    print(f"false-alarm rate {rate:.3%} of {sum(len(f) for f in flags)} KPI-weeks")
    assert rate <= 0.05


def test_the_decision_rules():
    assert weekly.decide(None, []).rule == "WBR-1"
    tree = weekly.kpi_tree(
        {"sessions": 1, "conversion": 1, "orders_per_buyer": 1, "aov": 1},
        {"sessions": 1.1, "conversion": 1, "orders_per_buyer": 1, "aov": 1},
    )
    assert weekly.decide(tree, ["Mobile conversion fell 25%."]).rule == "WBR-2"
    assert weekly.decide(tree, [], ["social"]).rule == "WBR-3"
    assert "sessions moved most" in weekly.decide(tree, []).reason
    assert weekly.anomaly_sentence("Mobile conversion", 0.75, 1.0).startswith(
        "Mobile conversion fell 25% below"
    )


def test_no_usual_range_is_claimed_before_a_baseline_exists():
    short = pd.Series(np.linspace(100, 120, weekly.HISTORY_WEEKS - 1))
    assert np.isnan(weekly.seasonal_scores(short)["z"]).all()  # nothing can be judged yet
    enough = pd.Series(np.linspace(100, 120, weekly.HISTORY_WEEKS))
    assert not np.isnan(weekly.seasonal_scores(enough)["z"].iloc[-1])
    tree = weekly.kpi_tree(
        {"sessions": 1, "conversion": 1, "orders_per_buyer": 1, "aov": 1},
        {"sessions": 1.1, "conversion": 1, "orders_per_buyer": 1, "aov": 1},
    )
    early = weekly.decide(tree, [], weeks=5)
    assert early.rule == "WBR-4" and "usual range" not in early.reason
    assert "too little history" in early.reason
    assert "within its usual range" in weekly.decide(tree, []).reason
    assert "time of year" not in weekly.anomaly_sentence("Revenue", 0.5, 1.0)
    assert weekly.anomaly_sentence("Revenue", 0.5, 1.0, seasonal=True).endswith(
        "for this time of year."
    )


def test_the_index_orders_runs_by_data_date_with_deltas_and_verdicts():
    from {{ cookiecutter.module_name }} import index

    def run(run_id, started, as_of, revenue):
        metrics = {
            "wbr_revenue": {
                "value": revenue,
                "label": "Revenue, last complete week",
                "kind": "money",
            },
            "decision": {"label": "On track", "next_step": "No action needed."},
        }
        nb = {"status": "ok", "metrics": metrics}
        return {
            "run_id": run_id,
            "started_at": started,
            "data_as_of": as_of,
            "notebooks": {"weekly_business_review": nb},
        }

    runs = [
        run("r1", "2026-07-03", "2026-06-30", 200.0),
        run("r2", "2026-07-01", "2026-06-16", 100.0),
        run("r3", "2026-07-02", "2026-06-23", 150.0),
    ]
    ordered = sorted(runs, key=index._data_date_order)
    assert [r["run_id"] for r in ordered] == ["r2", "r3", "r1"]
    page = index.reports_index_html(ordered, "r1")
    assert page.index("Business KPIs") < page.index("Headline values over time")
    assert "Revenue, last complete week" in page and "+33.3%" in page
    assert "Weekly business review: On track." in page and "wbr_revenue" not in page


def test_shares_of_the_change_are_quoted_only_when_every_factor_moved_with_revenue():
    base = {"sessions": 1000.0, "conversion": 0.05, "orders_per_buyer": 1.1, "aov": 50.0}
    offset = weekly.kpi_tree(base, {**base, "sessions": 1121.0, "conversion": 0.05 / 1.14})
    assert offset.share["sessions"] < -5  # the -698% the sample's last week showed
    assert weekly.driver_sentence(offset) == (
        "Sessions (+12.1%) and conversion (-12.3%) pulled in opposite directions; "
        "revenue moved -1.7% net."
    )
    together = weekly.kpi_tree(base, {**base, "aov": 55.0, "sessions": 1010.0})
    assert weekly.driver_sentence(together) == (
        "Average order value (+10.0%) moved most: 91% of the change in log terms."
    )
    assert weekly.driver_sentence(weekly.kpi_tree(base, base)) == "No factor of revenue moved."


def _weeks(revenue: list[float]) -> pd.DataFrame:
    index = pd.date_range("2025-01-06", periods=len(revenue), freq="7D")  # Mondays
    frame = pd.DataFrame(
        {"sessions": 1000.0, "buyers": 20.0, "orders": 25.0, "revenue": revenue}, index=index
    )
    return weekly.with_factors(frame)


def test_a_week_against_the_week_before_last_year_and_its_eight_week_range():
    revenue = [100.0 + i for i in range(60)]  # 100, 101, ... 159
    revenue[-1] = 200.0  # the last week jumps above everything before it
    kpis = {k.kpi: k for k in weekly.kpi_weeks(_weeks(revenue))}
    last = kpis["revenue"]
    assert (last.value, last.previous) == (200.0, 158.0)
    assert last.last_year == 107.0  # row 59 - 52 = row 7
    assert (last.low, last.high) == (151.0, 158.0)  # rows 51..58
    assert last.position == "above"
    assert kpis["sessions"].position == "within"  # flat: within its own range
    table = weekly.kpi_week_table(list(kpis.values()), "EUR").set_index("KPI")
    assert table.loc["Revenue", "Change on last year"] == f"{200 / 107 - 1:+.1%}"
    assert table.loc["Revenue", "Range of the 8 weeks before"] == "€151 – €158"
    assert weekly.north_star_sentence(_weeks(revenue), "EUR") == (
        "Week of 23 Feb 2026: revenue €200, +26.6% on the week before, +86.9% on the same "
        "week last year, above the range of the 8 weeks before (€151 – €158)."
    )


def test_a_short_history_claims_no_last_year_and_no_range():
    short = _weeks([100.0, 90.0, 95.0])
    revenue = next(k for k in weekly.kpi_weeks(short) if k.kpi == "revenue")
    assert (revenue.last_year, revenue.low, revenue.position) == (None, None, None)
    assert weekly.north_star_sentence(short, "USD") == (
        "Week of 20 Jan 2025: revenue $95.00, +5.6% on the week before, no data for the same "
        "week last year."
    )
    assert weekly.kpi_weeks(short.iloc[:1]) == []
