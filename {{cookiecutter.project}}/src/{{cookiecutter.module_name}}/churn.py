"""Churn prediction for a shop without subscriptions: who is likely to stop buying.

A customer "churns" at a cutoff when they place no order in (cutoff, cutoff + horizon]. Features
use only data up to the cutoff and are aggregated in the database engine (Ibis: DuckDB by
default, PostgreSQL and others too); pandas and scikit-learn only see one row per customer.

Time conventions: every cutoff is an instant in UTC; a plain date means its first instant
(midnight), so orders placed on that day count as *after* it. Orders at exactly the cutoff
count as before it. Durations are in days.

The pieces, in the order a report uses them: ``suggest_horizon`` -> ``time_split`` (features and
labels at two cutoffs) -> ``train_model`` -> ``evaluate`` beside ``baselines`` -> ``drivers`` ->
``value_over_horizon`` -> ``revenue_at_risk`` / ``at_risk_list`` -> ``export_at_risk``, and the
decision ``decide`` (docs/decisions.md, "Churn prediction"). The page's tables, charts and
sentences are in ``churn_page``; the at-risk list reaches the CRM team through the one CRM plan,
``actions.write_customer_actions`` (``data/exports/customer_actions.csv``, after a full run).
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
from ibis import _
from sklearn.calibration import CalibratedClassifierCV, calibration_curve
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import PredefinedSplit, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from . import bgnbd
from .config import write_atomically
from .data import fetch
from .decisions import Decision
from .errors import UserError, require_table_columns
from .formats import md_escape

SECONDS_PER_DAY = 86_400
DAYS_PER_WEEK = 7
RECENT_DAYS = 90  # "last 90 days vs earlier" order trend
ENGAGEMENT_DAYS = 30  # session engagement window
VALUE_LOOKBACK_DAYS = 365  # spend window behind the "recent spend" value
MAX_LEVELS = 6  # channel / device values turned into share columns (the most common ones)
MIN_CLASS_SIZE = 10  # churners and non-churners needed in each split to train and score
# Calibrate with 3 folds up to this many training rows; beyond, one held-out quarter suffices.
CROSS_FIT_ROWS = 20_000
DATA_END_TOLERANCE_DAYS = 7  # orders may stop this many days before as_of (quiet days happen)

MODELS = ("hist_gradient_boosting", "logistic")
CALIBRATIONS = ("isotonic", "sigmoid", "none")
VALUE_METHODS = ("recent_spend", "bgnbd_gamma_gamma")

# Columns of ``build_features`` that feed the baselines and the value estimate, not the model:
# the model already sees the same information as recency / tenure / frequency / monetary.
NON_MODEL_COLUMNS = (
    "revenue_last_365d",
    "bgnbd_x",
    "bgnbd_t_x_days",
    "bgnbd_T_days",
    "bgnbd_mean_repeat_spend",
)
SHARE_PREFIXES = ("channel_share_", "device_share_")

# How each feature reads in a sentence, describing its *higher* values.
FEATURE_PHRASES = {
    "recency_days": "have not ordered for longer",
    "frequency": "have placed more orders",
    "monetary": "have spent more in total",
    "avg_order_value": "spend more per order",
    "tenure_days": "have been customers for longer",
    "ipt_mean_days": "usually wait longer between orders",
    "ipt_std_days": "order at less regular intervals",
    "orders_last_90d": "ordered more in the last 90 days",
    "order_trend_per_30d": "order more often lately than they used to",
    "discount_share": "buy more on discount",
    "refund_rate": "had more of their orders refunded",
    "sessions_30d": "visited the shop more in the last 30 days",
    "add_to_cart_rate_30d": "add to cart more often when they visit",
    "days_since_last_session": "have not visited the shop for longer",
}


@dataclass(frozen=True)
class TimeSplit:
    """Features and labels at two cutoffs: train on the earlier, evaluate on the later."""

    train_cutoff: pd.Timestamp
    eval_cutoff: pd.Timestamp
    horizon_days: int
    features_train: pd.DataFrame
    y_train: pd.Series
    features_eval: pd.DataFrame
    y_eval: pd.Series
    # Every customer with an order by the evaluation cutoff (min_history_days applies, the
    # max_recency_days cap does not): the population the BG/NBD baseline is fitted on.
    features_eval_all: pd.DataFrame | None = None

    @property
    def X_train(self) -> pd.DataFrame:
        return model_matrix(self.features_train)

    @property
    def X_eval(self) -> pd.DataFrame:
        return align_features(model_matrix(self.features_eval), self.X_train.columns)


# ---------------------------------------------------------------------------- input checks


def _timestamp(value: Any, name: str) -> pd.Timestamp:
    """A UTC instant from a date, datetime, Timestamp or ISO string (naive means UTC)."""
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as error:
        raise UserError(f"{name} must be a date such as '2024-06-30'; got {value!r}.") from error
    if pd.isna(stamp):
        raise UserError(f"{name} must be a date such as '2024-06-30'; got {value!r}.")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _whole_days(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise UserError(f"{name} must be a whole number of days, e.g. 60; got {value!r}.")
    if not math.isfinite(value) or value != int(value) or value < 1:
        raise UserError(f"{name} must be a whole number of days >= 1, e.g. 60; got {value!r}.")
    return int(value)


def _with_timestamp(table: ibis.Table, table_name: str, column: str) -> ibis.Table:
    """The table with ``column`` as a timestamp (dates are widened to midnight)."""
    dtype = table[column].type()
    if dtype.is_timestamp():
        return table
    if dtype.is_date():
        return table.mutate(**{column: table[column].cast("timestamp")})
    raise UserError(
        f"{table_name}.{column} must hold timestamps, but its type is {dtype}. Load the data "
        "with the package's loader (which parses dates) or cast the column."
    )


def _literal(stamp: pd.Timestamp, column: ibis.Column) -> ibis.Scalar:
    """``stamp`` as a literal comparable with ``column`` (same time zone awareness)."""
    tz = column.type().timezone
    value = stamp.tz_convert(tz) if tz else stamp.tz_convert("UTC").tz_localize(None)
    return ibis.literal(value.to_pydatetime(), type=column.type())


def _orders(orders: ibis.Table) -> ibis.Table:
    if not isinstance(orders, ibis.Table):
        raise UserError(
            "orders must be an Ibis table (e.g. ibis.memtable(df) or a backend table), "
            f"got {type(orders).__name__}."
        )
    require_table_columns("orders", orders.columns, ("customer_id", "ordered_at", "revenue"))
    orders = orders.filter(orders.customer_id.notnull())  # an order of nobody cannot churn
    return _with_timestamp(orders, "orders", "ordered_at")


def _sessions(sessions: ibis.Table) -> ibis.Table:
    if not isinstance(sessions, ibis.Table):
        raise UserError(f"sessions must be an Ibis table or None, got {type(sessions).__name__}.")
    require_table_columns(
        "sessions", sessions.columns, ("visitor_id", "started_at", "added_to_cart")
    )
    return _with_timestamp(sessions, "sessions", "started_at")


def _days(column: ibis.Column) -> ibis.Column:
    """Days since 1970-01-01 UTC as a float (portable: epoch seconds exist on every backend)."""
    return column.epoch_seconds().cast("float64") / SECONDS_PER_DAY


def _epoch_days(stamp: pd.Timestamp) -> float:
    return stamp.timestamp() / SECONDS_PER_DAY


def _order_span(orders: ibis.Table) -> tuple[pd.Timestamp, pd.Timestamp, int]:
    """First and last order time and the number of orders (one small query)."""
    span = orders.aggregate(
        first=orders.ordered_at.min(), last=orders.ordered_at.max(), n=orders.count()
    ).execute()
    if int(span["n"].iloc[0]) == 0:
        raise UserError("The orders table is empty; load orders before predicting churn.")
    first, last = (_timestamp(span[c].iloc[0], c) for c in ("first", "last"))
    return first, last, int(span["n"].iloc[0])


# ------------------------------------------------------------------------------- horizon


def inter_purchase_days(orders: ibis.Table, *, as_of: Any) -> pd.DataFrame:
    """How many repeat purchases came N days after the customer's previous purchase day.

    Computed in the engine over purchase days (several orders on one day count once), using
    orders up to ``as_of``. Returns columns ``gap_days`` and ``repeat_purchases``.
    """
    orders = _orders(orders)
    as_of = _timestamp(as_of, "as_of")
    gaps = _purchase_days(_orders_until(orders, as_of)).filter(_.gap_days.notnull())
    histogram = gaps.group_by("gap_days").aggregate(repeat_purchases=_.count()).execute()
    histogram = histogram.astype({"gap_days": int, "repeat_purchases": int})
    return histogram.sort_values("gap_days", ignore_index=True)


def suggest_horizon(orders: ibis.Table, *, as_of: Any, quantile: float = 0.8) -> tuple[int, str]:
    """Suggest a churn horizon from the distribution of inter-purchase times.

    Rule: the ``quantile`` (default 80th percentile) of the days between a customer's
    consecutive purchase days, rounded up to whole weeks (at least one week). Most returning
    customers come back within that time, so silence beyond it is a meaningful churn signal.
    Gaps longer than the data window cannot be seen, so the percentile leans short; rounding up
    offsets a little of that.

    Returns
    -------
    (days, explanation) where the explanation is one plain sentence for a PM.
    """
    if not 0.5 <= quantile < 1:
        raise UserError(f"quantile must be between 0.5 and 1 (e.g. 0.8); got {quantile}.")
    histogram = inter_purchase_days(orders, as_of=as_of)
    total = int(histogram["repeat_purchases"].sum())
    if total < 20:
        raise UserError(
            f"Only {total} repeat purchases up to {_timestamp(as_of, 'as_of'):%Y-%m-%d}: too "
            "few to suggest a horizon. "
            "Set horizon_days yourself (e.g. 60) or load a longer order history."
        )
    cumulative = histogram["repeat_purchases"].cumsum() / total
    gap = int(histogram["gap_days"][int(np.searchsorted(cumulative.to_numpy(), quantile))])
    median = int(histogram["gap_days"][int(np.searchsorted(cumulative.to_numpy(), 0.5))])
    days = max(DAYS_PER_WEEK, math.ceil(gap / DAYS_PER_WEEK) * DAYS_PER_WEEK)
    percent = round(quantile * 100)
    explanation = (
        f"{percent}% of repeat purchases came within {gap} days of the customer's previous "
        f"purchase (median {median} days, {total:,} repeat purchases), so the suggested horizon "
        f"is {days} days: the {percent}th percentile rounded up to whole weeks. A customer "
        f"silent for {days} days counts as churned."
    )
    return days, explanation


# ------------------------------------------------------------------------------ features


def _orders_until(orders: ibis.Table, cutoff: pd.Timestamp) -> ibis.Table:
    """Orders at or before the cutoff, with ``t_days`` (days since 1970, computed once)."""
    past = orders.filter(orders.ordered_at <= _literal(cutoff, orders.ordered_at))
    return past.mutate(t_days=_days(past.ordered_at))


def _purchase_days(past: ibis.Table) -> ibis.Table:
    """One row per customer and purchase day (UTC), with the gap to the previous one."""
    daily = past.group_by(customer_id=past.customer_id, day=past.t_days.floor()).aggregate(
        day_revenue=_.revenue.sum()
    )
    previous = daily.day.lag().over(ibis.window(group_by="customer_id", order_by="day"))
    return daily.mutate(gap_days=daily.day - previous)


def _levels(past: ibis.Table, column: str) -> list[str]:
    """The most common values of ``column`` (up to MAX_LEVELS), from data before the cutoff."""
    counts = (
        past.filter(past[column].notnull())
        .group_by(column)
        .aggregate(n=_.count())
        .order_by([ibis.desc("n"), column])
        .limit(MAX_LEVELS)
        .execute()
    )
    return [str(v) for v in counts[column]]


def _share_name(prefix: str, value: str, taken: set[str]) -> str:
    name = prefix + (re.sub(r"[^0-9a-z]+", "_", value.lower()).strip("_") or "blank")
    while name in taken:
        name += "_"
    taken.add(name)
    return name


def _order_aggregates(past: ibis.Table, cutoff_days: float) -> tuple[dict, list[str]]:
    """Aggregations over orders per customer (as Ibis expressions) and the share columns."""
    t = past.t_days
    zero_one = ibis.literal(1.0), ibis.literal(0.0)
    aggs: dict[str, Any] = {
        "first_t": t.min(),
        "last_t": t.max(),
        "frequency": past.count(),
        "monetary": past.revenue.sum(),
        "orders_last_90d": past.count(where=t > cutoff_days - RECENT_DAYS),
        "revenue_last_365d": past.revenue.sum(where=t > cutoff_days - VALUE_LOOKBACK_DAYS),
    }
    # Optional columns may exist but be empty (the loader adds missing contract columns as
    # NULL): count known values so an empty column adds no constant, meaningless feature.
    if "discount" in past.columns:
        aggs["discount_total"] = past.discount.fill_null(0).sum()
        aggs["discount_known"] = past.discount.count()
    if "is_refunded" in past.columns:
        aggs["refunded_orders"] = past.is_refunded.ifelse(*zero_one).sum()
        aggs["refund_known"] = past.is_refunded.count()
    share_columns: list[str] = []
    taken: set[str] = set()
    for column, prefix in zip(("channel", "device"), SHARE_PREFIXES, strict=True):
        if column not in past.columns:
            continue
        for value in _levels(past, column):
            name = _share_name(prefix, value, taken)
            aggs[f"n_{name}"] = (past[column] == value).ifelse(*zero_one).sum()
            share_columns.append(name)
    return aggs, share_columns


def _session_aggregates(sessions: ibis.Table, cutoff: pd.Timestamp) -> ibis.Table:
    """Per-customer session engagement up to the cutoff."""
    seen = sessions.filter(sessions.started_at <= _literal(cutoff, sessions.started_at))
    key = seen.visitor_id
    if "customer_id" in seen.columns:
        key = seen.customer_id.fill_null(seen.visitor_id)  # anonymous visits keep the visitor id
    t = _days(seen.started_at)
    recent = t > _epoch_days(cutoff) - ENGAGEMENT_DAYS
    return seen.group_by(session_customer_id=key).aggregate(
        sessions_30d=seen.count(where=recent),
        # a COUNT, not SUM(CASE ... 1 ELSE 0): DuckDB sums integers into 128-bit decimals
        carts_30d=seen.count(where=recent & seen.added_to_cart),
        last_session_t=t.max(),
    )


def _customer_table(
    orders: ibis.Table, cutoff: pd.Timestamp, sessions: ibis.Table | None
) -> tuple[ibis.Table, list[str]]:
    """One Ibis expression with every per-customer aggregate (executed once)."""
    past = _orders_until(orders, cutoff)
    aggs, share_columns = _order_aggregates(past, _epoch_days(cutoff))
    per_order = past.group_by("customer_id").aggregate(**aggs)
    per_day = (
        _purchase_days(past)
        .group_by("customer_id")
        .aggregate(
            purchase_days=_.count(),
            first_day=_.day.min(),
            last_day=_.day.max(),
            ipt_std_days=_.gap_days.std(),
            repeat_revenue=_.day_revenue.sum(where=_.gap_days.notnull()),
        )
        .rename(day_customer_id="customer_id")
    )
    table = per_order.join(per_day, per_order.customer_id == per_day.day_customer_id)
    table = table.drop("day_customer_id")
    if sessions is not None:
        engaged = _session_aggregates(sessions, cutoff)
        table = table.left_join(engaged, table.customer_id == engaged.session_customer_id)
        table = table.drop("session_customer_id")
    return table, share_columns


def build_features(
    orders: ibis.Table,
    *,
    cutoff: Any,
    sessions: ibis.Table | None = None,
    min_history_days: int = 0,
    max_recency_days: int | None = None,
) -> pd.DataFrame:
    """One row per customer with an order on or before ``cutoff``, from data up to it only.

    Parameters
    ----------
    orders : Ibis table following the orders contract (customer_id, ordered_at, revenue; the
        optional discount, is_refunded, channel and device columns add features when present).
    cutoff : the prediction date; nothing after it is read.
    sessions : optional Ibis sessions table; adds engagement in the last 30 days.
    min_history_days : leave out customers whose first order is fewer than this many days
        before the cutoff (0 keeps everyone, including brand-new customers).
    max_recency_days : leave out customers whose last order is more than this many days before
        the cutoff (None keeps everyone). Long-lapsed customers have churned already; keeping
        them inflates AUC without helping anyone decide whom to win back.

    Returns
    -------
    DataFrame indexed by customer_id (sorted). Model features: recency_days, frequency (orders),
    monetary (net revenue), avg_order_value, tenure_days, ipt_mean_days / ipt_std_days (days
    between purchase days), orders_last_90d, order_trend_per_30d (orders per 30 days in the last
    90 days minus before; empty when the earlier window is under 30 days), discount_share,
    refund_rate, channel_share_* / device_share_*, sessions_30d, add_to_cart_rate_30d,
    days_since_last_session. Not for the model (``NON_MODEL_COLUMNS``): revenue_last_365d and the
    BG/NBD inputs bgnbd_x (repeat purchase days), bgnbd_t_x_days, bgnbd_T_days,
    bgnbd_mean_repeat_spend.
    """
    orders = _orders(orders)
    cutoff = _timestamp(cutoff, "cutoff")
    _check_day_limit(min_history_days, "min_history_days", allow_none=False)
    _check_day_limit(max_recency_days, "max_recency_days", allow_none=True)
    if sessions is not None:
        sessions = _sessions(sessions)
        sessions = sessions if _sessions_cover(sessions, cutoff) else None
    table, share_columns = _customer_table(orders, cutoff, sessions)
    raw = fetch(table)  # one row per customer: Arrow's conversion, seconds faster at 1M
    if raw.empty:
        first, _last, _n = _order_span(orders)
        raise UserError(
            f"No orders on or before the cutoff {cutoff:%Y-%m-%d}; the orders start on "
            f"{first:%Y-%m-%d}. Choose a later cutoff (or as_of)."
        )
    features = _derive_features(raw, _epoch_days(cutoff), share_columns, sessions is not None)
    keep = features["tenure_days"] >= min_history_days
    if not keep.any():
        raise UserError(
            f"No customer at {cutoff:%Y-%m-%d} has at least {min_history_days} days of history; "
            "lower min_history_days or choose another cutoff."
        )
    return within_recency(features[keep], max_recency_days, cutoff=cutoff)


def within_recency(
    features: pd.DataFrame, max_recency_days: int | None, *, cutoff: Any = None
) -> pd.DataFrame:
    """The customers whose last order is at most ``max_recency_days`` before the cutoff
    (None keeps everyone): the population a list is drawn from and graded on."""
    _check_day_limit(max_recency_days, "max_recency_days", allow_none=True)
    if max_recency_days is None:
        return features
    kept = features[features["recency_days"] <= max_recency_days]
    if kept.empty:
        when = f" at {_timestamp(cutoff, 'cutoff'):%Y-%m-%d}" if cutoff is not None else ""
        raise UserError(
            f"No customer{when} has a last order within max_recency_days={max_recency_days}; "
            "raise max_recency_days (0 keeps everyone) or choose another cutoff."
        )
    return kept


def _check_day_limit(value: Any, name: str, *, allow_none: bool) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        hint = " or None" if allow_none else ""
        raise UserError(f"{name} must be a whole number of days >= 0{hint}; got {value!r}.")


def _sessions_cover(sessions: ibis.Table, cutoff: pd.Timestamp) -> bool:
    """Whether sessions reach back a full engagement window before the cutoff.

    If they start later, every customer would look disengaged only because data is missing,
    so session features are left out at that cutoff (with a warning).
    """
    first = sessions.started_at.min().execute()
    start = cutoff - pd.Timedelta(days=ENGAGEMENT_DAYS)
    if first is not None and not pd.isna(first) and _timestamp(first, "started_at") <= start:
        return True
    when = (
        "there are no sessions"
        if first is None or pd.isna(first)
        else (f"the sessions start on {_timestamp(first, 'started_at'):%Y-%m-%d}")
    )
    warnings.warn(
        f"Session features are left out at the cutoff {cutoff:%Y-%m-%d}: {when}, and they need "
        f"the {ENGAGEMENT_DAYS} days before the cutoff.",
        stacklevel=3,
    )
    return False


def _derive_features(
    raw: pd.DataFrame, cutoff_days: float, share_columns: list[str], with_sessions: bool
) -> pd.DataFrame:
    """Customer-level arithmetic on the aggregates (vectorised pandas, no loops over rows)."""
    raw = raw.set_index(raw["customer_id"].astype(str)).sort_index()
    raw.index.name = "customer_id"
    num = raw.drop(columns="customer_id").apply(pd.to_numeric, errors="coerce").astype(float)
    tenure = cutoff_days - num["first_t"]
    orders = num["frequency"]
    out = pd.DataFrame(index=raw.index)
    out["recency_days"] = cutoff_days - num["last_t"]
    out["frequency"] = orders
    out["monetary"] = num["monetary"].fillna(0.0)
    out["avg_order_value"] = out["monetary"] / orders
    out["tenure_days"] = tenure
    span = num["last_day"] - num["first_day"]
    out["ipt_mean_days"] = (span / (num["purchase_days"] - 1)).where(num["purchase_days"] > 1)
    out["ipt_std_days"] = num["ipt_std_days"]
    out["orders_last_90d"] = num["orders_last_90d"]
    earlier_days = tenure - RECENT_DAYS
    earlier_rate = (orders - num["orders_last_90d"]) / earlier_days * 30
    recent_rate = num["orders_last_90d"] / RECENT_DAYS * 30
    out["order_trend_per_30d"] = (recent_rate - earlier_rate).where(earlier_days >= 30)
    if "discount_total" in num and num["discount_known"].sum() > 0:
        gross = out["monetary"] + num["discount_total"]
        out["discount_share"] = (num["discount_total"] / gross).where(gross > 0, 0.0)
    if "refunded_orders" in num and num["refund_known"].sum() > 0:
        out["refund_rate"] = num["refunded_orders"] / orders
    for name in share_columns:
        out[name] = num[f"n_{name}"] / orders
    if with_sessions:
        sessions = num["sessions_30d"].fillna(0.0)
        out["sessions_30d"] = sessions
        out["add_to_cart_rate_30d"] = (num["carts_30d"] / sessions).where(sessions > 0)
        out["days_since_last_session"] = cutoff_days - num["last_session_t"]
    out["revenue_last_365d"] = num["revenue_last_365d"].fillna(0.0)
    repeat_days = num["purchase_days"] - 1
    out["bgnbd_x"] = repeat_days
    out["bgnbd_t_x_days"] = span
    out["bgnbd_T_days"] = cutoff_days - num["first_day"]
    out["bgnbd_mean_repeat_spend"] = (num["repeat_revenue"] / repeat_days).where(repeat_days > 0)
    return out


def model_matrix(features: pd.DataFrame) -> pd.DataFrame:
    """The model's inputs: ``build_features`` output without ``NON_MODEL_COLUMNS``."""
    return features.drop(columns=[c for c in NON_MODEL_COLUMNS if c in features.columns])


