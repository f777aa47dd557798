"""Segment cuts under A/A: the chance of any false alarm across a family of small cuts.

Control visitors of the sample shop are split at random into two arms (so no cut has a real
effect), and the primary metric is cut by device and country as the readout does it: each level
gated on ``MIN_CONVERSIONS_PER_CUT`` buyers and non-buyers per arm, Holm over the family. The
family-wise false-positive rate must stay at or below 5%.
"""

from __future__ import annotations

import numpy as np
import pytest

from {{ cookiecutter.module_name }} import data
from {{ cookiecutter.module_name }} import experiments as ex

RUNS = 800
VISITORS = 1_200  # per A/A experiment: ~600 per arm, cuts of ~55 to ~300 visitors per arm


@pytest.fixture(scope="module")
def control_units(sample_dir):
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("SHOP_DATA_URL", raising=False)
        con = data.connect(sample_dir)
        units = ex.unit_outcomes(
            data.table(con, "assignments"),
            data.table(con, "orders"),
            "checkout_redesign",
            sessions=data.table(con, "sessions"),
            customers=data.table(con, "customers"),
        )
    control = units[units["variant"] == "control"].reset_index(drop=True)
    return control[["converted", "device", "country"]]  # what the cuts read


def family_false_positive_rate(units, runs: int, seed: int = 0) -> tuple[float, float]:
    """(share of A/A experiments with any significant cut, mean buyers per arm in the
    smallest tested cut)."""
    rng = np.random.default_rng(seed)
    alarms, smallest = 0, []
    for _ in range(runs):
        sample = units.iloc[rng.integers(0, len(units), VISITORS)]
        arm = rng.random(VISITORS) < 0.5
        cuts, _ = ex.segment_cuts(
            sample[arm], sample[~arm], ["device", "country"], "conversion", cuped=False
        )
        tested = cuts.dropna(subset=["p_value"])
        alarms += bool(tested["significant"].astype(bool).any())
        if len(tested):
            smallest.append(
                (tested[["n_control", "n_treatment"]].min(axis=1) * tested["control"]).min()
            )
    return alarms / runs, float(np.mean(smallest))


@pytest.mark.slow
def test_segment_family_keeps_false_alarms_at_five_percent(control_units):
    rate, buyers = family_false_positive_rate(control_units, RUNS)
    # Holm with tests that hold gives at most 5%; 800 runs have a binomial sd of 0.8 points
    assert rate <= 0.057, f"family-wise false-positive rate {rate:.1%} (smallest cut {buyers:.0f})"
    assert buyers >= ex.MIN_CONVERSIONS_PER_CUT
