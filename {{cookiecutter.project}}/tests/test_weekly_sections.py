"""The weekly review's funnel, retention and acquisition sections: hand-computed tiny cases, the
sample's planted truths (mobile checkout failure, cohort curve, social CAC doubling), WBR-3
reached from ``review``, the same answers on PostgreSQL, and sections that say what is missing."""

from __future__ import annotations

import math

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from {{ cookiecutter.module_name }} import (
    _project,
    acquisition,
    data,
    drilldown,
    funnel,
    retention,
    sample,
    weekly,
)


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    out = tmp_path_factory.mktemp("weekly_sections")
    truth = sample.write_sample(out, customers=3000, seed=42)
    return out, truth["weekly_review"]


def _end(planted: dict) -> pd.Timestamp:
    return pd.Timestamp(planted["last_complete_week"]) + pd.Timedelta(days=7)


def _duck(tables: dict[str, pd.DataFrame]) -> ibis.BaseBackend:
    con = ibis.duckdb.connect()
    for name, frame in tables.items():
        con.con.register(name, pa.Table.from_pandas(frame, preserve_index=False))
    return con


# ---------------------------------------------------------------------------------- funnel


def test_the_planted_mobile_checkout_failure_is_the_step_named(shop):
    folder, planted = shop
    con = data.connect(folder)
    drop = planted["mobile_drop"]
    end = pd.Timestamp(drop["week"]) + pd.Timedelta(days=7)  # as_of on the Sunday of that week
    scores = funnel.last_week_scores(funnel.weekly_counts(con, end))
    moved = funnel.moved_step(scores)
    assert (moved.kind, moved.cut, moved.step) == ("device", drop["device"], drop["step"])
    assert moved.z < -weekly.ROBUST_Z and moved.change < 0
    sentence = funnel.step_sentence(scores)
    assert sentence.startswith("Mobile: checkout → order fell") and "fell most" in sentence
    result = weekly.review(con, end)
    assert result.decision.rule == "WBR-2" and sentence in result.decision.reason


def test_on_the_last_week_no_funnel_step_is_named_and_the_tables_line_up(shop):
    folder, planted = shop
    con = data.connect(folder)
    counts = funnel.weekly_counts(con, _end(planted))
    scores = funnel.last_week_scores(counts)
    assert funnel.moved_step(scores) is None
    assert funnel.step_sentence(scores).startswith("Every funnel step")
    rates = funnel.rate_table(counts, "device")
    assert list(rates.Traffic) == ["All traffic", "Desktop", "Mobile", "Tablet"]
    last = counts[(counts.week == counts.week.max()) & (counts.kind == "all")].iloc[0]
    assert rates.iloc[0]["checkout → order"] == pytest.approx(last.purchases / last.checkouts)
    assert len(funnel.change_table(scores, "source")) == 1 + len(sample.SOURCES)


def test_the_step_that_moved_is_the_largest_fall_not_the_largest_z():
    scores = pd.DataFrame(
        {
            "kind": ["all", "device", "device"],
            "cut": ["All traffic", "mobile", "mobile"],
            "step": ["checkout → order", "checkout → order", "product view → cart"],
            "value": [0.07, 0.04, 0.47],
            "baseline": [0.18, 0.18, 0.23],
            "change": [0.07 / 0.18 - 1, 0.04 / 0.18 - 1, 0.47 / 0.23 - 1],
            "z": [-20.0, -18.0, 37.0],
            "seasonal": [False] * 3,
        }
    )
    moved = funnel.moved_step(scores)
    assert (moved.cut, moved.step) == ("mobile", "checkout → order")
    rise = funnel.moved_step(scores.iloc[[2]])
    assert rise.step == "product view → cart"
    assert "rose most" in funnel.step_sentence(scores.iloc[[2]])
    quiet = scores.assign(z=1.0)
    assert funnel.moved_step(quiet) is None
    assert funnel.step_sentence(quiet).startswith("Every funnel step of every")
    assert "can be called" in funnel.step_sentence(scores.assign(z=np.nan))
    assert "traffic table" in funnel.step_sentence(scores, has_traffic=False)