def align_features(X: pd.DataFrame, columns: Any) -> pd.DataFrame:
    """``X`` with exactly ``columns``: a channel/device value unseen here has share 0, other
    missing features are empty (the models handle empty values)."""
    aligned = X.reindex(columns=list(columns))
    for name in aligned.columns:
        if name.startswith(SHARE_PREFIXES) and name not in X.columns:
            aligned[name] = 0.0
    return aligned


# -------------------------------------------------------------------------------- labels


def build_labels(orders: ibis.Table, *, cutoff: Any, horizon_days: int) -> pd.Series:
    """churned = 1 when a customer with an order on or before ``cutoff`` places no order in
    (cutoff, cutoff + horizon_days]; 0 otherwise. Indexed by customer_id (sorted)."""
    orders = _orders(orders)
    cutoff = _timestamp(cutoff, "cutoff")
    horizon_days = _whole_days(horizon_days, "horizon_days")
    end = cutoff + pd.Timedelta(days=horizon_days)
    at = orders.ordered_at
    active = orders.filter(at <= _literal(cutoff, at)).select("customer_id").distinct()
    window = orders.filter((at > _literal(cutoff, at)) & (at <= _literal(end, at)))
    returned = window.select(returned_id="customer_id").distinct()
    labelled = active.left_join(returned, active.customer_id == returned.returned_id).select(
        "customer_id", churned=_.returned_id.isnull().ifelse(1, 0)
    )
    frame = fetch(labelled)  # one row per customer: through Arrow (data.fetch)
    if frame.empty:
        raise UserError(f"No orders on or before the cutoff {cutoff:%Y-%m-%d}; choose a later one.")
    _first, last, _n = _order_span(orders)
    if last <= cutoff:
        raise UserError(
            f"The orders end on {last:%Y-%m-%d}, before the cutoff {cutoff:%Y-%m-%d}, so nobody "
            "can be seen returning. Choose a cutoff at least one horizon before the last order."
        )
    labels = frame.set_index(frame["customer_id"].astype(str))["churned"].astype(int)
    labels.index.name = "customer_id"
    return labels.sort_index()


