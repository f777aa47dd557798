"""Post-launch review scenarios: the sample shop, transformed the way real experiments go wrong.

Each scenario starts from the generated sample (``data/sample``), changes only the tables it
needs (written as Parquet into a scratch folder; the others are linked), and pairs the data
with a plan and an analysis date. ``build(name, sample_dir, folder)`` returns
``(data_dir, plan, as_of)`` for ``post_launch.review_experiment``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from {{ cookiecutter.module_name }} import post_launch

Tables = dict[str, pd.DataFrame]
TABLES = ("orders", "assignments", "sessions", "customers")


@dataclass(frozen=True)
class Scenario:
    what: str  # in words, what happened
    transform: Callable[[Tables], Tables] | None = None
    plan: dict[str, Any] = field(default_factory=dict)  # changes to the default plan
    as_of: str = ""


def _window(tables: Tables) -> pd.DataFrame:
    """In-experiment orders: each unit's orders from its first exposure, with its variant."""
    units = (
        tables["assignments"].groupby(["unit_id", "variant"], as_index=False)["assigned_at"].min()
    )
    orders = tables["orders"].merge(units, left_on="customer_id", right_on="unit_id", how="left")
    return orders.assign(in_window=orders["ordered_at"] >= orders["assigned_at"])


def raise_treatment_refunds(share: float, seed: int = 3) -> Callable[[Tables], Tables]:
    """Refund an extra ``share`` of the treatment arm's in-experiment orders."""

    def transform(tables: Tables) -> Tables:
        orders = _window(tables)
        eligible = orders["in_window"] & (orders["variant"] == "treatment") & ~orders["is_refunded"]
        rng = np.random.default_rng(seed)
        extra = eligible & (rng.random(len(orders)) < share)
        changed = tables["orders"].copy()
        changed.loc[extra.to_numpy(), "is_refunded"] = True
        return {"orders": changed}

    return transform


def drop_control_units(share: float, seed: int = 4) -> Callable[[Tables], Tables]:
    """Lose ``share`` of the control arm's assignments (a logging bug): a broken split."""

    def transform(tables: Tables) -> Tables:
        a = tables["assignments"]
        rng = np.random.default_rng(seed)
        lost = (a["variant"] == "control") & (rng.random(len(a)) < share)
        return {"assignments": a[~lost].reset_index(drop=True)}

    return transform


def cancel_treatment_buyers(share: float, seed: int = 5) -> Callable[[Tables], Tables]:
    """Remove every in-experiment order of ``share`` of the treatment arm's buyers: a change
    that stops them from buying."""

    def transform(tables: Tables) -> Tables:
        orders = _window(tables)
        buyers = orders.loc[
            orders["in_window"] & (orders["variant"] == "treatment"), "customer_id"
        ].unique()
        rng = np.random.default_rng(seed)
        lost = set(buyers[rng.random(buyers.size) < share])
        drop = orders["in_window"] & orders["customer_id"].isin(lost)
        return {"orders": tables["orders"][~drop.to_numpy()].reset_index(drop=True)}

    return transform


SCENARIOS = {
    "underpowered": Scenario(
        "read on day 4 of enrolment, with 10,000 visitors per arm planned",
        plan={"planned_units_per_arm": 10_000},
        as_of="2026-06-05",
    ),
    "enrolment_stopped": Scenario(
        "enrolment closed after a week, far below the 10,000 visitors per arm planned",
        plan={"planned_units_per_arm": 10_000},
    ),
    "guardrail_above_limit": Scenario(
        "refunds up by about a quarter in treatment, above the +10% limit but within noise; "
        "the planned 2,000 visitors per arm reached",
        transform=raise_treatment_refunds(0.009),
        plan={"planned_units_per_arm": 2_000},
    ),
    "broken_split": Scenario(
        "15% of control's assignments lost (a logging bug)",
        transform=drop_control_units(0.15),
        plan={"planned_units_per_arm": 1_500},
    ),
    "not_started": Scenario(
        "the review is run for a date before the experiment's first visitor", as_of="2026-05-20"
    ),
    "strong_win": Scenario(
        "the planted +12% conversion lift, the planned 2,000 visitors per arm reached, and a "
        "refund-rate limit (+50%) this sample can clear",
        plan={"planned_units_per_arm": 2_000, "guardrails": {"refund_rate": 0.50}},
    ),
    "clear_loss": Scenario(
        "treatment stops a third of its buyers from buying",
        transform=cancel_treatment_buyers(0.33),
        plan={"planned_units_per_arm": 2_000},
    ),
}


def build(
    name: str, sample_dir: Path, folder: Path
) -> tuple[Path, post_launch.ExperimentPlan, str]:
    """The scenario's data folder, plan and analysis date."""
    scenario = SCENARIOS[name]
    folder.mkdir(parents=True, exist_ok=True)
    changed: Tables = {}
    if scenario.transform is not None:
        tables = {t: pd.read_parquet(sample_dir / f"{t}.parquet") for t in TABLES}
        changed = scenario.transform(tables)
    for path in sample_dir.glob("*.parquet"):
        if path.stem in changed:
            changed[path.stem].to_parquet(folder / path.name, index=False)
        else:
            (folder / path.name).symlink_to(path)
    plan = dataclasses.replace(
        post_launch.ExperimentPlan("checkout_redesign", hypothesis="Checkout sells more."),
        **scenario.plan,
    )
    return folder, plan, scenario.as_of