@pytest.mark.slow
def test_funnel_steps_rarely_move_on_anomaly_free_weeks(tmp_path):
    sample.write_sample(tmp_path, customers=3000, seed=7, faults=("clean_weeks",))
    end = sample.last_complete_week(sample.AS_OF, _project.WEEK_STARTS_ON)
    counts = funnel.weekly_counts(data.connect(tmp_path), end + pd.Timedelta(days=7))
    flags = []
    for _cut, rates in funnel.step_rates(counts).groupby(level=["kind", "cut"]):
        for step in funnel.STEPS:
            z = weekly.seasonal_scores(rates[step].droplevel(["kind", "cut"])).z.iloc[-40:]
            flags.append(np.abs(z.dropna().to_numpy()) > weekly.ROBUST_Z)
    rate = float(np.concatenate(flags).mean())
    print(f"funnel false-alarm rate {rate:.3%} of {sum(len(f) for f in flags)} step-weeks")
    assert rate <= 0.05


# ------------------------------------------------------------------------------- retention


TINY_ORDERS = pd.DataFrame(
    {  # a: Jan, Feb, Apr; b: Jan only; c: Feb, Feb again, Mar; d: Mar
        "order_id": [f"o{i}" for i in range(8)],
        "customer_id": ["a", "a", "a", "b", "c", "c", "c", "d"],
        "ordered_at": pd.to_datetime(
            [
                "2026-01-05",
                "2026-02-10",
                "2026-04-01",
                "2026-01-20",
                "2026-02-01",
                "2026-02-11",
                "2026-03-03",
                "2026-03-30",
            ]
        ),
        "revenue": [10.0, 20, 30, 5, 8, 8, 8, 50],
    }
)


def test_cohorts_and_the_second_order_by_hand():
    con = _duck({"orders": TINY_ORDERS})
    end = pd.Timestamp("2026-04-16")  # April is not complete
    counts = retention.cohort_counts(con, end)
    table = retention.cohort_table(counts, end)
    assert list(table.index) == ["Jan 2026", "Feb 2026", "Mar 2026"]
    # Jan cohort {a, b}: Feb a (1/2), Mar nobody (0), Apr not complete yet
    assert table.loc["Jan 2026", 1] == 0.5 and table.loc["Jan 2026", 2] == 0.0
    assert np.isnan(table.loc["Jan 2026", 3]) and np.isnan(table.loc["Mar 2026", 1])
    assert table.loc["Feb 2026", 1] == 1.0  # c ordered again in March
    curve = retention.pooled_curve(counts, end, months=3)
    # k = 1 pools Jan and Feb (1 of 2 + 1 of 1), k = 2 only Jan (0 of 2), k = 3 nobody yet
    assert curve[1] == pytest.approx(2 / 3) and curve[2] == 0.0 and np.isnan(curve[3])
    days = retention.second_order_days(con, end)
    rows = {(int(r.days), bool(r.event)): int(r.customers) for r in days.itertuples()}
    # a: 36 days, c: 10 days; b waits 86 days, d 17 days (censored at the end)
    assert rows == {(36, True): 1, (10, True): 1, (86, False): 1, (17, False): 1}
    km = retention.kaplan_meier(days)
    # day 10: 3/4 left; day 17: d censored; day 36: 1 of the 2 at risk orders -> 3/8
    assert km[10] == pytest.approx(0.75) and km[36] == pytest.approx(0.375)
    repeat = retention.repeat_summary(days)
    assert repeat.repeat_rate == 0.5 and repeat.median_days == 36
    assert repeat.within_90_days == pytest.approx(0.625)