def time_split(
    orders: ibis.Table,
    *,
    as_of: Any,
    horizon_days: int,
    sessions: ibis.Table | None = None,
    min_history_days: int = 0,
    max_recency_days: int | None = None,
) -> TimeSplit:
    """Features and labels at two cutoffs for honest validation (never a random row split).

    Train cutoff = as_of - 2 * horizon, evaluation cutoff = as_of - horizon, so the evaluation
    labels are fully observed by ``as_of``. ``sessions``, ``min_history_days`` and
    ``max_recency_days`` are passed to ``build_features``. Raises ``UserError`` when the
    history before the training cutoff is shorter than one horizon, when the orders stop well
    before ``as_of``, or when (nearly) everyone or nobody churned in either split.
    """
    orders = _orders(orders)
    as_of = _timestamp(as_of, "as_of")
    horizon_days = _whole_days(horizon_days, "horizon_days")
    horizon = pd.Timedelta(days=horizon_days)
    train_cutoff, eval_cutoff = as_of - 2 * horizon, as_of - horizon
    first, last, _n = _order_span(orders)
    if first > train_cutoff - horizon:
        have = max(0, (as_of - first).days)
        raise UserError(
            f"The order history is too short for a {horizon_days}-day horizon: the orders start "
            f"on {first:%Y-%m-%d}, {have} days before as_of {as_of:%Y-%m-%d}, but a time split "
            f"needs {3 * horizon_days} days (one horizon of history before the training cutoff, "
            "then one horizon each to observe the training and evaluation labels). Use a shorter "
            "horizon_days or load a longer history."
        )
    if last < as_of - pd.Timedelta(days=DATA_END_TOLERANCE_DAYS):
        raise UserError(
            f"The orders end on {last:%Y-%m-%d}, {(as_of - last).days} days before as_of "
            f"{as_of:%Y-%m-%d}: customers would look churned only because the data stops. Set "
            f"as_of to {(last + pd.Timedelta(days=1)):%Y-%m-%d} or load newer orders."
        )
    parts = {}
    for name, cutoff in (("training", train_cutoff), ("evaluation", eval_cutoff)):
        everyone = build_features(
            orders, cutoff=cutoff, sessions=sessions, min_history_days=min_history_days
        )
        features = within_recency(everyone, max_recency_days, cutoff=cutoff)
        if name == "evaluation":
            eval_all = everyone
        labels = build_labels(orders, cutoff=cutoff, horizon_days=horizon_days)
        labels = labels.reindex(features.index)
        _check_both_classes(labels, name, cutoff, horizon_days)
        parts[name] = (features, labels)
    return TimeSplit(
        train_cutoff=train_cutoff,
        eval_cutoff=eval_cutoff,
        horizon_days=horizon_days,
        features_train=parts["training"][0],
        y_train=parts["training"][1],
        features_eval=parts["evaluation"][0],
        y_eval=parts["evaluation"][1],
        features_eval_all=eval_all,
    )


