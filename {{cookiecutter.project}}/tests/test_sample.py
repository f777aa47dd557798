"""The sample shop: deterministic, complete, and honest about what it planted."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.module_name }} import contract, sample


@pytest.fixture(scope="module")
def small():
    tables, truth = sample.generate(customers=3_000, seed=7)
    return {name: table.to_pandas() for name, table in tables.items()}, truth


def test_the_same_seed_gives_the_same_shop():
    first, _ = sample.generate(customers=500, seed=3)
    second, _ = sample.generate(customers=500, seed=3)
    other, _ = sample.generate(customers=500, seed=4)
    assert all(first[name].equals(second[name]) for name in first)
    assert not first["orders"].equals(other["orders"])


def test_every_contract_table_is_written_with_its_required_columns(tmp_path):
    truth = sample.write_sample(tmp_path, customers=300, seed=1)
    for name, spec in contract.TABLES.items():
        if name == "order_lines":  # optional, not generated
            continue
        frame = pd.read_parquet(tmp_path / f"{name}.parquet")
        assert set(spec.required_columns) <= set(frame.columns), name
        assert truth["counts"][name] == len(frame)
    assert json.loads((tmp_path / "truth.json").read_text())["seed"] == 1


def test_csv_output_reads_back(tmp_path):
    sample.write_sample(tmp_path, customers=200, seed=1, file_format="csv")
    orders = pd.read_csv(tmp_path / "orders.csv")
    assert {"order_id", "customer_id", "ordered_at", "revenue"} <= set(orders.columns)


def test_planted_customer_types_have_the_planted_shares(small):
    tables, truth = small
    shares = tables["truth_customer_types"]["customer_type"].value_counts(normalize=True)
    for name, planted in truth["customer_types"]["planted_shares"].items():
        # binomial standard error at n=3000 is below 0.01
        assert shares[name] == pytest.approx(planted, abs=0.03)


def test_orders_respect_the_rules(small):
    tables, truth = small
    orders, customers = tables["orders"], tables["customers"]
    assert orders["order_id"].is_unique
    assert (orders["revenue"] >= 0).all() and (orders["discount"] >= 0).all()
    assert orders["customer_id"].isin(customers["customer_id"]).all()
    assert orders["ordered_at"].max() <= pd.Timestamp(truth["as_of"])
    first_order = orders.groupby("customer_id")["ordered_at"].min()
    signed_up = customers.set_index("customer_id")["signed_up_at"]
    assert (first_order >= signed_up.loc[first_order.index] - pd.Timedelta(seconds=1)).all()


def test_the_season_peaks_in_late_november_and_december(small):
    tables, _ = small
    orders = tables["orders"]
    per_month = orders.groupby(orders["ordered_at"].dt.month).size()
    assert per_month.idxmax() in (11, 12)


def test_experiment_split_is_the_planned_one_unless_broken():
    healthy, _ = sample.generate(customers=20_000, seed=5)
    broken, truth = sample.generate(customers=20_000, seed=5, faults=("broken_split",))
    share = healthy["assignments"].to_pandas()["variant"].eq("treatment").mean()
    broken_share = broken["assignments"].to_pandas()["variant"].eq("treatment").mean()
    assert share == pytest.approx(0.5, abs=0.015)
    assert broken_share == pytest.approx(0.53, abs=0.015)
    assert truth["faults"] == ["broken_split"]


def test_the_experiment_can_be_sized_exactly_and_its_truth_follows():
    tables, truth = sample.generate(customers=5_000, seed=5, experiment_visitors=4_000)
    assignments = tables["assignments"].to_pandas()
    assert len(assignments) == assignments["unit_id"].nunique() == 4_000
    assert truth["experiment"]["n_units"] == 4_000
    signed_up = tables["customers"].to_pandas().set_index("customer_id")["signed_up_at"]
    start = pd.Timestamp(truth["experiment"]["start"])
    assert (signed_up[assignments["unit_id"]] < start).all()  # only customers known by then
    assert assignments["variant"].eq("treatment").mean() == pytest.approx(0.5, abs=0.03)
    assert truth["experiment"]["conversion"]["rel_lift"] == pytest.approx(sample.CONVERSION_LIFT)
    default, _ = sample.generate(customers=5_000, seed=5)
    assert default["assignments"].num_rows < 4_000  # by default about 40% visit
    with pytest.raises(ValueError, match="experiment_visitors=6,000: between 1 and the"):
        sample.generate(customers=5_000, seed=5, experiment_visitors=6_000)


def test_every_unit_has_one_variant_and_purchase_sessions_match_orders(small):
    tables, truth = small
    assignments, sessions, orders = tables["assignments"], tables["sessions"], tables["orders"]
    assert assignments["unit_id"].is_unique
    start = pd.Timestamp(truth["experiment"]["start"])
    in_window = orders[
        orders["customer_id"].isin(assignments["unit_id"]) & (orders["ordered_at"] >= start)
    ]
    assert sessions["purchased"].sum() == len(in_window)
    # the funnel only narrows
    for wider, narrower in [
        ("viewed_product", "added_to_cart"),
        ("added_to_cart", "started_checkout"),
        ("started_checkout", "purchased"),
    ]:
        assert (sessions[wider] >= sessions[narrower]).all()


def test_planted_experiment_truth_is_internally_consistent(small):
    _, truth = small
    conversion = truth["experiment"]["conversion"]
    assert conversion["rel_lift"] == pytest.approx(sample.CONVERSION_LIFT)
    assert conversion["abs_lift"] == pytest.approx(conversion["treatment"] - conversion["control"])


def test_van_westendorp_truth_is_the_closed_form(small):
    tables, truth = small
    vw = truth["survey"]["van_westendorp"]
    assert vw["original"]["opp"] == pytest.approx(np.sqrt(15 * 60))
    assert vw["original"]["idp"] == pytest.approx(np.sqrt(25 * 40))
    answers = tables["survey_responses"][
        ["vw_too_cheap", "vw_cheap", "vw_expensive", "vw_too_expensive"]
    ].to_numpy()
    disordered = ~np.all(np.diff(answers, axis=1) > 0, axis=1)
    assert vw["dropped"] == int(disordered.sum()) > 0


def test_nps_truth_matches_the_planted_mix(small):
    tables, truth = small
    survey = tables["survey_responses"]
    expected = survey["segment"].map(truth["survey"]["nps"]["by_segment"]).mean()
    assert truth["survey"]["nps"]["value"] == pytest.approx(expected)
    assert survey["nps"].between(0, 10).all()


def test_unknown_fault_and_tiny_samples_are_refused_clearly(tmp_path):
    with pytest.raises(ValueError, match="Unknown fault 'nope'"):
        sample.write_sample(tmp_path, customers=100, faults=("nope",))
    with pytest.raises(ValueError, match="at least 50 customers"):
        sample.write_sample(tmp_path, customers=10)