def test_new_and_returning_customers_by_week_by_hand():
    con = _duck({"orders": TINY_ORDERS})
    weeks = retention.new_vs_returning(con, pd.Timestamp("2026-04-06"))
    feb_week = weeks.loc[pd.Timestamp("2026-02-09")]  # a returns (20), c returns (8)
    assert feb_week["New customers"] == 0 and feb_week["Returning customers"] == 2
    assert feb_week["Revenue from returning"] == 28
    first_week = weeks.loc[pd.Timestamp("2026-01-26")]  # c's first order, Sunday 1 Feb
    assert first_week["New customers"] == 1 and first_week["Revenue from new"] == 8
    last = weeks.loc[pd.Timestamp("2026-03-30")]  # the last complete week: d new, a returns
    assert weeks.index[-1] == pd.Timestamp("2026-03-30")
    assert (last["New customers"], last["Returning customers"]) == (1, 1)


def test_the_planted_cohort_curve_is_recovered(shop):
    folder, planted = shop
    con = data.connect(folder)
    end = pd.Timestamp(sample.AS_OF).normalize() + pd.Timedelta(days=1)
    curve = retention.pooled_curve(retention.cohort_counts(con, end), end)
    truth = planted["cohort_retention"]["pooled_by_months_since_first"]
    for k, share in truth.items():
        assert curve[int(k)] == pytest.approx(share, abs=0.005)  # same orders, engine-side
    points = retention.retention_sentences(curve, retention.Repeat(10, 0.5, None, 0.2))
    assert f"{curve[1]:.0%} of a month's new customers" in points[0]
    assert "no median" in points[1]


# ----------------------------------------------------------------------------- acquisition


def test_the_planted_social_cac_doubling_is_recovered(shop):
    folder, planted = shop
    con = data.connect(folder)
    end = _end(planted)
    cac = planted["cac"]
    since = pd.Timestamp(planted["cac_doubles"]["from_week"])
    after, _, _ = acquisition.window_counts(con, end, weeks=8)
    before, _, stop = acquisition.window_counts(con, since, weeks=8)
    assert stop == since
    for counts, when in ((after, "after"), (before, "before")):
        for channel in cac:
            found = counts.loc[channel, "spend"] / counts.loc[channel, "new"]
            assert found == pytest.approx(cac[channel][when], rel=0.06), (channel, when)
    monthly = acquisition.monthly_cac(con, end, ["email"])
    assert "email" not in monthly.columns
    assert monthly.loc["2026-06-01", "social"] == pytest.approx(50, rel=0.1)
    assert monthly.loc["2026-03-01", "social"] == pytest.approx(25, rel=0.1)


@pytest.mark.filterwarnings("ignore:Gamma-Gamma fit did not fully converge")  # see acquisition
def test_ltv_comes_from_the_bgnbd_and_gamma_gamma_fits(shop):
    folder, planted = shop
    con = data.connect(folder)
    end = _end(planted)
    histories = acquisition.customer_histories(con, end)
    value = acquisition.new_customer_value(histories, margin=1.0, months=12, annual_discount=0.0)
    # the same quantities straight from bgnbd: first order + E[X(12 months)] x mean spend
    params = acquisition.bgnbd.fit_bgnbd(histories.x, histories.t_x, histories["T"])
    repeat = histories[histories.x > 0]
    gg = acquisition.bgnbd.fit_gamma_gamma(repeat.x, repeat.mean_repeat_spend)
    weeks = 12 * acquisition.DAYS_PER_MONTH / 7
    purchases = acquisition.bgnbd.expected_purchases(params, [0.0], [0.0], [0.0], weeks)[0]
    spend = gg.p * gg.v / (gg.q - 1)
    expected = histories.first_revenue.mean() + purchases * spend
    assert value.ltv == pytest.approx(expected, rel=1e-6)
    assert value.cumulative.iloc[-1] == pytest.approx(expected, rel=1e-6)
    assert value.cumulative.is_monotonic_increasing
    assert acquisition.payback_months(pd.Series([10.0, 30.0, 45.0]), 30.0) == 1
    assert acquisition.payback_months(pd.Series([10.0, 30.0]), 31.0) is None