def _check_both_classes(labels: pd.Series, split: str, cutoff: pd.Timestamp, horizon: int) -> None:
    churned, stayed = int(labels.sum()), int((labels == 0).sum())
    where = f"In the {split} split (cutoff {cutoff:%Y-%m-%d}, {horizon}-day horizon)"
    if stayed == 0:
        raise UserError(
            f"{where} every one of the {churned:,} customers churned, so there is nothing to "
            "learn. Use a longer horizon_days, or check that the orders after the cutoff loaded."
        )
    if churned == 0:
        raise UserError(
            f"{where} nobody churned ({stayed:,} customers all ordered again), so there is "
            "nothing to learn. Use a shorter horizon_days."
        )
    if min(churned, stayed) < MIN_CLASS_SIZE:
        raise UserError(
            f"{where} only {churned:,} customers churned and {stayed:,} stayed; at least "
            f"{MIN_CLASS_SIZE} of each are needed to train and score a model. Change "
            "horizon_days or use more customers."
        )


# --------------------------------------------------------------------------------- model


def _signed_log1p(values: Any) -> Any:
    """Tame heavy tails (revenue, counts) for the linear model; keeps the sign."""
    return np.sign(values) * np.log1p(np.abs(values))


def _base_estimator(model: str, random_state: int) -> Any:
    if model == "hist_gradient_boosting":
        # Handles empty values and non-linear effects natively; early stopping against a
        # validation slice keeps it from overfitting small shops.
        return HistGradientBoostingClassifier(
            learning_rate=0.05,
            max_iter=300,
            min_samples_leaf=40,
            l2_regularization=1.0,
            early_stopping=True,
            validation_fraction=0.15,
            n_iter_no_change=20,
            random_state=random_state,
        )
    return Pipeline(
        [
            ("signed_log", FunctionTransformer(_signed_log1p, feature_names_out="one-to-one")),
            (
                "impute",
                SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            ),
            ("scale", StandardScaler()),
            ("logistic", LogisticRegression(max_iter=2000)),
        ]
    )


def train_model(
    X: pd.DataFrame,
    y: pd.Series,
    *,
    model: str = "hist_gradient_boosting",
    calibration: str = "isotonic",
    random_state: int = 0,
    max_rows: int = 250_000,
) -> Any:
    """Fit a churn classifier with calibrated probabilities.

    Parameters
    ----------
    X, y : ``TimeSplit.X_train`` and ``TimeSplit.y_train`` (1 = churned).
    model : "hist_gradient_boosting" (default) or "logistic".
    calibration : "isotonic", "sigmoid" (Platt) or "none", with scikit-learn's
        CalibratedClassifierCV. Up to 20 000 rows it uses 3 stratified folds (each fold's model
        is calibrated on the rows it did not see; their probabilities are averaged); beyond,
        one stratified held-out quarter, which is plenty and fits one model instead of three.
    random_state : seed for every random step.
    max_rows : train on a stratified random sample of at most this many customers; beyond a
        few hundred thousand the model barely improves while time grows linearly.

    Returns
    -------
    A fitted scikit-learn classifier (``predict_proba``; use ``predict_churn`` to score).
    """
    if model not in MODELS:
        raise UserError(f"model must be one of {MODELS}; got {model!r}.")
    if calibration not in CALIBRATIONS:
        raise UserError(f"calibration must be one of {CALIBRATIONS}; got {calibration!r}.")
    X, y = _check_xy(X, y)
    # A column without any value teaches nothing (and gradient boosting cannot bin it): drop it;
    # predict_churn aligns later data to the columns the model kept.
    X = X.drop(columns=[c for c in X.columns if X[c].isna().all()])
    if X.shape[1] == 0:
        raise UserError("Every feature column is empty; check the orders table has data.")
    if len(X) > max_rows:
        X, _X_rest, y, _y_rest = train_test_split(
            X, y, train_size=max_rows, stratify=y, random_state=random_state
        )
    estimator = _base_estimator(model, random_state)
    if calibration != "none":
        folds = _calibration_folds(y, random_state)
        estimator = CalibratedClassifierCV(estimator, method=calibration, cv=folds)
    return estimator.fit(X, y)


def _calibration_folds(y: pd.Series, random_state: int) -> Any:
    if len(y) <= CROSS_FIT_ROWS:
        return StratifiedKFold(n_splits=3, shuffle=True, random_state=random_state)
    rows = np.arange(len(y))
    _fit_rows, held_out = train_test_split(
        rows, test_size=0.25, stratify=y, random_state=random_state
    )
    test_fold = np.full(len(y), -1)  # -1: always in the fitting part
    test_fold[held_out] = 0
    return PredefinedSplit(test_fold)


def _check_xy(X: pd.DataFrame, y: Any) -> tuple[pd.DataFrame, pd.Series]:
    if not isinstance(X, pd.DataFrame):
        raise UserError("X must be a DataFrame of features (e.g. TimeSplit.X_train).")
    y = pd.Series(y, index=X.index) if not isinstance(y, pd.Series) else y
    if len(X) != len(y):
        raise UserError(f"X has {len(X)} rows but y has {len(y)}; pass matching rows.")
    if y.isna().any() or not set(pd.unique(y)) <= {0, 1}:
        raise UserError("y must be 0/1 churn labels without gaps (1 = churned).")
    not_numeric = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    if not_numeric:
        raise UserError(f"X has non-numeric columns {not_numeric}; pass model_matrix(features).")
    counts = y.value_counts()
    if len(counts) < 2 or counts.min() < MIN_CLASS_SIZE:
        raise UserError(
            f"Training needs at least {MIN_CLASS_SIZE} churners and {MIN_CLASS_SIZE} "
            f"non-churners; got {int(y.sum())} churners and {int((y == 0).sum())} non-churners."
        )
    return X, y.astype(int)


def predict_churn(model: Any, features: pd.DataFrame) -> pd.Series:
    """Churn probability per customer (index kept), with columns aligned to the training."""
    X = align_features(model_matrix(features), model.feature_names_in_)
    return pd.Series(model.predict_proba(X)[:, 1], index=features.index, name="churn_probability")


def predict_uncalibrated(model: Any, features: pd.DataFrame) -> pd.Series | None:
    """The same fitted models' churn scores before their calibration step (the mean over the
    calibration folds' models), to show what calibration changed; None for a model trained
    with ``calibration="none"`` (its scores are ``predict_churn``'s)."""
    folds = getattr(model, "calibrated_classifiers_", None)
    if folds is None:
        return None
    X = align_features(model_matrix(features), model.feature_names_in_)
    raw = np.mean([fold.estimator.predict_proba(X)[:, 1] for fold in folds], axis=0)
    return pd.Series(raw, index=features.index, name="churn_score_uncalibrated")


# ---------------------------------------------------------------------------- evaluation


def _check_labels(y_true: Any) -> np.ndarray:
    y = np.asarray(y_true, dtype=float)
    if y.ndim != 1 or y.size == 0:
        raise UserError("y_true must hold one 0/1 churn label per customer.")
    if not np.isin(y, (0, 1)).all():
        raise UserError("y_true must be 0/1 churn labels without gaps (1 = churned).")
    if y.min() == y.max():
        raise UserError(
            "AUC and lift need both churners and non-churners among the scored customers; "
            f"all {y.size} are {'churned' if y[0] else 'active'}."
        )
    return y.astype(int)


def _check_scores(y_true: Any, p: Any) -> tuple[np.ndarray, np.ndarray]:
    y = _check_labels(y_true)
    p = np.asarray(p, dtype=float)
    if y.shape != p.shape:
        raise UserError(f"y_true and p need one value per customer; got {y.size} and {p.size}.")
    if not (np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()):
        raise UserError("p must hold probabilities between 0 and 1 without gaps.")
    return y, p


def _ranked_deciles(p: np.ndarray) -> np.ndarray:
    """Decile 1 = the 10% most likely to churn (ties broken by position: deterministic)."""
    order = np.argsort(-p, kind="stable")
    decile = np.empty(p.size, dtype=int)
    decile[order] = np.arange(p.size) * 10 // p.size + 1
    return decile


