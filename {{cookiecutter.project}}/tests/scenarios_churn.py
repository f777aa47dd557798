"""Churn scenarios built from the sample generator, each with the truth it plants.

- ``recency_only_orders``: a shop whose customers all buy at one rate while alive and leave with
  one chance after each purchase (the generator's own purchase process, season and all). The
  chance that a customer is still alive then depends on the days since their last order and
  nothing else, so no model can rank churners better than recency alone: "model no better than
  recency".
- ``evidence``: the churn report's evidence computed by the package, as the notebook does.
- ``plant_returns``: a campaign that brings back a known share of the contacted customers.
"""

from __future__ import annotations

from pathlib import Path

import ibis
import numpy as np
import pandas as pd

from {{ cookiecutter.module_name }} import churn, sample

RECENCY_ONLY_RATE = 1 / 20  # purchases per day while alive, the same for everyone
RECENCY_ONLY_DROPOUT = 0.08  # chance of leaving after each purchase, the same for everyone


def recency_only_orders(customers: int = 6_000, seed: int = 7) -> pd.DataFrame:
    """Orders (contract columns) of a shop where recency is all there is to know.

    Purchase times come from ``sample._purchase_times`` with one rate and one dropout chance
    for everybody; order values, discounts, refunds, channel and device are drawn independently
    of the customer, so they carry no churn signal.
    """
    rng = np.random.default_rng(seed)
    people = {
        "rate": np.full(customers, RECENCY_ONLY_RATE),
        "dropout": np.full(customers, RECENCY_ONLY_DROPOUT),
        "signup": rng.uniform(0, sample.HISTORY_DAYS - 90, customers),
    }
    days, who = sample._purchase_times(rng, people)
    start = sample.AS_OF.normalize() - pd.Timedelta(days=sample.HISTORY_DAYS)
    revenue = rng.lognormal(np.log(50), 0.5, who.size).round(2)
    return pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(who.size)],
            "customer_id": [f"c{w:05d}" for w in who],
            "ordered_at": (start + pd.to_timedelta(days * 86_400, unit="s").round("s")).tz_localize(
                "UTC"
            ),
            "revenue": revenue,
            "discount": np.where(rng.random(who.size) < 0.1, (0.2 * revenue).round(2), 0.0),
            "is_refunded": rng.random(who.size) < 0.04,
            "channel": rng.choice(list(sample.CHANNELS), who.size),
            "device": rng.choice(list(sample.DEVICES), who.size),
        }
    )


def write_shop(orders: pd.DataFrame, folder: Path) -> Path:
    """The orders as a data folder a report can read (``data_dir``)."""
    folder.mkdir(parents=True, exist_ok=True)
    orders.to_parquet(folder / "orders.parquet", index=False)
    return folder


def evidence(
    orders: pd.DataFrame,
    *,
    as_of: pd.Timestamp,
    horizon_days: int,
    max_recency_days: int | None = 365,
    seed: int = 0,
    readout: churn.HoldoutReadout | None = None,
) -> tuple[churn.ChurnEvidence, churn.TimeSplit]:
    """The decision's evidence as the notebook computes it (model, baselines, edge, checks)."""
    table = ibis.memtable(orders)
    split = churn.time_split(
        table, as_of=as_of, horizon_days=horizon_days, max_recency_days=max_recency_days
    )
    model = churn.train_model(split.X_train, split.y_train, random_state=seed)
    p = churn.predict_churn(model, split.features_eval)
    rules = churn.baselines(
        split.features_eval,
        split.y_eval,
        horizon_days=horizon_days,
        fit_on=split.features_eval_all,
    )
    baseline = churn.best_baseline(rules)
    edge = churn.auc_difference(
        split.y_eval, p, churn.baseline_score(rules, baseline, split.features_eval)
    )
    checks = {"model": churn.calibration_check(split.y_eval, p)}
    checks[baseline] = churn.calibration_check(
        split.y_eval,
        churn.baseline_probability(
            baseline,
            horizon_days=horizon_days,
            features=split.features_eval,
            fit_on=split.features_eval_all,
            train_features=split.features_train,
            y_train=split.y_train,
        ),
    )
    found = churn.ChurnEvidence(
        edge=edge,
        baseline=baseline,
        calibration=checks,
        readout=readout or churn.HoldoutReadout("none"),
        list_size=1000,
        held_out=100,
    )
    return found, split


def plant_returns(
    orders: pd.DataFrame,
    listed: pd.DataFrame,
    *,
    after: pd.Timestamp,
    share: float,
    seed: int,
) -> tuple[pd.DataFrame, float]:
    """Orders with a planted campaign: a random ``share`` of the contacted customers who did
    not come back after ``after`` place one order 10 days later. Returns the orders and the
    planted effect: the customers brought back as a share of all contacted customers."""
    rng = np.random.default_rng(seed)
    later = orders.loc[orders["ordered_at"] >= after, "customer_id"].unique()
    contacted = listed.loc[~listed["holdout"], "customer_id"]
    candidates = contacted[~contacted.isin(later)].to_numpy()
    brought_back = candidates[rng.random(candidates.size) < share]
    extra = pd.DataFrame(
        {
            "order_id": [f"planted{i}" for i in range(brought_back.size)],
            "customer_id": brought_back,
            "ordered_at": after + pd.Timedelta(days=10),
            "revenue": 40.0,
        }
    )
    planted = pd.concat([orders, extra], ignore_index=True)
    return planted, brought_back.size / contacted.size