def test_economics_on_the_sample_and_wbr3_reached_from_review(shop, tmp_path):
    folder, planted = shop
    con = data.connect(folder)
    end = _end(planted)
    econ = acquisition.economics(con, end)
    assert set(econ.table.index) == {"paid_search", "social", "email"}
    assert econ.table.loc["email", "kind"] == "retention" and econ.low_ltv_cac == []
    assert (econ.table.loc[["paid_search", "social"], "ltv_cac"] > 1).all()
    words = acquisition.economics_sentences(econ, "USD")
    assert words[-1].startswith("From ") and "to existing ones" in words[-1]
    assert weekly.review(con, end).decision.rule == "WBR-4"
    # social spend x 40: its LTV:CAC drops below 1 and the review says so
    spend = pd.read_parquet(folder / "marketing_spend.parquet")
    spend.loc[spend.channel == "social", "spend"] *= 40
    for name in ("orders", "customers", "traffic"):
        (tmp_path / f"{name}.parquet").symlink_to(folder / f"{name}.parquet")
    spend.to_parquet(tmp_path / "marketing_spend.parquet")
    result = weekly.review(data.connect(tmp_path), end)
    assert result.decision.rule == "WBR-3"
    assert "through social is worth less" in result.decision.reason
    assert result.economics.low_ltv_cac == ["social"]
    assert any("social" in p for p in weekly.summary_points(result, "USD"))


def test_without_spend_the_sections_say_what_to_add(shop, tmp_path):
    folder, planted = shop
    for name in ("orders", "customers", "sessions"):
        (tmp_path / f"{name}.parquet").symlink_to(folder / f"{name}.parquet")
    con = data.connect(tmp_path)
    end = _end(planted)
    result = weekly.review(con, end)
    assert result.economics is None and result.decision.rule in ("WBR-2", "WBR-4")
    assert acquisition.economics_sentences(None, "USD") == [acquisition.missing_sentence()]
    assert "marketing_spend" in acquisition.missing_sentence()
    assert "traffic table" in result.funnel_sentence
    with pytest.raises(ValueError, match="margin"):
        acquisition.economics(con, end, margin=1.5)


def test_too_few_customers_to_fit_leave_the_ltv_unknown_not_an_error():
    customers = pd.DataFrame(
        {
            "customer_id": list("abcd"),
            "signed_up_at": pd.to_datetime(["2026-01-01"] * 4),
            "acquisition_channel": ["social"] * 4,
        }
    )
    spend = pd.DataFrame(
        {
            "date": pd.to_datetime(["2026-03-01", "2026-03-02"]),
            "channel": ["social", "email"],
            "spend": [100.0, 10.0],
        }
    )
    tables = {"orders": TINY_ORDERS, "customers": customers, "marketing_spend": spend}
    econ = acquisition.economics(_duck(tables), pd.Timestamp("2026-04-06"))
    social = econ.table.loc["social"]
    assert social.new == 1 and social.cac == 100.0  # d, the only first order in the 8 weeks
    assert math.isnan(social.ltv) and social.note and econ.low_ltv_cac == []
    words = acquisition.economics_sentences(econ, "USD")
    assert words[0].startswith("social: a new customer costs $100.00; what they are worth")
    assert words[-1].startswith("From 09 Feb to 05 Apr 2026, 91% of marketing spend")


# ------------------------------------------------------------------------------ PostgreSQL