def gains_table(y_true: Any, p: Any, revenue_value: Any = None) -> pd.DataFrame:
    """Customers ranked by churn probability, in deciles: churners caught and lift per decile."""
    y, p = _check_scores(y_true, p)
    frame = pd.DataFrame({"decile": _ranked_deciles(p), "churned": y, "p": p})
    if revenue_value is not None:
        frame["value"] = np.asarray(revenue_value, dtype=float)
    groups = frame.groupby("decile")
    table = pd.DataFrame(
        {
            "customers": groups.size(),
            "churners": groups["churned"].sum(),
            "mean_probability": groups["p"].mean(),
        }
    )
    table["churn_rate"] = table["churners"] / table["customers"]
    table["lift"] = table["churn_rate"] / y.mean()
    table["cumulative_share_of_customers"] = table["customers"].cumsum() / y.size
    table["cumulative_share_of_churners"] = table["churners"].cumsum() / y.sum()
    if revenue_value is not None:
        table["value"] = groups["value"].sum()
        table["cumulative_share_of_value"] = table["value"].cumsum() / frame["value"].sum()
    return table.reset_index()


def evaluate(y_true: Any, p: Any, revenue_value: Any = None) -> dict[str, Any]:
    """Scores of churn probabilities ``p`` against observed churn ``y_true``.

    Returns
    -------
    dict with roc_auc, pr_auc (average precision), brier, churn_rate, top_decile_lift (churn
    rate among the 10% highest scores / overall churn rate), customers, ``gains`` (a
    ``gains_table``, with value columns when ``revenue_value`` is given) and ``calibration``
    (mean predicted vs observed churn in 10 equal-size bins, sklearn's calibration_curve).
    """
    y, p = _check_scores(y_true, p)
    gains = gains_table(y, p, revenue_value)
    observed, predicted = calibration_curve(y, p, n_bins=10, strategy="quantile")
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "churn_rate": float(y.mean()),
        "top_decile_lift": float(gains["lift"].iloc[0]),
        "customers": int(y.size),
        "gains": gains,
        "calibration": pd.DataFrame({"predicted": predicted, "observed": observed}),
    }


def baselines(
    features: pd.DataFrame,
    y: pd.Series,
    *,
    horizon_days: int,
    time_unit: str = "weeks",
    fit_on: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Simple rankings beside the model, on the same customers and labels.

    ``recency_auc``: rank by days since the last order. ``bgnbd_auc``: rank by the BG/NBD
    probability of no purchase in the horizon. Not P(alive): it is 1 for every one-time buyer.
    BG/NBD is fitted on ``fit_on`` (default: ``features``), which should be every customer with
    an order by the cutoff (``TimeSplit.features_eval_all``): a fit on a population already
    cut by recency misjudges how often customers drop out. Only history up to the cutoff is
    used. When BG/NBD cannot be fitted, ``bgnbd_auc`` is None and ``bgnbd_note`` says why.
    """
    horizon_days = _whole_days(horizon_days, "horizon_days")
    y_arr = _check_labels(y.reindex(features.index))
    result: dict[str, Any] = {
        "recency_auc": float(roc_auc_score(y_arr, features["recency_days"])),
        "bgnbd_auc": None,
        "bgnbd_params": None,
        "bgnbd_note": "",
    }
    try:
        params, _inputs = _fit_bgnbd_on(features if fit_on is None else fit_on, time_unit)
    except ValueError as error:
        result["bgnbd_note"] = f"BG/NBD baseline skipped: {error}"
        return result
    scale = _unit_days(time_unit)
    inputs = _bgnbd_inputs(features, time_unit)
    silent = bgnbd.p_no_purchase(params, *inputs, horizon_days / scale)
    result["bgnbd_auc"] = float(roc_auc_score(y_arr, silent))
    result["bgnbd_params"] = params
    result["bgnbd_p_no_purchase"] = pd.Series(silent, index=features.index)
    return result


def _unit_days(time_unit: str) -> float:
    return {"days": 1.0, "weeks": float(DAYS_PER_WEEK)}[bgnbd._check_time_unit(time_unit)]


def _bgnbd_inputs(features: pd.DataFrame, time_unit: str) -> tuple[np.ndarray, ...]:
    scale = _unit_days(time_unit)
    x = features["bgnbd_x"].to_numpy(float)
    t_x = features["bgnbd_t_x_days"].to_numpy(float) / scale
    T = features["bgnbd_T_days"].to_numpy(float) / scale
    return x, t_x, T


def _fit_bgnbd_on(features: pd.DataFrame, time_unit: str) -> tuple[Any, tuple[np.ndarray, ...]]:
    inputs = _bgnbd_inputs(features, time_unit)
    return bgnbd.fit_bgnbd(*inputs, time_unit=time_unit), inputs


# --------------------------------------------------------------------------------- value


def value_over_horizon(
    features: pd.DataFrame,
    *,
    horizon_days: int,
    method: str = "recent_spend",
    time_unit: str = "weeks",
) -> pd.Series:
    """Each customer's expected spend over the horizon if they stay, in the shop currency.

    method="recent_spend" (default): spend in the last 365 days per day of that window
    (the window starts at the first order for younger customers, and counts at least one
    horizon) times the horizon. Simple and transparent.
    method="bgnbd_gamma_gamma": BG/NBD expected purchases in the horizon times the Gamma-Gamma
    expected spend per purchase, both fitted on these features. Note this is already weighted
    by the BG/NBD chance of being alive.
    """
    horizon_days = _whole_days(horizon_days, "horizon_days")
    if method not in VALUE_METHODS:
        raise UserError(f"method must be one of {VALUE_METHODS}; got {method!r}.")
    if method == "recent_spend":
        window = features["tenure_days"].clip(upper=VALUE_LOOKBACK_DAYS).clip(lower=horizon_days)
        value = features["revenue_last_365d"] / window * horizon_days
    else:
        params, inputs = _fit_bgnbd_on(features, time_unit)
        purchases = bgnbd.expected_purchases(params, *inputs, horizon_days / _unit_days(time_unit))
        repeat = features["bgnbd_x"] > 0
        gg = bgnbd.fit_gamma_gamma(
            features.loc[repeat, "bgnbd_x"], features.loc[repeat, "bgnbd_mean_repeat_spend"]
        )
        spend = bgnbd.expected_spend(
            gg, features["bgnbd_x"], features["bgnbd_mean_repeat_spend"].fillna(0.0)
        )
        value = pd.Series(purchases * spend, index=features.index)
    return value.rename("expected_value")


def _flagged(
    p_churn: pd.Series, expected_value: pd.Series, threshold: float | None, top_n: int | None
) -> tuple[pd.DataFrame, str]:
    """Customers flagged as at risk, sorted by value at risk, and the rule in words."""
    if (threshold is None) == (top_n is None):
        raise UserError(
            "Pass exactly one of threshold (a churn probability, e.g. 0.5) or top_n (a number "
            "of customers, e.g. 1000)."
        )
    if not isinstance(p_churn, pd.Series) or not isinstance(expected_value, pd.Series):
        raise UserError("p_churn and expected_value must be Series indexed by customer_id.")
    missing = p_churn.index.difference(expected_value.index)
    if len(missing):
        raise UserError(
            f"{len(missing)} customers have a churn probability but no expected value, e.g. "
            f"{missing[0]!r}; compute both from the same features."
        )
    frame = pd.DataFrame(
        {
            "customer_id": p_churn.index.astype(str),
            "churn_probability": p_churn.to_numpy(float),
            "expected_value": expected_value.reindex(p_churn.index).fillna(0.0).to_numpy(float),
        }
    )
    frame["value_at_risk"] = frame["churn_probability"] * frame["expected_value"]
    if threshold is not None:
        if not 0 <= threshold <= 1:
            raise UserError(f"threshold must be a probability between 0 and 1; got {threshold}.")
        flagged = frame[frame["churn_probability"] >= threshold]
        rule = f"churn probability of at least {threshold:.0%}"
    else:
        if isinstance(top_n, bool) or not isinstance(top_n, int | np.integer) or top_n < 1:
            raise UserError(f"top_n must be a whole number >= 1; got {top_n!r}.")
        flagged = frame.sort_values(
            ["churn_probability", "customer_id"], ascending=[False, True], kind="stable"
        ).head(top_n)
        rule = f"the {top_n:,} customers most likely to churn"
    flagged = flagged.sort_values(
        ["value_at_risk", "churn_probability", "customer_id"],
        ascending=[False, False, True],
        kind="stable",
    )
    return flagged.reset_index(drop=True), rule


def revenue_at_risk(
    p_churn: pd.Series,
    expected_value: pd.Series,
    *,
    threshold: float | None = None,
    top_n: int | None = None,
) -> dict[str, Any]:
    """Expected next-horizon revenue lost to churn among the flagged customers.

    Definition: sum over flagged customers of P(churn) x expected value over the horizon
    (``value_over_horizon``). Flag by ``threshold`` (probability) or ``top_n`` (highest
    probabilities). ``share_of_total`` compares with the same sum over all customers.
    """
    flagged, rule = _flagged(p_churn, expected_value, threshold, top_n)
    total = float((p_churn * expected_value.reindex(p_churn.index).fillna(0.0)).sum())
    at_risk = float(flagged["value_at_risk"].sum())
    return {
        "revenue_at_risk": at_risk,
        "customers_flagged": len(flagged),
        "share_of_customers": len(flagged) / len(p_churn) if len(p_churn) else 0.0,
        "share_of_total": at_risk / total if total > 0 else 0.0,
        "expected_value_flagged": float(flagged["expected_value"].sum()),
        "rule": rule,
        "definition": (
            "Revenue at risk = sum over flagged customers of churn probability x the value "
            "they would bring over the horizon if they stayed."
        ),
    }


def at_risk_list(
    p_churn: pd.Series,
    expected_value: pd.Series,
    *,
    threshold: float | None = None,
    top_n: int | None = None,
) -> pd.DataFrame:
    """The flagged customers for activation: customer_id, churn_probability, expected_value,
    value_at_risk, highest value at risk first. For ``export_at_risk``, never the HTML."""
    return _flagged(p_churn, expected_value, threshold, top_n)[0]


def export_at_risk(df: pd.DataFrame, path: str | Path) -> Path:
    """Write the at-risk list to CSV (or Parquet for a .parquet path); returns the path.

    Only the columns a CRM tool needs (``EXPORT_COLUMNS``, those present, in that order):
    customer_id, rank, churn_probability, expected_value, value_at_risk, holdout, scored_by,
    listed_on (``at_risk_export`` adds the last four).
    """
    needed = ("customer_id", "churn_probability", "value_at_risk")
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise UserError(f"The at-risk list lacks {missing}; build it with at_risk_list().")
    path = Path(path)
    listed = df[[c for c in EXPORT_COLUMNS if c in df.columns]]
    if path.suffix.lower() == ".parquet":
        return write_atomically(path, lambda tmp: listed.to_parquet(tmp, index=False))
    return write_atomically(path, lambda tmp: listed.to_csv(tmp, index=False, float_format="%.6g"))


# ------------------------------------------------------------------------------- drivers


def _sentence(feature: str, direction: int) -> str:
    phrase = FEATURE_PHRASES.get(feature)
    if phrase is None:
        for prefix, what in (("channel_share_", "channel"), ("device_share_", "device")):
            if feature.startswith(prefix):
                level = feature.removeprefix(prefix).replace("_", " ")
                phrase = f"order more often through the {level} {what}"
        phrase = phrase or f"have a higher {feature.replace('_', ' ')}"
    if direction == 0:
        return f"Whether customers {phrase} matters, but not in one simple direction."
    likely = "more" if direction > 0 else "less"
    return f"Customers who {phrase} are {likely} likely to churn."


def drivers(
    model: Any,
    X: pd.DataFrame,
    y: pd.Series,
    *,
    random_state: int = 0,
    top: int = 5,
    n_repeats: int = 5,
    max_rows: int = 10_000,
) -> pd.DataFrame:
    """What drives the predictions: permutation importance, in plain words.

    Importance = drop in ROC-AUC when one feature's values are shuffled (scikit-learn's
    permutation_importance, on a stratified sample of at most ``max_rows`` customers, ideally the
    evaluation split). Direction = sign of the Spearman correlation between the feature and the
    predicted churn probability. Returns the ``top`` features with importance > 0: columns
    feature, importance, importance_std, direction (+1 raises churn risk, -1 lowers it, 0 mixed)
    and sentence.
    """
    X, y = _check_xy(X, y)
    X = align_features(X, model.feature_names_in_)
    if len(X) > max_rows:
        X, _X_rest, y, _y_rest = train_test_split(
            X, y, train_size=max_rows, stratify=y, random_state=random_state
        )
    result = permutation_importance(
        model, X, y, scoring="roc_auc", n_repeats=n_repeats, random_state=random_state
    )
    predicted = pd.Series(model.predict_proba(X)[:, 1], index=X.index)
    correlation = X.apply(lambda column: column.corr(predicted, method="spearman"))
    table = pd.DataFrame(
        {
            "feature": X.columns,
            "importance": result.importances_mean,
            "importance_std": result.importances_std,
            "direction": [
                0 if not np.isfinite(c) or abs(c) < 0.05 else int(np.sign(c)) for c in correlation
            ],
        }
    )
    table = table[table["importance"] > 0].sort_values(
        ["importance", "feature"], ascending=[False, True], kind="stable"
    )
    table = table.head(top).reset_index(drop=True)
    table["sentence"] = [
        _sentence(f, d) for f, d in zip(table["feature"], table["direction"], strict=True)
    ]
    return table


# ------------------------------------------------------------------ model against baselines

CONFIDENCE = 0.95  # every interval on the churn page
CALIBRATION_TOLERANCE = 0.05  # mean gap (predicted vs observed churn) allowed at face value
MIN_READOUT_GROUP = 20  # contacted and held-out customers needed for a campaign readout
BASELINE_NAMES = {
    "recency": "recency alone",
    "bgnbd": "the BG/NBD repeat-buying model",
}
SCORER_NAMES = {"model": "the churn model", **BASELINE_NAMES}


@dataclass(frozen=True)
class AucDifference:
    """ROC-AUC of two scores on the same customers and their paired difference (a - b)."""

    auc_a: float
    auc_b: float
    difference: float
    se: float
    low: float
    high: float
    confidence: float = CONFIDENCE


def _structural_components(y: np.ndarray, score: np.ndarray) -> tuple[float, np.ndarray, ...]:
    """AUC and DeLong's structural components (midranks: ties count one half)."""
    from scipy.stats import rankdata

    positive, negative = y == 1, y == 0
    m, n = int(positive.sum()), int(negative.sum())
    overall = rankdata(score)
    within_pos = rankdata(score[positive])
    within_neg = rankdata(score[negative])
    auc = (overall[positive].sum() - m * (m + 1) / 2) / (m * n)
    v10 = (overall[positive] - within_pos) / n  # per churner: share of stayers ranked below
    v01 = 1 - (overall[negative] - within_neg) / m  # per stayer: share of churners above
    return float(auc), v10, v01


