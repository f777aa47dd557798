"""The segmentation page: parameter readings, the groups' tables and the charts, by hand and on
groups found in the sample shop as the notebook finds them."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from {{ cookiecutter.module_name }} import data, sample
from {{ cookiecutter.module_name }} import segmentation as seg
from {{ cookiecutter.module_name }} import segmentation_page as page
from {{ cookiecutter.module_name }}.errors import UserError

FEATURES = pd.DataFrame(
    {
        "customer_id": ["a", "b"],
        "recency_days": [3.0, 40.0],
        "frequency": [1, 4],
        "monetary": [10.0, 90.0],
        "aov": [10.0, 22.5],
        "discount_share": [0.0, 0.25],
        "top_category": ["shoes", "bags"],
    }
)

PROFILES = pd.DataFrame(
    {
        "name": ["Bargain hunters", "Loyal regulars"],
        "customers": [6, 2],
        "revenue": [60.0, 120.0],
        "mean_frequency": [1.5, 6.0],
        "mean_aov": [6.7, 10.0],
        "mean_monetary": [10.0, 60.0],
        "mean_recency_days": [80.0, 9.0],
        "channel_web": [0.7, 0.2],
        "channel_mobile_app": [0.3, 0.8],
        "action": ["Lead with offers", "Thank them"],
    }
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_the_feature_set_is_a_preset_or_a_list_of_numeric_customer_features():
    assert page.features_to_group_on("behaviour", FEATURES) == seg.FEATURE_SETS["behaviour"]
    assert page.features_to_group_on(" frequency , aov ", FEATURES) == ("frequency", "aov")
    with pytest.raises(UserError, match="top_category is not a customer feature") as raised:
        page.features_to_group_on("frequency, top_category", FEATURES)
    assert "comma-separated list of: recency_days, frequency, monetary" in str(raised.value)
    with pytest.raises(UserError, match="nothing is not a customer feature"):
        page.features_to_group_on(" , ", FEATURES)


def test_the_number_of_clusters_is_a_whole_number_or_a_word():
    assert page.clusters_wanted(" 4 ") == 4 and page.clusters_wanted(3) == 3
    assert page.clusters_wanted("auto") == "auto"


def test_group_shares_are_of_all_customers_and_all_revenue_largest_revenue_first():
    summary = page.group_summary(PROFILES, n_customers=10, total_revenue=200.0)
    assert list(summary.index) == ["Loyal regulars", "Bargain hunters"]
    assert summary.loc["Bargain hunters", "customers_share"] == pytest.approx(0.6)
    assert summary.loc["Loyal regulars", "revenue_share"] == pytest.approx(0.6)
    records = page.share_records(summary)
    assert records[0] == {"name": "Loyal regulars", "customers_share": 0.2, "revenue_share": 0.6}
    assert page.group_summary(PROFILES, 10, 0.0).revenue_share.eq(0.0).all()


def test_the_group_table_names_each_groups_main_channel():
    table = page.group_table(PROFILES, n_customers=10, total_revenue=200.0)
    assert list(table.group) == ["Loyal regulars", "Bargain hunters"]
    assert list(table["main channel"]) == ["mobile_app", "web"]
    assert list(table["how to talk to them"]) == ["Thank them", "Lead with offers"]
    assert table["% of revenue"].tolist() == pytest.approx([0.6, 0.3])
    without = page.group_table(PROFILES.drop(columns=["channel_web", "channel_mobile_app"]), 10, 1)
    assert without["main channel"].eq("").all() and without["favourite category"].eq("").all()


def test_the_share_chart_says_which_revenue_it_shares():
    summary = page.group_summary(PROFILES, 10, 200.0)
    ax = page.share_chart(summary, "Per group", 0).axes[0]
    assert ax.get_title() == "Per group" and ax.get_xlabel().endswith("of all lifetime revenue")
    ax = page.share_chart(summary, "Per group", 90).axes[0]
    assert ax.get_xlabel().endswith("revenue in the last 90 days")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Bargain hunters", "Loyal regulars"]


def test_the_mix_chart_shows_what_the_data_has_and_nothing_without_it():
    grouped = pd.DataFrame(
        {"group": ["Bargain hunters"] * 3 + ["Loyal regulars"], "top_category": list("aabb")}
    )
    both = page.mix_chart(PROFILES, grouped)
    assert [ax.get_title() for ax in both.axes[:2]] == [
        "Orders by sales channel",
        "Favourite category",
    ]
    only_categories = page.mix_chart(PROFILES[["name", "customers", "revenue"]], grouped)
    assert [ax.get_title() for ax in only_categories.axes[:1]] == ["Favourite category"]
    assert page.mix_chart(PROFILES[["name", "customers", "revenue"]], grouped[["group"]]) is None


@pytest.fixture(scope="module")
def grouped(tmp_path_factory):
    """Behaviour groups of the sample shop, found as the notebook finds them."""
    folder = tmp_path_factory.mktemp("segmentation_page")
    sample.write_sample(folder, customers=800, seed=5)
    con = data.connect(folder)
    cutoff = seg.cutoff_for(data.analysis_date(con))
    features = seg.customer_features(data.table(con, "orders"), as_of=cutoff)
    clusterable = features[features["monetary"] > 0].reset_index(drop=True)
    return clusterable, page.features_to_group_on("behaviour", features)


@pytest.mark.parametrize("k", ["auto", 3])
def test_the_separation_chart_for_a_chosen_and_a_given_k(grouped, k):
    clusterable, used = grouped
    result = seg.fit_clusters(clusterable, k=k, feature_set=used, random_state=1, sample_size=500)
    names = [f"group {label}" for label in result.labels]
    projection = seg.projection_2d(result.X, names, sample_size=300, random_state=1)
    fig = page.separation_chart(result, projection, sorted(set(names)))
    left, right = fig.axes[:2]
    if k == "auto":
        assert left.get_title() == "How well separated are k groups?"
        assert left.get_legend().get_texts()[0].get_text() == f"chosen: {result.k} groups"
    else:
        assert left.get_title() == "Separation with the 3 groups asked for" and result.k == 3
    assert right.get_title() == f"Behaviour map of {len(projection):,} random customers"
    assert right.get_xlabel().startswith("Main direction 1 (")