@pytest.mark.postgres
def test_the_sections_agree_on_postgresql(shop, postgres_url):
    from pg import drop_tables, load_tables

    folder, planted = shop
    names = ("orders", "customers", "traffic", "marketing_spend")
    load_tables(postgres_url, {n: pd.read_parquet(folder / f"{n}.parquet") for n in names})
    try:
        pg, duck = ibis.connect(postgres_url), data.connect(folder)
        end = _end(planted)
        for module, call in (
            (funnel, lambda con: funnel.weekly_counts(con, end)),
            (retention, lambda con: retention.cohort_counts(con, end)),
            (retention, lambda con: retention.second_order_days(con, end)),
            (retention, lambda con: retention.new_vs_returning(con, end)),
        ):
            on_pg, on_duck = call(pg), call(duck)
            keys = [c for c in on_duck.columns if on_duck[c].dtype == object] or None
            if keys is None and isinstance(on_duck.index, pd.DatetimeIndex):
                on_pg, on_duck = on_pg.sort_index(), on_duck.sort_index()
            else:
                cols = list(on_duck.columns[:3])
                on_pg = on_pg.sort_values(cols).reset_index(drop=True)
                on_duck = on_duck.sort_values(cols).reset_index(drop=True)
            pd.testing.assert_frame_equal(on_pg, on_duck, check_dtype=False, obj=module.__name__)
        a, b = acquisition.economics(pg, end), acquisition.economics(duck, end)
        # the same inputs; the likelihood is flat along Gamma-Gamma's (p, v), so the two fits
        # stop a few parts in 1e5 apart
        pd.testing.assert_frame_equal(a.table, b.table, check_dtype=False, rtol=1e-3)
        assert math.isclose(a.monthly_cac.sum().sum(), b.monthly_cac.sum().sum(), rel_tol=1e-9)
        on_pg, on_duck = drilldown.drilldown(pg, end), drilldown.drilldown(duck, end)
        assert (
            [c.kind for c in on_pg]
            == [c.kind for c in on_duck]
            == [
                *drilldown.TRAFFIC_CUTS,
                *drilldown.ORDER_CUTS,
            ]
        )
        for a_cut, b_cut in zip(on_pg, on_duck, strict=True):
            pd.testing.assert_frame_equal(
                a_cut.table.sort_index(), b_cut.table.sort_index(), check_dtype=False
            )
    finally:
        drop_tables(postgres_url, list(names))


def test_section_sentences_render_as_written():
    shown = weekly.what_it_means(["paid_search: costs $37.90 (LTV:CAC 8.1)."]).data
    assert r"paid\_search: costs \$37.90 (LTV:CAC 8.1)." in shown  # brackets stay: \( is maths


# ------------------------------------------------------------------------------ drill-down


def test_a_pure_mix_shift_by_hand():
    # Week 1: web 10 orders x 100, app 10 x 50 (AOV 75); week 2: web 5 x 100, app 15 x 50
    # (AOV 62.50). Baskets did not change within a channel: the whole -12.50 is mix. Everyone
    # is new in week 1; in week 2 only Alice, whose first order it is.
    monday = pd.Timestamp("2026-06-01")  # a Monday
    rows = []
    for week, (web, app) in enumerate(((10, 10), (5, 15))):
        for i in range(web + app):
            rows.append(
                {
                    "order_id": f"w{week}-{i}",
                    "customer_id": "alice" if (week, i) == (1, 0) else f"c{i}",
                    "ordered_at": monday + pd.Timedelta(days=7 * week + 1, hours=i),
                    "revenue": 100.0 if i < web else 50.0,
                    "channel": "web" if i < web else "app",
                }
            )
    con = _duck({"orders": pd.DataFrame(rows)})
    end = monday + pd.Timedelta(days=14)
    cuts = {c.kind: c for c in drilldown.drilldown(con, end)}
    assert set(cuts) == {"channel", "customer"}  # no traffic, no customers.country
    channel = cuts["channel"]
    assert (channel.before, channel.after) == (75.0, 62.5)
    assert channel.table.rate.abs().max() == 0
    assert channel.table.mix.sum() == pytest.approx(-12.5, abs=1e-12)
    assert channel.table.numerator_change.to_dict() == {"web": -500.0, "app": 250.0}
    customer = cuts["customer"].table
    assert customer.volume_after.to_dict() == {"returning": 19.0, "new": 1.0}
    assert customer.volume_before.to_dict() == {"returning": 0.0, "new": 20.0}
    said = drilldown.sentence(channel, "EUR")
    assert said.startswith("By sales channel: revenue changed −€250; average order value went")
    assert "+€0.00 from baskets changing within sales channels, −€12.50 from orders" in said
    assert said.endswith("web moved revenue most (−€500).")