def auc_difference(
    y_true: Any, score_a: Any, score_b: Any, *, confidence: float = CONFIDENCE
) -> AucDifference:
    """Difference of two correlated ROC-AUCs (same customers) with DeLong's interval.

    DeLong, DeLong & Clarke-Pearson (1988), in the fast midrank form of Sun & Xu (2014): the
    variance of AUC_a - AUC_b from the per-customer structural components, O(n log n), exact
    and without a seed (a paired bootstrap over customers gives the same interval within its
    Monte Carlo error; tests check both). Higher scores mean more likely to churn.
    """
    from scipy.stats import norm

    y = _check_labels(y_true)
    a, b = (np.asarray(s, dtype=float) for s in (score_a, score_b))
    if (
        a.shape != y.shape
        or b.shape != y.shape
        or not (np.isfinite(a).all() and np.isfinite(b).all())
    ):
        raise UserError("Both scores need one finite value per customer, like y_true.")
    if not 0.5 < confidence < 1:
        raise UserError(f"confidence must be between 0.5 and 1 (e.g. 0.95); got {confidence}.")
    auc_a, v10_a, v01_a = _structural_components(y, a)
    auc_b, v10_b, v01_b = _structural_components(y, b)
    m, n = v10_a.size, v01_a.size
    s10 = np.cov(np.vstack([v10_a, v10_b]))
    s01 = np.cov(np.vstack([v01_a, v01_b]))
    variance = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m
    variance += (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / n
    se = float(math.sqrt(max(variance, 0.0)))
    z = float(norm.ppf(0.5 + confidence / 2))
    difference = auc_a - auc_b
    return AucDifference(
        auc_a, auc_b, difference, se, difference - z * se, difference + z * se, confidence
    )


def best_baseline(rules: dict[str, Any]) -> str:
    """The baseline with the higher ROC-AUC (``baselines`` output): "recency" or "bgnbd"."""
    if rules.get("bgnbd_auc") is not None and rules["bgnbd_auc"] > rules["recency_auc"]:
        return "bgnbd"
    return "recency"


def baseline_score(rules: dict[str, Any], name: str, features: pd.DataFrame) -> pd.Series:
    """The graded customers' score under baseline ``name`` (higher = more likely to churn)."""
    if name == "recency":
        return features["recency_days"].astype(float)
    if name == "bgnbd" and rules.get("bgnbd_auc") is not None:
        return rules["bgnbd_p_no_purchase"].reindex(features.index)
    raise UserError(f"No {name!r} baseline was computed; use 'recency' or 'bgnbd'.")


def baseline_probability(
    name: str,
    *,
    horizon_days: int,
    features: pd.DataFrame,
    fit_on: pd.DataFrame,
    train_features: pd.DataFrame,
    y_train: pd.Series,
    time_unit: str = "weeks",
) -> pd.Series:
    """Churn probabilities of a baseline for ``features`` (customers at one cutoff).

    "bgnbd": the BG/NBD probability of no order in the horizon, fitted on ``fit_on`` (every
    customer with an order by that cutoff). "recency": recency turned into a probability by
    isotonic regression (scikit-learn) of churn on recency at the training cutoff, so it ranks
    exactly as recency does (ties share a probability) and can be priced like the model's.
    """
    horizon_days = _whole_days(horizon_days, "horizon_days")
    if name == "bgnbd":
        params, _inputs = _fit_bgnbd_on(fit_on, time_unit)
        inputs = _bgnbd_inputs(features, time_unit)
        p = bgnbd.p_no_purchase(params, *inputs, horizon_days / _unit_days(time_unit))
    elif name == "recency":
        from sklearn.isotonic import IsotonicRegression

        y = _check_labels(y_train.reindex(train_features.index))
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
        iso.fit(train_features["recency_days"].to_numpy(float), y)
        p = iso.predict(features["recency_days"].to_numpy(float))
    else:
        raise UserError(f"name must be 'recency' or 'bgnbd'; got {name!r}.")
    return pd.Series(np.clip(p, 0.0, 1.0), index=features.index, name="churn_probability")


@dataclass(frozen=True)
class CalibrationCheck:
    """How far probabilities are from what happened, on the evaluation cutoff."""

    brier: float
    brier_constant: float  # always forecasting the observed churn rate: rate x (1 - rate)
    mean_gap: float  # mean |predicted - observed| churn over 10 equal-size groups
    brier_before: float | None = None  # before the calibration step (None: no such step)


def calibration_check(y_true: Any, p: Any, p_before: Any = None) -> CalibrationCheck:
    """Brier score, the constant forecast's Brier and the mean calibration gap of ``p``.

    The gap is the customer-weighted mean absolute difference between mean predicted and
    observed churn in 10 equal-size groups by predicted probability (the expected calibration
    error). ``p_before``: the same model's scores before calibration, to tell whether the
    calibration step helped.
    """
    y, p = _check_scores(y_true, p)
    groups = np.minimum(np.argsort(np.argsort(p, kind="stable"), kind="stable") * 10 // y.size, 9)
    frame = pd.DataFrame({"g": groups, "y": y, "p": p}).groupby("g")
    sizes = frame.size().to_numpy(float)
    gaps = (frame["p"].mean() - frame["y"].mean()).abs().to_numpy(float)
    before = None if p_before is None else float(brier_score_loss(y, _check_scores(y, p_before)[1]))
    rate = float(y.mean())
    return CalibrationCheck(
        brier=float(brier_score_loss(y, p)),
        brier_constant=rate * (1 - rate),
        mean_gap=float((gaps * sizes).sum() / sizes.sum()),
        brier_before=before,
    )


# ------------------------------------------------------------------- holdout and the export

EXPORT_COLUMNS = (
    "customer_id",
    "rank",
    "churn_probability",
    "expected_value",
    "value_at_risk",
    "holdout",
    "scored_by",
    "listed_on",
)


def assign_holdout(customer_ids: Any, *, share: float, seed: int) -> pd.Series:
    """A seeded random holdout: exactly round(share x n) of the customers (at least one when
    the share is above 0), the same ones for the same ids and seed in any order.

    Returns a boolean Series indexed by customer id (True = do not contact).
    """
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share < 1:
        raise UserError(
            f"holdout_share must be a share from 0 to below 1 (e.g. 0.1); got {share!r}."
        )
    ids = pd.Index(pd.Series(customer_ids, dtype=str))
    if ids.has_duplicates:
        raise UserError("Each customer may appear once in the list to split off a holdout.")
    n = len(ids)
    size = 0 if share == 0 or n == 0 else max(1, round(share * n))
    ordered = np.sort(ids.to_numpy(str))
    chosen = np.random.default_rng(seed).permutation(n)[:size]
    held = pd.Series(False, index=ordered)
    held.iloc[chosen] = True
    return held.reindex(ids).rename("holdout")


def at_risk_export(
    flagged: pd.DataFrame,
    *,
    holdout_share: float,
    seed: int,
    listed_on: Any,
    scored_by: str,
) -> pd.DataFrame:
    """The CRM file: the flagged customers (``at_risk_list`` order) with their rank (1 =
    contact first), the seeded holdout flag, which ranking chose them and the list's date."""
    if scored_by not in SCORER_NAMES:
        raise UserError(f"scored_by must be one of {tuple(SCORER_NAMES)}; got {scored_by!r}.")
    frame = flagged.reset_index(drop=True).copy()
    frame["rank"] = np.arange(1, len(frame) + 1)
    held = assign_holdout(frame["customer_id"], share=holdout_share, seed=seed)
    frame["holdout"] = held.to_numpy(bool)
    frame["scored_by"] = scored_by
    frame["listed_on"] = _timestamp(listed_on, "listed_on").date().isoformat()
    return frame[[c for c in EXPORT_COLUMNS if c in frame.columns]]


def load_export(path: str | Path) -> pd.DataFrame | None:
    """The at-risk list a previous run published, or None when there is none."""
    path = Path(path)
    if not path.is_file():
        return None
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype={"customer_id": str})


@dataclass(frozen=True)
class HoldoutReadout:
    """Did the contacted customers of the previous list come back more than the holdout?"""

    status: str  # "none", "unusable", "too_early", "measured"
    note: str = ""  # why an export cannot be read (status "unusable")
    listed_on: str = ""
    days: int = 0  # days from the list's date to this analysis date
    contacted: int = 0
    contacted_returned: int = 0
    held_out: int = 0
    held_out_returned: int = 0
    difference: float = float("nan")  # return rate contacted - held out
    low: float = float("nan")
    high: float = float("nan")
    confidence: float = CONFIDENCE

    @property
    def contacted_rate(self) -> float:
        return self.contacted_returned / self.contacted if self.contacted else float("nan")

    @property
    def held_out_rate(self) -> float:
        return self.held_out_returned / self.held_out if self.held_out else float("nan")


def holdout_readout(
    previous: pd.DataFrame | None,
    orders: ibis.Table,
    *,
    end: Any,
    confidence: float = CONFIDENCE,
) -> HoldoutReadout:
    """Read the previous at-risk list back: who came back (ordered after the list's date,
    up to ``end``, the analysis date's end) among the contacted and among the holdout.

    The difference of the two return rates is the campaign's incremental effect on returning
    (the holdout was chosen at random), with Newcombe's hybrid score interval (statsmodels'
    ``confint_proportions_2indep``, method "newcomb"), which holds at small counts.
    """
    from statsmodels.stats.proportion import confint_proportions_2indep

    if previous is None:
        return HoldoutReadout("none")
    missing = [c for c in ("customer_id", "holdout", "listed_on") if c not in previous.columns]
    if missing:
        return HoldoutReadout("unusable", note=f"it has no {', '.join(missing)} column")
    try:
        dates = pd.to_datetime(previous["listed_on"].astype(str), format="%Y-%m-%d")
        held = previous["holdout"].map({True: True, False: False, "True": True, "False": False})
    except (TypeError, ValueError):
        return HoldoutReadout("unusable", note="its listed_on dates cannot be read")
    if previous.empty or dates.nunique() != 1 or held.isna().any():
        return HoldoutReadout("unusable", note="it is empty or its holdout flags or date are mixed")
    listed_on = dates.iloc[0].date()
    start = pd.Timestamp(listed_on, tz="UTC") + pd.Timedelta(days=1)  # the list's day counts
    end = _timestamp(end, "end")
    days = (end - start).days
    base = {"listed_on": listed_on.isoformat(), "days": max(days, 0)}
    if days < 1:
        return HoldoutReadout("too_early", **base)
    orders = _orders(orders)
    at = orders.ordered_at
    window = orders.filter((at >= _literal(start, at)) & (at < _literal(end, at)))
    returned = set(fetch(window.select("customer_id").distinct())["customer_id"].astype(str))
    came_back = previous["customer_id"].astype(str).isin(returned).to_numpy()
    held = held.to_numpy(bool)
    counts = {
        "contacted": int((~held).sum()),
        "contacted_returned": int(came_back[~held].sum()),
        "held_out": int(held.sum()),
        "held_out_returned": int(came_back[held].sum()),
    }
    if min(counts["contacted"], counts["held_out"]) == 0:
        return HoldoutReadout("measured", confidence=confidence, **base, **counts)
    low, high = confint_proportions_2indep(
        counts["contacted_returned"],
        counts["contacted"],
        counts["held_out_returned"],
        counts["held_out"],
        method="newcomb",
        compare="diff",
        alpha=1 - confidence,
    )
    difference = counts["contacted_returned"] / counts["contacted"]
    difference -= counts["held_out_returned"] / counts["held_out"]
    return HoldoutReadout(
        "measured",
        difference=float(difference),
        low=float(low),
        high=float(high),
        confidence=confidence,
        **base,
        **counts,
    )


# ------------------------------------------------------------------------------ decision


@dataclass(frozen=True)
class ChurnEvidence:
    """What the churn decision table reads (docs/decisions.md, "Churn prediction")."""

    edge: AucDifference  # the model (a) against the best baseline (b), on the evaluation cutoff
    baseline: str  # the best baseline: "recency" or "bgnbd"
    calibration: Mapping[str, CalibrationCheck]  # per scorer ("model", "recency", "bgnbd")
    readout: HoldoutReadout
    list_size: int
    held_out: int
    export: str = "data/exports/churn_at_risk.csv"
    actions_export: str = "data/exports/customer_actions.csv"  # the one CRM plan (actions.py)


@dataclass(frozen=True)
class Finding:
    """One row of the churn decision table that held, and the sentence it produces."""

    rule: str
    sentence: str
    outcome: str  # the row's key: which list, whether probabilities hold, the readout


def _points(value: float) -> str:
    return md_escape(f"{100 * value:+.1f}")


def _auc_pair(edge: AucDifference) -> str:
    percent = round(edge.confidence * 100)
    return md_escape(
        f"ROC-AUC {edge.auc_a:.3f} against {edge.auc_b:.3f}, a difference of "
        f"{edge.difference:+.3f} ({percent}% interval {edge.low:+.3f} to {edge.high:+.3f})"
    )


def list_finding(edge: AucDifference, baseline_key: str) -> Finding:
    """CH-1..CH-3: which ranking the at-risk list follows, from the model's edge over the best
    baseline (``baseline_key``). ``outcome`` is the chosen scorer: "model" or the baseline."""
    baseline = BASELINE_NAMES[baseline_key]
    if edge.low > 0:
        return Finding(
            "CH-1",
            f"The churn model ranks churners better than {baseline}, the better of the two "
            f"simple rules, on a later period it never saw: {_auc_pair(edge)}. The list is "
            "ranked by the model.",
            "model",
        )
    if edge.high < 0:
        return Finding(
            "CH-2",
            f"The churn model ranks churners worse than {baseline} on a later period it never "
            f"saw: {_auc_pair(edge)}. The list is ranked by {baseline} instead.",
            baseline_key,
        )
    return Finding(
        "CH-3",
        f"The churn model shows no clear edge over {baseline} on a later period it never saw: "
        f"{_auc_pair(edge)}, an interval that includes no difference. The list is ranked by "
        f"{baseline}, the baseline that does as well.",
        baseline_key,
    )


def probability_finding(check: CalibrationCheck, scorer: str) -> Finding:
    """CH-4..CH-7: whether the probabilities of ``scorer`` ("model", "recency", "bgnbd") may be
    read at face value (``outcome`` "face_value" or "ranking_only")."""
    whose = {"model": "The churn model's", "recency": "Recency's", "bgnbd": "BG/NBD's"}[scorer]
    if check.brier_before is not None and check.brier > check.brier_before:
        return Finding(
            "CH-4",
            f"Calibration made {whose[0].lower() + whose[1:]} probabilities worse on the later "
            f"period (Brier {check.brier_before:.4f} before, {check.brier:.4f} after): use them "
            "to rank customers, not as chances, and read the expected churners and revenue at "
            "risk as rough.",
            "ranking_only",
        )
    if check.brier >= check.brier_constant:
        return Finding(
            "CH-5",
            f"{whose} probabilities are no closer to what happened on the later period than "
            f"always forecasting the average churn rate (Brier {check.brier:.4f} against "
            f"{check.brier_constant:.4f}): use them to rank customers, not as chances.",
            "ranking_only",
        )
    if check.mean_gap > CALIBRATION_TOLERANCE:
        return Finding(
            "CH-6",
            f"{whose} probabilities were off by {100 * check.mean_gap:.1f} points on average "
            "against what happened on the later period (more than "
            f"{100 * CALIBRATION_TOLERANCE:.0f}): use them to rank customers, and read the "
            "expected churners and revenue at risk as rough.",
            "ranking_only",
        )
    return Finding(
        "CH-7",
        f"{whose} probabilities matched what happened on the later period (off by "
        f"{100 * check.mean_gap:.1f} points on average; Brier {check.brier:.4f} against "
        f"{check.brier_constant:.4f} for always forecasting the average churn rate): they can be "
        "read at face value, so the expected number of churners in a group is the sum of their "
        "probabilities.",
        "face_value",
    )


def readout_finding(r: HoldoutReadout) -> Finding:
    """CH-8..CH-14: what the previous list's holdout says about the last campaign."""
    if r.status == "none":
        return Finding(
            "CH-8",
            "There is no earlier at-risk list in data/exports, so there is no campaign to read "
            "out yet.",
            "no_previous_list",
        )
    if r.status == "unusable":
        return Finding(
            "CH-9",
            f"The earlier at-risk list in data/exports cannot be read out: {md_escape(r.note)}. "
            "The list written now has the columns the next run needs.",
            "unreadable",
        )
    since = f"the list of {r.listed_on}"
    if r.status == "too_early":
        return Finding(
            "CH-10",
            f"The earlier at-risk list is dated {r.listed_on}, the analysis date itself, so "
            "nobody on it could have come back yet.",
            "too_early",
        )
    if min(r.contacted, r.held_out) < MIN_READOUT_GROUP:
        return Finding(
            "CH-11",
            f"The earlier at-risk list ({r.listed_on}) had {r.contacted:,} contacted and "
            f"{r.held_out:,} held-out customers; at least {MIN_READOUT_GROUP} of each are needed "
            "to compare how many came back.",
            "too_few",
        )
    percent = round(r.confidence * 100)
    rates = md_escape(
        f"{100 * r.contacted_rate:.1f}% of {r.contacted:,} contacted and "
        f"{100 * r.held_out_rate:.1f}% of {r.held_out:,} held out ordered again in the "
        f"{r.days} days since {since}"
    )
    effect = (
        f"{_points(r.difference)} points ({percent}% interval {_points(r.low)} to "
        f"{_points(r.high)})"
    )
    if r.low > 0:
        return Finding(
            "CH-12",
            f"{rates[0].upper() + rates[1:]}: {effect}. If the list was sent, the campaign "
            "brought customers back who would not have returned without it.",
            "campaign_worked",
        )
    if r.high < 0:
        return Finding(
            "CH-13",
            f"{rates[0].upper() + rates[1:]}: {effect}. The contacted came back less often than "
            "the customers left alone, so the campaign may have put people off.",
            "campaign_backfired",
        )
    return Finding(
        "CH-14",
        f"{rates[0].upper() + rates[1:]}: {effect}, an interval that includes no difference. "
        "The campaign's effect on returning cannot be told apart from none yet.",
        "no_clear_effect",
    )


VERDICT_LABELS = {
    "model": "Rank the at-risk list by the churn model",
    "recency": "Rank the at-risk list by recency alone",
    "bgnbd": "Rank the at-risk list by BG/NBD",
}


def decide(evidence: ChurnEvidence) -> Decision:
    """The churn report's decision (docs/decisions.md, "Churn prediction", CH-1..CH-14).

    Three parts, each the first row that holds: which ranking the list follows (CH-1..3),
    whether its probabilities may be read at face value (CH-4..7), and what the previous
    list's holdout says (CH-8..14). Verdict "model_list" or "baseline_list".
    """
    ranking = list_finding(evidence.edge, evidence.baseline)
    chances = probability_finding(evidence.calibration[ranking.outcome], ranking.outcome)
    readout = readout_finding(evidence.readout)
    export, plan = md_escape(evidence.export), md_escape(evidence.actions_export)
    if evidence.list_size == 0:
        step = (
            "Nobody is on the at-risk list this time; there is nothing to send, and "
            f"{plan} gives no retention action from this report."
        )
    else:
        joined = (
            f"A full run of the reports joins the {evidence.list_size:,} customers in {export} "
            f"into {plan}, the one CRM plan, where each customer gets exactly one recommended "
            "action. Give the CRM team that file this week, not the at-risk list alone: "
        )
        if evidence.held_out == 0:
            step = joined + (
                "every listed customer gets a retention action (rules CA-2 and CA-3). No "
                "holdout is kept (holdout\\_share is 0), so the next run cannot measure what "
                "the campaign brought back."
            )
        else:
            step = joined + (
                f"the {evidence.list_size - evidence.held_out:,} customers not marked holdout "
                f"get a retention action (rules CA-2 and CA-3), and the {evidence.held_out:,} "
                "marked holdout get no contact (rule CA-1), so the next run can measure what "
                "the campaign brought back."
            )
    if readout.outcome == "campaign_backfired" and evidence.list_size:
        step = "Review what the last campaign sent before sending again. " + step
    return Decision(
        report="churn",
        verdict="model_list" if ranking.outcome == "model" else "baseline_list",
        label=VERDICT_LABELS[ranking.outcome],
        reason=" ".join(f.sentence for f in (ranking, chances, readout)),
        next_step=step,
        rule=", ".join(f.rule for f in (ranking, chances, readout)),
    )


__all__ = [
    "NON_MODEL_COLUMNS",
    "AucDifference",
    "CalibrationCheck",
    "ChurnEvidence",
    "Finding",
    "HoldoutReadout",
    "TimeSplit",
    "align_features",
    "assign_holdout",
    "at_risk_export",
    "at_risk_list",
    "auc_difference",
    "baseline_probability",
    "baseline_score",
    "baselines",
    "best_baseline",
    "calibration_check",
    "decide",
    "holdout_readout",
    "list_finding",
    "load_export",
    "probability_finding",
    "readout_finding",
    "within_recency",
    "build_features",
    "build_labels",
    "drivers",
    "evaluate",
    "export_at_risk",
    "gains_table",
    "inter_purchase_days",
    "model_matrix",
    "predict_churn",
    "predict_uncalibrated",
    "revenue_at_risk",
    "suggest_horizon",
    "time_split",
    "train_model",
    "value_over_horizon",
]
