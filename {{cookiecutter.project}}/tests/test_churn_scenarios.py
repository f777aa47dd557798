"""Churn scenarios (tests/scenarios_churn.py): what the decision says when the truth is known.

- A shop where recency is all there is to know (planted): the model cannot beat recency, so the
  list is ranked by the baseline and the page says so, through the notebook itself.
- A shop where refunds drive churn (planted, tests/test_churn.py): the model sees what the
  baselines cannot, so its list is kept.
- The sample shop: its customers follow a BG/NBD-like process (planted), so BG/NBD ranks as
  well as the model and the list follows BG/NBD.
- A holdout readout on the sample shop: a planted campaign effect is recovered, and no effect is
  found where none was planted.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest
import scenarios_churn as scenarios
from conftest import execute_notebook, scratch_project
from test_churn import simulate_shop, stamp
from threadpoolctl import threadpool_limits

from {{ cookiecutter.module_name }} import churn, data

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:Session features are left out"),
]


@pytest.fixture(autouse=True)
def one_thread():
    with threadpool_limits(limits=1):
        yield


def test_model_no_better_than_recency_the_list_follows_recency_and_the_page_says_so(tmp_path):
    orders = scenarios.recency_only_orders(customers=3_000, seed=7)
    shop = scenarios.write_shop(orders, tmp_path / "shop")
    project = scratch_project(tmp_path / "project", shop)
    metrics = execute_notebook(
        "churn", project, tmp_path / "out.ipynb", data_dir=str(project / "data" / "sample")
    )
    decision = metrics["decision"]
    assert decision["verdict"] == "baseline_list"
    assert metrics["model_edge"]["high"] < 0.005  # no clearly positive edge
    assert metrics["model_edge"]["low"] < 0
    assert decision["rule"].split(", ")[0] in {"CH-2", "CH-3"}
    assert decision["label"] == "Rank the at-risk list by recency alone"
    assert "The list is ranked by recency alone" in decision["reason"]
    listed = pd.read_csv(project / "data" / "exports" / "churn_at_risk.csv")
    assert set(listed["scored_by"]) == {"recency"}
    assert listed["holdout"].sum() == round(0.1 * len(listed))
    page = (tmp_path / "out.ipynb").read_text(encoding="utf-8")
    assert "ranked by recency alone" in page and "Rule CH-" in page


def test_model_that_sees_what_baselines_cannot_keeps_its_list():
    orders, _sessions = simulate_shop(2_500, seed=1)
    found, _split = scenarios.evidence(
        orders, as_of=stamp("2023-01-01") + pd.Timedelta(days=720), horizon_days=60
    )
    decision = churn.decide(found)
    assert found.edge.low > 0, found.edge
    assert decision.verdict == "model_list" and decision.rule.startswith("CH-1,")
    assert "The list is ranked by the model" in decision.reason


def test_sample_shop_follows_bgnbd_the_process_it_was_generated_by(sample_dir):
    orders = pd.read_parquet(sample_dir / "orders.parquet")
    con = data.connect(sample_dir)
    as_of = data.analysis_date(con).end
    found, split = scenarios.evidence(orders, as_of=as_of, horizon_days=35, seed=42)
    assert found.baseline == "bgnbd"
    assert found.edge.low < 0  # the model is not clearly better than the true model family
    decision = churn.decide(found)
    assert decision.verdict == "baseline_list"
    assert decision.label == "Rank the at-risk list by BG/NBD"
    # the baseline was fitted on everyone with an order, the list's customers are the recent ones
    assert len(split.features_eval_all) > len(split.features_eval)


@pytest.fixture(scope="module")
def listed_sample(sample_dir):
    """A list of 2,000 sample customers made 60 days before the data ends, 20% held out."""
    orders = pd.read_parquet(sample_dir / "orders.parquet", columns=["customer_id", "ordered_at"])
    orders["revenue"] = 1.0
    if orders["ordered_at"].dt.tz is None:  # the sample's times are UTC without a zone
        orders["ordered_at"] = orders["ordered_at"].dt.tz_localize("UTC")
    end = pd.Timestamp(orders["ordered_at"].max().date(), tz="UTC") + pd.Timedelta(days=1)
    listed_on = (end - pd.Timedelta(days=61)).date()
    start = pd.Timestamp(listed_on, tz="UTC") + pd.Timedelta(days=1)
    known = np.sort(orders.loc[orders["ordered_at"] < start, "customer_id"].unique())
    chosen = np.random.default_rng(3).choice(known, 2_000, replace=False)
    flagged = pd.DataFrame(
        {
            "customer_id": chosen,
            "churn_probability": 0.5,
            "expected_value": 1.0,
            "value_at_risk": 0.5,
        }
    )
    listed = churn.at_risk_export(
        flagged, holdout_share=0.2, seed=11, listed_on=listed_on, scored_by="model"
    )
    return orders, listed, start, end


def test_holdout_readout_recovers_a_planted_campaign_effect(listed_sample):
    orders, listed, start, end = listed_sample
    planted, effect = scenarios.plant_returns(orders, listed, after=start, share=0.3, seed=5)
    r = churn.holdout_readout(listed, ibis.memtable(planted), end=end)
    assert r.status == "measured" and r.held_out == 400 and r.contacted == 1_600
    assert effect > 0.1
    assert r.low < effect < r.high
    assert churn.readout_finding(r).rule == "CH-12"


def test_holdout_readout_finds_no_effect_where_none_was_planted(listed_sample):
    orders, listed, _start, end = listed_sample
    r = churn.holdout_readout(listed, ibis.memtable(orders), end=end)
    assert r.low < 0 < r.high
    assert churn.readout_finding(r).rule == "CH-14"