def test_mix_and_rate_of_every_cut_add_up_to_the_change(shop):
    folder, planted = shop
    for cut in drilldown.drilldown(data.connect(folder), _end(planted)):
        assert cut.table.total.sum() == pytest.approx(cut.after - cut.before, rel=1e-9), cut.kind
        assert (cut.table.mix + cut.table.rate).to_numpy() == pytest.approx(cut.table.total)


def test_the_planted_mobile_drop_is_a_rate_effect_on_mobile(shop):
    folder, planted = shop
    con = data.connect(folder)
    week = pd.Timestamp(planted["mobile_drop"]["week"])
    device = drilldown.drilldown(con, week + pd.Timedelta(days=7))[0]
    assert device.kind == "device" and device.table.index[0] == "mobile"
    assert device.table.rate.idxmin() == "mobile"
    assert "mobile moved it most" in drilldown.sentence(device, "USD")
    # the last complete week: every device converts 8% less, so rate is the change, not mix
    last = drilldown.drilldown(con, _end(planted))[0]
    assert abs(last.table.rate.sum()) > 5 * abs(last.table.mix.sum())
    assert last.table.rate.sum() / last.before == pytest.approx(
        planted["last_week_conversion_factor"] - 1, abs=0.05
    )


def test_many_cuts_fold_into_one_row_and_still_add_up():
    frame = pd.DataFrame(
        {
            "week": [pd.Timestamp("2026-06-01")] * 12 + [pd.Timestamp("2026-06-08")] * 12,
            "cut": [f"c{i:02d}" for i in range(12)] * 2,
            "volume": [10.0 + i for i in range(12)] + [12.0 + 2 * i for i in range(12)],
            "numerator": [100.0 * (i + 1) for i in range(12)] * 2,
        }
    )
    table = drilldown.split(frame, pd.Timestamp("2026-06-01"), pd.Timestamp("2026-06-08"))
    assert len(table) == drilldown.MAX_CUTS and table.index[-1] == "5 other cuts"
    # no cut's orders changed, so the stable order keeps c00..c06 and folds c07..c11
    before = frame[frame.week == frame.week.min()]
    after = frame[frame.week == frame.week.max()]
    change = (
        after.numerator.sum() / after.volume.sum() - before.numerator.sum() / before.volume.sum()
    )
    assert table.total.sum() == pytest.approx(change, rel=1e-12)
    assert table.loc["5 other cuts", "volume_after"] == after.volume.iloc[-5:].sum()


def test_the_drilldown_says_why_it_is_missing():
    assert drilldown.sentences([], "USD") == [
        "No drill-down: the data holds fewer than two complete weeks before the analysis date."
    ]


def test_an_unusual_operational_metric_raises_the_investigate_verdict(shop, tmp_path):
    folder, planted = shop
    end = _end(planted)
    # four times the support contacts in the last complete week (the sample's ~30 contacts a
    # week swing by half from week to week, so doubling is within the usual range)
    contacts = pd.read_parquet(folder / "support_contacts.parquet")
    last = pd.Timestamp(planted["last_complete_week"])
    week = contacts[(contacts.contacted_at >= last) & (contacts.contacted_at < end)]
    again = [week.assign(contact_id=week.contact_id + f"-again{k}") for k in range(3)]
    for path in folder.glob("*.parquet"):
        if path.name != "support_contacts.parquet":
            (tmp_path / path.name).symlink_to(path)
    pd.concat([contacts, *again]).to_parquet(tmp_path / "support_contacts.parquet")
    result = weekly.review(data.connect(tmp_path), end)
    assert result.decision.rule == "WBR-2"
    said = "Support contacts per 100 orders rose"
    assert any(a.startswith(said) for a in result.alerts), result.alerts
    assert said in result.decision.reason
