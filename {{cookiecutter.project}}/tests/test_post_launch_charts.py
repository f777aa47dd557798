"""The post-launch review's charts, drawn from a real readout and a real before/after review of
the sample shop: what each shows (titles, labels, rows, the reference line), not pixels."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from {{ cookiecutter.module_name }} import data, post_launch
from {{ cookiecutter.module_name }} import experiments as ex
from {{ cookiecutter.module_name }} import post_launch_charts as charts


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def readout(sample_dir):
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("SHOP_DATA_URL", raising=False)
        plan = post_launch.ExperimentPlan("checkout_redesign", segment_cuts=["device"])
        return post_launch.review_experiment(data.connect(sample_dir), plan)


@pytest.fixture(scope="module")
def before_after(sample_dir, truth):
    planted = truth["pre_post"]
    plan = post_launch.PrePostPlan(
        launch_date=planted["launch_date"],
        series_metric="revenue",
        treated_series=planted["treated"],
        comparison_series=[planted["comparison"]],
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("SHOP_DATA_URL", raising=False)
        return post_launch.review_pre_post(data.connect(sample_dir), plan)


def test_the_metric_forest_has_a_row_per_metric_and_the_smallest_effect_line(readout):
    rows = post_launch.metric_rows(readout.result)
    shown = post_launch.metrics_table(rows, "USD")
    ax = charts.metric_forest(shown, rows, "change per metric", 0.05, 0.02).axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == list(shown["Metric"]) and ax.get_yticks()[0] == max(ax.get_yticks())
    assert ax.get_xlabel() == "Change, treatment vs control (relative, 95% interval)"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["clear change", "within noise", "smallest effect worth shipping (+2%)"]


def test_the_segment_forest_needs_two_tested_segments(readout):
    cuts = post_launch.segment_table(readout)
    segments = readout.result.segments
    fig = charts.segment_forest(cuts, segments, "by segment", 0.05)
    tested = segments.dropna(subset=["rel_lift"])
    assert len(tested) >= 2 and len(fig.axes[0].get_yticklabels()) == len(tested)
    assert charts.segment_forest(cuts, segments.iloc[:1], "by segment", 0.05) is None


def test_the_lift_over_time_and_the_funnel_charts(readout, sample_dir):
    r = readout.result
    over_time = ex.lift_over_time(
        readout.units, control=r.control, treatment=r.treatment, metric=r.primary, alpha=0.05
    )
    ax = charts.lift_over_time_chart(over_time, r.primary, 0.05, 0.02).axes[0]
    assert ax.get_title() == f"Cumulative lift in {post_launch.label(r.primary).lower()}"
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == [
        "95% interval",
        "lift so far",
        "smallest effect worth shipping",
    ]
    funnel = post_launch.funnel_by_variant(data.connect(sample_dir), readout)
    ax = charts.funnel_chart(funnel).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == list(funnel.columns)
    assert len(ax.patches) == funnel.size  # one bar per arm and step


def test_the_before_after_charts(before_after):
    ax = charts.pre_post_chart(before_after, "EUR").axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    launch = pd.Timestamp(before_after.launch)
    assert legend[-1] == f"launch {launch:%d %b %Y}"
    assert any("(treated)" in text for text in legend) and ax.get_ylabel() == "Daily revenue (EUR)"
    ax = charts.event_study_chart(before_after, "EUR").axes[0]
    assert ax.get_ylabel() == "Gap vs week -1 (EUR per day)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["before", "after"]
