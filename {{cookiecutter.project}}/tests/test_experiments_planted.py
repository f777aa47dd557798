"""The A/B statistics on experiments drawn from the project's own sample generator: a broken
split is caught, A/A splits give the nominal false-positive rate, and the interval covers the
planted lift at its nominal rate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.module_name }} import experiments as ex
from {{ cookiecutter.module_name }} import sample


def converted_units(tables: dict, truth: dict) -> pd.DataFrame:
    """Per unit: its variant and whether it ordered after the experiment started."""
    assignments = tables["assignments"].to_pandas()
    orders = tables["orders"].to_pandas()
    start = pd.Timestamp(truth["experiment"]["start"])
    buyers = set(orders.loc[orders["ordered_at"] >= start, "customer_id"])
    assignments["converted"] = assignments["unit_id"].isin(buyers).astype(int)
    return assignments


def test_srm_is_detected_when_the_generator_breaks_the_split():
    for faults, broken in (((), False), (("broken_split",), True)):
        tables, _ = sample.generate(customers=40_000, seed=11, faults=faults)
        counts = tables["assignments"].to_pandas()["variant"].value_counts().to_dict()
        result = ex.srm_test(counts, {"control": 0.5, "treatment": 0.5})
        assert result.flagged is broken, (faults, result.p_value)


@pytest.mark.slow
def test_aa_splits_of_generated_visitors_give_five_percent_false_positives():
    tables, truth = sample.generate(customers=60_000, seed=5)
    units = converted_units(tables, truth)
    control = units.loc[units["variant"] == "control", "converted"].to_numpy()
    rng = np.random.default_rng(0)
    rejections = 0
    runs = 2_000
    for _ in range(runs):
        arm = rng.random(control.size) < 0.5
        a, b = control[arm], control[~arm]
        result = ex.proportion_test(a.sum(), a.size, b.sum(), b.size, relative=False)
        rejections += result.p_value < 0.05
    # binomial sd of the rate at 2000 runs is 0.5 points: [4%, 6%] is a 2-sd band
    assert 0.04 <= rejections / runs <= 0.06


@pytest.mark.slow
def test_interval_covers_the_planted_lift_of_generated_experiments():
    covered, runs = 0, 1_000
    for seed in range(runs):
        tables, truth = sample.generate(customers=1_500, seed=10_000 + seed)
        units = converted_units(tables, truth)
        arms = units.groupby("variant")["converted"].agg(["sum", "size"])
        result = ex.proportion_test(
            arms.loc["control", "sum"],
            arms.loc["control", "size"],
            arms.loc["treatment", "sum"],
            arms.loc["treatment", "size"],
            relative=False,
        )
        planted = truth["experiment"]["conversion"]["abs_lift"]
        covered += result.ci_low <= planted <= result.ci_high
    # binomial sd of the coverage at 1000 runs is 0.7 points: [93%, 97%] is a 2.9-sd band
    assert 0.93 <= covered / runs <= 0.97
