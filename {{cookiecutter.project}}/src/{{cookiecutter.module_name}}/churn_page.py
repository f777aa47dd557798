"""The churn page: the tables, charts and sentences the churn report shows.

The notebook computes with ``churn`` (features, model, baselines, lists, the decision) and
calls these functions to show the result; every sentence is built here from the computed values
and unit-tested (``tests/test_churn_page.py``), each choosing its wording from those values.
The rules behind the ranking, probability and readout sentences are ``churn.list_finding``,
``churn.probability_finding`` and ``churn.readout_finding`` (docs/decisions.md, "Churn
prediction"); this module shows their sentences and reads their outcomes, never repeats them.

- Evidence: ``grade`` (model against the better baseline), ``check_calibration``,
  ``score_today`` (today's probabilities, values and lists), ``lifetime_value``.
- Tables: ``split_table``, ``quality_table``, ``value_table``.
- Charts: ``horizon_chart``, ``timeline_chart``, ``ranking_chart``, ``calibration_chart``,
  ``risk_band_chart``, ``drivers_chart``.
- Sentences: ``horizon_sentence``, ``split_sentence``, ``ranking_points``,
  ``probability_points``, ``risk_points``, ``driver_points``, ``export_sentence``,
  ``executive_points``.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import ibis
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from . import churn, plots
from .actions import ACTIONS_FILE, AT_RISK_FILE
from .decisions import Decision
from .errors import UserError
from .formats import format_money, format_pct, md_escape

EXPORT = f"data/exports/{AT_RISK_FILE}"  # the at-risk list (never shown on a page)
ACTIONS_EXPORT = f"data/exports/{ACTIONS_FILE}"  # the one CRM plan built from it
CLV_DAYS = 365  # customer lifetime value is shown over the next 12 months
DRIVER_ROWS = 3_000  # graded customers sampled for the drivers (x 3 shuffles: a stable ranking)
DRIVER_REPEATS = 3
SPEND_LINK_CAVEAT = 0.3  # |Spearman| of orders vs spend per order that breaks Gamma-Gamma
MONEY_SITS_ELSEWHERE = 0.5  # the likeliest churners hold under half the value list's risk
MODEL_NAMES = {
    "hist_gradient_boosting": "gradient boosting",
    "logistic": "logistic regression",
}
FLAG_RULES = {
    "value": "the most revenue at risk",
    "probability": "the highest churn probability",
}
# Plain names of the model's inputs, for the drivers chart.
SIGNALS = {
    "recency_days": "Days since last order",
    "frequency": "Orders placed",
    "monetary": "Total net spend",
    "avg_order_value": "Average order value",
    "tenure_days": "Days since first order",
    "ipt_mean_days": "Usual days between orders",
    "ipt_std_days": "Irregularity of orders",
    "orders_last_90d": "Orders in the last 90 days",
    "order_trend_per_30d": "Order trend (recent vs earlier)",
    "discount_share": "Share of spend on discount",
    "refund_rate": "Share of orders refunded",
    "sessions_30d": "Visits in the last 30 days",
    "add_to_cart_rate_30d": "Add-to-cart rate (30 days)",
    "days_since_last_session": "Days since last visit",
}
BANDS = [0, 0.2, 0.4, 0.6, 0.8, 1.0]
BAND_LABELS = ["0-20%", "20-40%", "40-60%", "60-80%", "80-100%"]
SESSION_WARNING = "Session features"  # churn.time_split's warning when visits are left out


def money(value: float, currency: str) -> str:
    """Money for Markdown text: a bare "$" pair would be read as a formula and eat the text."""
    return md_escape(format_money(value, currency))


def pct(value: float) -> str:
    """A share as the page writes it: whole percent from 10%, one decimal below."""
    return format_pct(value, 0 if value >= 0.1 else 1)


def _share(part: float, whole: float) -> float:
    return part / whole if whole > 0 else 0.0


# ------------------------------------------------------------------------- parameters, data


def check_parameters(*, horizon_days: int, flag_by: str, holdout_share: float) -> None:
    """The page's own parameters (the package checks the others where it uses them)."""
    if horizon_days < 0:
        raise UserError(
            f"horizon_days must be a number of days >= 0 (0: suggested); got {horizon_days}."
        )
    if flag_by not in FLAG_RULES:
        raise UserError(f"flag_by must be one of {', '.join(FLAG_RULES)}; got {flag_by!r}.")
    if not 0 <= holdout_share < 1:
        raise UserError(f"holdout_share must be from 0 to below 1 (e.g. 0.1); got {holdout_share}.")


def quietly(call: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, list[str]]:
    """Run a package call; its messages for the reader (UserWarning) are returned, to be shown
    in plain words, and library deprecation notices are kept out of the report."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        result = call(*args, **kwargs)
    return result, [str(w.message) for w in caught if w.category is UserWarning]


def steady(features: pd.DataFrame) -> pd.DataFrame:
    """Features rounded to 6 decimals, so the same data always gives the same model.

    The engine adds floats in a thread-dependent order, so sums differ in the 12th digit from
    run to run, and gradient boosting can split differently on such a difference. Amounts are in
    cents and durations in days, so 6 decimals lose nothing.
    """
    return features.round(6)


def steady_split(split: churn.TimeSplit) -> churn.TimeSplit:
    """``split`` with its training and evaluation features rounded by :func:`steady`."""
    return replace(
        split,
        features_train=steady(split.features_train),
        features_eval=steady(split.features_eval),
    )


# ---------------------------------------------------------------------------------- horizon


def share_within(gaps: pd.DataFrame, horizon: int) -> float:
    """Share of repeat purchases that came within ``horizon`` days (``inter_purchase_days``)."""
    total = gaps["repeat_purchases"].sum()
    within = gaps.loc[gaps["gap_days"] <= horizon, "repeat_purchases"].sum()
    return float(within / total) if total else 0.0


def horizon_chart(gaps: pd.DataFrame, horizon: int) -> plt.Figure:
    """Cumulative share of repeat purchases by days to the next one, the horizon marked."""
    within = gaps.assign(share=gaps["repeat_purchases"].cumsum() / gaps["repeat_purchases"].sum())
    shown = within[within["gap_days"] <= max(3 * horizon, 90)]
    share = share_within(gaps, horizon)
    fig, ax = plt.subplots()
    ax.plot(shown["gap_days"], shown["share"], color=plots.PALETTE[0], linewidth=2.5)
    ax.axvline(horizon, color=plots.PALETTE[1], linestyle="--", linewidth=2)
    ax.annotate(
        f"horizon: {horizon} days\n{pct(share)} of repeat purchases came sooner",
        xy=(horizon, share),
        xytext=(12, -40),
        textcoords="offset points",
        fontsize=10,
        color=plots.PALETTE[1],
    )
    ax.set_title("How long do customers take to come back?")
    ax.set_xlabel("Days between a purchase and the customer's next one")
    ax.set_ylabel("Share of repeat purchases (cumulative)")
    ax.set_ylim(0, 1.02)
    plots.pct_axis(ax)
    return fig


def horizon_sentence(
    suggestion: str,
    *,
    horizon: int,
    suggested_days: int,
    set_by_parameter: bool,
    max_recency_days: int,
) -> str:
    """What "churned" means here: the data's suggestion, the horizon used and who is left out.

    Wording: names the ``horizon_days`` parameter only when it overrode the suggestion, and the
    ``max_recency_days`` cut only when it is on (0 keeps every customer).
    """
    if set_by_parameter and horizon != suggested_days:
        chosen = (
            f"This report uses **{horizon} days**, set by the `horizon_days` parameter "
            f"(the data suggests {suggested_days} days)."
        )
    elif set_by_parameter:
        chosen = f"This report uses **{horizon} days**, set by `horizon_days` as the data suggests."
    else:
        chosen = f"This report uses the suggested **{horizon} days**."
    text = (
        f"{suggestion}\n\n{chosen} **Churned** therefore means: no order in the {horizon} days "
        "after the date the customer is scored."
    )
    if max_recency_days:
        text += (
            f" Customers silent for more than {max_recency_days} days before that date count as "
            "already lost and are left out (`max_recency_days`)."
        )
    return text


# ------------------------------------------------------------------------------ time split


def timeline_chart(split: churn.TimeSplit) -> plt.Figure:
    """Learn on the past, grade on a later period, then predict: the three churn windows."""
    step = pd.Timedelta(days=split.horizon_days)
    now = split.eval_cutoff + step  # the analysis date, in UTC
    history_start = split.train_cutoff - 2 * step
    rows = [
        ("Learn", split.train_cutoff, "learn"),
        ("Grade", split.eval_cutoff, "grade"),
        ("Use today", now, "predict"),
    ]
    fig, ax = plt.subplots(figsize=(9, 2.6))
    first = mdates.date2num(history_start)
    for y, (label, start, outcome) in enumerate(reversed(rows)):
        begin = mdates.date2num(start)
        ax.broken_barh([(first, begin - first)], (y - 0.3, 0.6), color=plots.PALETTE[5], alpha=0.45)
        colour = plots.PALETTE[1] if label == "Use today" else plots.PALETTE[0]
        ax.broken_barh([(begin, step.days)], (y - 0.3, 0.6), color=colour)
        ax.text(
            begin + step.days / 2,
            y,
            outcome,
            ha="center",
            va="center",
            color="white",
            fontsize=9,
            fontweight="bold",
        )
        ax.text(begin - 2, y, f"cutoff {start:%d %b}", ha="right", va="center", fontsize=9)
    ax.set_yticks(range(len(rows)), [r[0] for r in reversed(rows)])
    ax.xaxis.set_major_locator(mdates.MonthLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
    ax.set_title("Learn on the past, grade on a later period, then predict")
    ax.set_xlabel("Grey: orders that build the inputs (earlier history too); colour: churn window")
    ax.grid(axis="y", visible=False)
    return fig


def split_table(split: churn.TimeSplit) -> pd.DataFrame:
    """The two cutoffs: their churn windows, customers and churn rates."""
    step = pd.Timedelta(days=split.horizon_days)
    return pd.DataFrame(
        {
            "step": ["Learn (training)", "Grade (evaluation)"],
            "cutoff": [f"{split.train_cutoff:%d %b %Y}", f"{split.eval_cutoff:%d %b %Y}"],
            "churn window": [
                f"{split.train_cutoff:%d %b} to {split.eval_cutoff:%d %b %Y}",
                f"{split.eval_cutoff:%d %b} to {split.eval_cutoff + step:%d %b %Y}",
            ],
            "customers": [len(split.y_train), len(split.y_eval)],
            "churned": [float(split.y_train.mean()), float(split.y_eval.mean())],
        }
    )


def split_sentence(split: churn.TimeSplit, notes: Sequence[str] = ()) -> str:
    """The churn rate of the latest fully observed window, and what the split left out.

    ``notes``: the split's warnings; the sessions one is said in plain words, others as given.
    """
    rate = float(split.y_eval.mean())
    text = (
        f"In the latest fully observed window, **{pct(rate)} of {len(split.y_eval):,} "
        f"customers churned**: they placed no order in the {split.horizon_days} days after "
        f"{split.eval_cutoff:%d %b %Y}. A year-on-year or week-on-week change in this rate is "
        "the first thing to watch."
    )
    if any(SESSION_WARNING in note for note in notes):
        text += (
            " Website visits are not used: the sessions table does not reach back 30 days "
            "before the training cutoff, so engagement would look low only because data is "
            "missing."
        )
    text += "".join(f" Note: {md_escape(n)}" for n in notes if SESSION_WARNING not in n)
    return text


# ------------------------------------------------------------------ model against baselines


@dataclass(frozen=True)
class Grading:
    """The model and the two baselines graded on the evaluation cutoff's customers."""

    p_eval: pd.Series  # the model's churn probability per graded customer
    scores: dict[str, Any]  # churn.evaluate of the model
    rules: dict[str, Any]  # churn.baselines
    baseline: str  # the better baseline: "recency" or "bgnbd"
    edge: churn.AucDifference  # the model against that baseline
    ranking: churn.Finding  # CH-1..3: which ranking the list follows

    @property
    def scorer(self) -> str:
        """ "model", or the baseline the list is ranked by."""
        return self.ranking.outcome


def grade(fitted: Any, split: churn.TimeSplit) -> Grading:
    """Grade the model against recency and BG/NBD on the same customers and churn window.

    BG/NBD is fitted on every customer with an order by the cutoff (not only the recent ones).
    """
    p_eval = churn.predict_churn(fitted, split.features_eval)
    rules = churn.baselines(
        split.features_eval,
        split.y_eval,
        horizon_days=split.horizon_days,
        fit_on=split.features_eval_all,
    )
    baseline = churn.best_baseline(rules)
    edge = churn.auc_difference(
        split.y_eval, p_eval, churn.baseline_score(rules, baseline, split.features_eval)
    )
    return Grading(
        p_eval=p_eval,
        scores=churn.evaluate(split.y_eval, p_eval),
        rules=rules,
        baseline=baseline,
        edge=edge,
        ranking=churn.list_finding(edge, baseline),
    )


def grading_records(g: Grading) -> dict[str, Any]:
    """The headline values of the grading, by the names the run index reads, in page order."""
    edge = g.edge
    found = {
        "model_edge": {
            "value": edge.difference,
            "low": edge.low,
            "high": edge.high,
            "baseline": g.baseline,
        },
        "auc_roc": g.scores["roc_auc"],
        "auc_pr": g.scores["pr_auc"],
        "top_decile_lift": g.scores["top_decile_lift"],
        "baseline_auc_recency": g.rules["recency_auc"],
        "baseline_auc_bgnbd": g.rules["bgnbd_auc"],
    }
    fit = g.rules["bgnbd_params"]
    if fit is not None:
        found["bgnbd"] = {
            "r": fit.r,
            "alpha": fit.alpha,
            "a": fit.a,
            "b": fit.b,
            "time_unit": fit.time_unit,
        }
    return found


def candidates(g: Grading, split: churn.TimeSplit, model: str) -> dict[str, pd.Series]:
    """The rankings compared, by their page name. Recency as a 0-1 score (its rank), so it gets
    the same gains table; ranks leave the AUC unchanged."""
    found = {
        f"Churn model ({MODEL_NAMES.get(model, model)})": g.p_eval,
        "Recency alone": split.features_eval["recency_days"].rank(pct=True),
    }
    if g.rules["bgnbd_auc"] is not None:
        found["BG/NBD: no order in the horizon"] = g.rules["bgnbd_p_no_purchase"]
    return found


def quality_table(y_eval: pd.Series, rankings: Mapping[str, pd.Series]) -> pd.DataFrame:
    """ROC-AUC, PR-AUC, top-decile lift and churners caught per ranking, and a random order."""
    graded = {name: churn.evaluate(y_eval, p) for name, p in rankings.items()}
    return pd.DataFrame(
        {
            "method": [*graded, "Random order (for reference)"],
            "ROC-AUC": [g["roc_auc"] for g in graded.values()] + [0.5],
            "PR-AUC": [g["pr_auc"] for g in graded.values()] + [float(y_eval.mean())],
            "top-decile lift": [g["top_decile_lift"] for g in graded.values()] + [1.0],
            "churners in the riskiest 10%": [
                g["gains"]["cumulative_share_of_churners"].iloc[0] for g in graded.values()
            ]
            + [0.1],
        }
    )


def ranking_chart(y_eval: pd.Series, rankings: Mapping[str, pd.Series]) -> plt.Figure:
    """ROC curves and gains curves of the rankings, side by side."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    for colour, (name, p) in zip(plots.PALETTE, rankings.items(), strict=False):
        graded = churn.evaluate(y_eval, p)
        false_alarms, caught, _ = roc_curve(y_eval, p)
        axes[0].plot(
            false_alarms, caught, color=colour, label=f"{name} (AUC {graded['roc_auc']:.2f})"
        )
        gains = graded["gains"]
        axes[1].plot(
            np.r_[0, gains["cumulative_share_of_customers"]],
            np.r_[0, gains["cumulative_share_of_churners"]],
            color=colour,
            marker="o",
            markersize=4,
            label=name,
        )
    for ax in axes:
        ax.plot([0, 1], [0, 1], color=plots.PALETTE[5], linestyle=":", label="Random order")
        plots.pct_axis(ax, axis="x")
        plots.pct_axis(ax, axis="y")
        ax.legend(frameon=False, fontsize=9, loc="lower right")
    axes[0].set_title("ROC: churners caught vs false alarms")
    axes[0].set_xlabel("Customers who stayed but were flagged")
    axes[0].set_ylabel("Churners flagged")
    axes[1].set_title("Gains: contact the riskiest first")
    axes[1].set_xlabel("Share of customers contacted, riskiest first")
    axes[1].set_ylabel("Share of all churners reached")
    return fig


def ranking_points(g: Grading) -> str:
    """What the comparison means: the CH-1..3 sentence, and why BG/NBD is missing if it is."""
    lines = [f"- {g.ranking.sentence}"]
    if g.rules["bgnbd_auc"] is None:
        lines.append(f"- {md_escape(g.rules['bgnbd_note'])}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ calibration


@dataclass(frozen=True)
class Calibration:
    """How close each ranking's probabilities came to what happened on the evaluation cutoff."""

    method: str  # the calibration parameter: isotonic, sigmoid or none
    checks: dict[str, churn.CalibrationCheck]  # per scorer: "model", "recency", "bgnbd"
    scores: dict[str, Any]  # churn.evaluate of the calibrated model
    raw_scores: dict[str, Any]  # churn.evaluate of the model before its calibration step


def check_calibration(
    fitted: Any, split: churn.TimeSplit, g: Grading, *, method: str
) -> Calibration:
    """Calibration checks of the model (with its scores before calibration) and the baselines."""
    raw = churn.predict_uncalibrated(fitted, split.features_eval)
    p_raw = g.p_eval if raw is None else raw
    checks = {"model": churn.calibration_check(split.y_eval, g.p_eval, raw)}
    for name in ("recency", "bgnbd") if g.rules["bgnbd_auc"] is not None else ("recency",):
        checks[name] = churn.calibration_check(
            split.y_eval,
            churn.baseline_probability(
                name,
                horizon_days=split.horizon_days,
                features=split.features_eval,
                fit_on=split.features_eval_all,
                train_features=split.features_train,
                y_train=split.y_train,
            ),
        )
    return Calibration(method, checks, g.scores, churn.evaluate(split.y_eval, p_raw))


def calibration_chart(cal: Calibration) -> plt.Figure:
    """Predicted against observed churn in ten groups, before and after calibration."""
    fig, ax = plt.subplots(figsize=(6.2, 5.2))
    ax.plot([0, 1], [0, 1], color=plots.PALETTE[5], linestyle=":", label="Perfect calibration")
    curves = [(f"Calibrated ({cal.method})", cal.scores, plots.PALETTE[0])]
    if cal.method != "none":
        curves.append(("Before calibration", cal.raw_scores, plots.PALETTE[1]))
    for label, result, colour in curves:
        points = result["calibration"]
        ax.plot(
            points["predicted"],
            points["observed"],
            marker="o",
            color=colour,
            label=f"{label}: Brier {result['brier']:.4f}",
        )
    ax.set_title("Predicted vs observed churn (10 groups)")
    ax.set_xlabel("Predicted churn probability")
    ax.set_ylabel("Share who actually churned")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    plots.pct_axis(ax, axis="x")
    plots.pct_axis(ax, axis="y")
    ax.legend(frameon=False, fontsize=9, loc="upper left")
    return fig


def probability_points(checks: Mapping[str, churn.CalibrationCheck], scorer: str) -> str:
    """The CH-4..7 sentence for the model, and for the baseline when it ranks the list."""
    shown = ["model"] if scorer == "model" else ["model", scorer]
    return "\n".join(f"- {churn.probability_finding(checks[s], s).sentence}" for s in shown)


def face_value(checks: Mapping[str, churn.CalibrationCheck], scorer: str) -> bool:
    """Whether the probabilities pricing the list may be read as chances (rule CH-7)."""
    return churn.probability_finding(checks[scorer], scorer).outcome == "face_value"


# ------------------------------------------------------------------------------------ today


@dataclass(frozen=True)
class Today:
    """Today's customers scored by the chosen ranking, their values and the two lists."""

    current: pd.DataFrame  # features of the customers the list is drawn from
    p_now: pd.Series  # churn probability (of the chosen ranking)
    value_now: pd.Series  # value over the horizon if they stay
    lists: dict[str, pd.DataFrame]  # "value" and "probability": churn.at_risk_list each
    flag_by: str
    horizon: int
    scorer: str

    @property
    def risk_now(self) -> pd.Series:
        return self.p_now * self.value_now

    @property
    def flagged(self) -> pd.DataFrame:
        return self.lists[self.flag_by]

    @property
    def customers(self) -> int:
        return len(self.p_now)

    @property
    def expected_churners(self) -> float:
        return float(self.p_now.sum())

    @property
    def total_at_risk(self) -> float:
        return float(self.risk_now.sum())

    @property
    def revenue_at_risk(self) -> float:
        return float(self.flagged["value_at_risk"].sum())

    @property
    def share_at_risk(self) -> float:
        return _share(self.revenue_at_risk, self.total_at_risk)


def score_today(
    orders: ibis.Table,
    *,
    sessions: ibis.Table | None,
    split: churn.TimeSplit,
    fitted: Any,
    scorer: str,
    min_history_days: int,
    max_recency_days: int | None,
    at_risk_size: int,
    flag_by: str,
) -> Today:
    """Score today's customers (inputs from orders up to the analysis date) with ``scorer``.

    Without a clear edge the baseline scores them (rule in docs/decisions.md): BG/NBD fitted
    on every current customer, or recency through its isotonic probabilities. Two lists of
    ``at_risk_size``: the most revenue at risk (stable sort over the customer-id order, so ties
    are deterministic) and the highest churn probability.
    """
    horizon = split.horizon_days
    now = split.eval_cutoff + pd.Timedelta(days=horizon)
    current_all, _ = quietly(
        churn.build_features,
        orders,
        cutoff=now,
        sessions=sessions,
        min_history_days=min_history_days,
    )
    current_all = steady(current_all)
    current = churn.within_recency(current_all, max_recency_days, cutoff=now)
    if scorer == "model":
        p_now = churn.predict_churn(fitted, current)
    else:
        p_now = churn.baseline_probability(
            scorer,
            horizon_days=horizon,
            features=current,
            fit_on=current_all,
            train_features=split.features_train,
            y_train=split.y_train,
        )
    value_now = churn.value_over_horizon(current, horizon_days=horizon)
    most_at_stake = (p_now * value_now).sort_values(ascending=False, kind="stable")
    lists = {
        "value": churn.at_risk_list(
            p_now.loc[most_at_stake.index[:at_risk_size]], value_now, threshold=0.0
        ),
        "probability": churn.at_risk_list(p_now, value_now, top_n=at_risk_size),
    }
    return Today(current, p_now, value_now, lists, flag_by, horizon, scorer)


def today_records(today: Today) -> dict[str, Any]:
    """The headline values of today's scoring, by the names the run index reads."""
    return {
        "predicted_churn_rate": _share(today.expected_churners, today.customers),
        "revenue_at_risk": today.revenue_at_risk,
        "customers_flagged": len(today.flagged),
    }


def risk_band_chart(today: Today, currency: str) -> plt.Figure:
    """Revenue at risk by churn-probability band, with the customers in each."""
    bands = pd.cut(today.p_now, bins=BANDS, labels=BAND_LABELS, include_lowest=True)
    by_band = (
        pd.DataFrame({"band": bands, "customers": 1, "at_risk": today.risk_now})
        .groupby("band", observed=False)
        .sum()
    )
    fig, ax = plt.subplots()
    bars = ax.bar(by_band.index.astype(str), by_band["at_risk"], color=plots.PALETTE[0])
    for bar, customers in zip(bars, by_band["customers"], strict=True):
        ax.annotate(
            f"{customers:,} customers",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            fontsize=9,
        )
    ax.set_title(f"Revenue at risk over the next {today.horizon} days, by churn probability")
    ax.set_xlabel("Predicted churn probability")
    ax.set_ylabel(f"Expected revenue lost ({currency})")
    plots.money_axis(ax, currency)
    ax.margins(y=0.15)
    return fig


def lifetime_value(today: Today) -> tuple[pd.Series | None, str]:
    """12-month value per customer (BG/NBD x Gamma-Gamma), or None and why it cannot be had."""
    try:
        value = churn.value_over_horizon(
            today.current, horizon_days=CLV_DAYS, method="bgnbd_gamma_gamma"
        )
    except ValueError as error:
        return None, str(error)
    return value, ""


def value_table(today: Today, clv: pd.Series | None) -> pd.DataFrame:
    """Both lists and all current customers: probability, value, revenue at risk, CLV."""
    groups = {
        f"{len(today.lists['value']):,} with the most revenue at risk": today.lists["value"][
            "customer_id"
        ],
        f"{len(today.lists['probability']):,} most likely to churn": today.lists["probability"][
            "customer_id"
        ],
        "All current customers": today.p_now.index,
    }
    risk = today.risk_now
    table = pd.DataFrame(
        {
            "customers": [len(ids) for ids in groups.values()],
            "avg churn probability": [today.p_now.loc[ids].mean() for ids in groups.values()],
            f"value if they stay ({today.horizon} days)": [
                today.value_now.loc[ids].sum() for ids in groups.values()
            ],
            "revenue at risk": [risk.loc[ids].sum() for ids in groups.values()],
            "% of all revenue at risk": [
                _share(risk.loc[ids].sum(), risk.sum()) for ids in groups.values()
            ],
        },
        index=list(groups),
    )
    if clv is not None:
        table["12-month CLV per customer"] = [clv.loc[ids].mean() for ids in groups.values()]
    return table.rename_axis("customers flagged").reset_index()


def money_columns(table: pd.DataFrame) -> list[str]:
    """The columns of ``value_table`` written as money."""
    return [c for c in table.columns if c.startswith(("value", "revenue", "12-month"))]


def risk_points(
    today: Today,
    clv: pd.Series | None,
    clv_note: str,
    *,
    currency: str,
    face_value: bool,
) -> str:
    """What today's scoring means: expected churners, the list's share of the money, where the
    money sits and the 12-month value.

    Wording: the expected churners are "expected" only when the probabilities pricing the list
    passed the calibration check (``face_value``), else a rough figure; "mostly gone already"
    only when the likeliest churners' mean silence exceeds the horizon; the Gamma-Gamma caveat
    only when orders and spend per order are linked (``SPEND_LINK_CAVEAT``).
    """
    flagged, horizon, n = today.flagged, today.horizon, today.customers
    other = "probability" if today.flag_by == "value" else "value"
    risk_of = {name: float(t["value_at_risk"].sum()) for name, t in today.lists.items()}
    churners = f"{today.expected_churners:,.0f} of today's {n:,} customers"
    share = pct(_share(today.expected_churners, n))
    total = money(today.total_at_risk, currency)
    if face_value:
        first = (
            f"We expect about **{churners}** ({share}) to place no order in the next {horizon} "
            f"days; together they put {total} of the next {horizon} days' revenue at risk."
        )
    else:
        first = (
            f"Read as chances, the probabilities would put about **{churners}** ({share}) at no "
            f"order in the next {horizon} days and {total} of the next {horizon} days' revenue "
            "at risk; they did not pass the calibration check above, so read both figures as "
            "rough."
        )
    lines = [
        first,
        f"The at-risk list holds the **{len(flagged):,} customers with "
        f"{FLAG_RULES[today.flag_by]}**: **{money(today.revenue_at_risk, currency)} at risk** "
        f"({pct(today.share_at_risk)} of the total). The {len(today.lists[other]):,} with "
        f"{FLAG_RULES[other]} would hold {money(risk_of[other], currency)}.",
    ]
    if risk_of["probability"] < MONEY_SITS_ELSEWHERE * risk_of["value"]:
        likeliest = today.current.loc[today.lists["probability"]["customer_id"]]
        silent = float(likeliest["recency_days"].mean())
        gone = (
            "they are mostly gone already and spend little"
            if silent > horizon
            else ("they spend little")
        )
        lines.append(
            f"The customers most likely to churn have placed {likeliest['frequency'].mean():.1f} "
            f"orders on average, the last one {silent:.0f} days ago: {gone}. The money at risk "
            "sits with valuable customers at moderate risk"
            + (
                ", which is why the list ranks by revenue at risk."
                if today.flag_by == "value"
                else ": set `flag_by` to value for a list where the money is."
            )
        )
    lines += _lifetime_points(today, clv, clv_note, currency)
    return "\n".join(f"- {line}" for line in lines)


def _lifetime_points(today: Today, clv: pd.Series | None, note: str, currency: str) -> list[str]:
    if clv is None:
        return [f"The 12-month value could not be estimated: {md_escape(note)}"]
    flagged = clv.loc[today.flagged["customer_id"]]
    lines = [
        f"Over the next 12 months the flagged customers are expected to spend "
        f"{money(flagged.sum(), currency)} ({money(flagged.mean(), currency)} each on average, "
        f"BG/NBD x Gamma-Gamma), {pct(_share(flagged.sum(), clv.sum()))} of what the whole base "
        f"is expected to spend ({money(clv.sum(), currency)})."
    ]
    repeaters = today.current[today.current["bgnbd_x"] > 0]
    link = repeaters["bgnbd_x"].corr(repeaters["bgnbd_mean_repeat_spend"], method="spearman")
    if np.isfinite(link) and abs(link) >= SPEND_LINK_CAVEAT:
        lines.append(
            "Caveat: Gamma-Gamma assumes that how much customers spend per order does not "
            "depend on how often they order; here the two are linked (Spearman correlation "
            f"{link:.2f}), so read the 12-month value as a rough guide."
        )
    return lines


# ---------------------------------------------------------------------------------- drivers


def driver_records(why: pd.DataFrame) -> list[dict[str, Any]]:
    """The drivers as the run index reads them: feature and importance, strongest first."""
    return [
        {"feature": f, "importance": i}
        for f, i in zip(why["feature"], why["importance"], strict=True)
    ]


def drivers_chart(why: pd.DataFrame) -> plt.Figure:
    """Importance of each signal (drop in ROC-AUC when shuffled), coloured by direction."""
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(why) + 1.6))
    colours = [
        plots.PALETTE[3] if d > 0 else plots.PALETTE[2] if d < 0 else plots.PALETTE[5]
        for d in why["direction"]
    ]
    labels = [SIGNALS.get(f, f.replace("_", " ").capitalize()) for f in why["feature"]]
    ax.barh(
        labels[::-1],
        why["importance"].iloc[::-1],
        xerr=why["importance_std"].iloc[::-1],
        color=colours[::-1],
    )
    ax.set_title("What the model relies on (red: raises risk, green: lowers it)")
    ax.set_xlabel("Drop in ROC-AUC when the signal is shuffled")
    return fig


def driver_points(why: pd.DataFrame) -> str:
    """The signals in plain words, strongest first (or that none stands out)."""
    if not len(why):
        return "No single signal stands out: shuffling any one of them barely changes the ranking."
    return "\n".join(f"{i + 1}. {s}" for i, s in enumerate(why["sentence"]))


def strongest_signal(why: pd.DataFrame) -> str:
    """The executive summary's line on the strongest signal."""
    if not len(why):
        return "No single signal stands out."
    top = why["sentence"].iloc[0]
    return f"Strongest signal: {top[0].lower()}{top[1:]}"


# ----------------------------------------------------------------------------------- export


def export_sentence(exported: pd.DataFrame, written: Path, target: Path) -> str:
    """What was saved, and how it reaches the CRM team: through the customer-actions export.

    Wording: under the runner the list is ``written`` to the run's staging folder (``written``
    is not ``target``), and only a full run that succeeds publishes it and builds the customer
    actions from it; run on its own (JupyterLab), the list is saved in place and the next full
    run builds the customer actions from it. Either way ``customer_actions.csv`` is named as
    the file the CRM team works from.
    """
    held = int(exported["holdout"].sum()) if "holdout" in exported else 0
    name = f"`data/exports/{Path(target).name}`"  # a code span shows its text as written
    plan = f"`{ACTIONS_EXPORT}`"
    what = (
        f"**{len(exported):,} customers** (customer id, rank, churn probability, value if they "
        "stay, revenue at risk, holdout flag)"
    )
    marked = (
        f"{held:,} of them are marked `holdout`"
        if held
        else "none of them is held out (`holdout_share` is 0)"
    )
    if Path(written).resolve() != Path(target).resolve():
        saved = (
            f"This run wrote {what} for {name}; {marked}. Only a full run of the reports that "
            f"succeeds publishes the list there and joins it into {plan}"
        )
    else:
        saved = (
            f"Saved {what} to {name} in the project folder; {marked}. The next full run of the "
            f"reports joins the list into {plan}"
        )
    listed = (
        "a retention action for the listed customers not held out and no contact for the "
        "holdout (rules CA-1 to CA-3"
        if held
        else "a retention action for every listed customer (rules CA-2 and CA-3"
    )
    return (
        f"{saved}, which gives each customer exactly one recommended action: {listed} in "
        "`docs/decisions.md`; customers not on the list keep their segment's action, CA-4). "
        "That file, not the at-risk list alone, is what the CRM team works from."
    )


# ---------------------------------------------------------------------------------- summary


def summary_title(day: dt.date, horizon: int) -> str:
    return f"Churn risk as of {day:%d %b %Y} ({horizon}-day horizon)"


def executive_points(
    *,
    churn_rate: float,
    today: Today,
    face_value: bool,
    ranking: churn.Finding,
    why: pd.DataFrame,
    readout: churn.Finding,
    currency: str,
) -> list[str]:
    """The executive summary's points; the expected churners hedged as in :func:`risk_points`."""
    horizon, n = today.horizon, today.customers
    expected = (
        f"{today.expected_churners:,.0f} of today's {n:,} customers "
        f"({pct(_share(today.expected_churners, n))})"
    )
    first = f"{pct(churn_rate)} of customers churned in the last complete {horizon}-day window; "
    if face_value:
        first += f"we expect {expected} to place no order in the next {horizon} days."
    else:
        first += (
            f"roughly {expected} may place no order in the next {horizon} days (a rough "
            "figure: the probabilities did not pass the calibration check)."
        )
    return [
        first,
        ranking.sentence,
        f"The {len(today.flagged):,} customers with {FLAG_RULES[today.flag_by]} put "
        f"{money(today.revenue_at_risk, currency)} of the next {horizon} days' revenue at risk "
        f"({pct(today.share_at_risk)} of the {money(today.total_at_risk, currency)} at risk "
        "in all).",
        strongest_signal(why),
        readout.sentence,
    ]


def summary_decision(decision: Decision) -> str:
    """The decision line under the executive summary: verdict and next step."""
    return f"{decision.label}. {decision.next_step}"


__all__ = [
    "ACTIONS_EXPORT",
    "EXPORT",
    "Calibration",
    "Grading",
    "Today",
    "calibration_chart",
    "candidates",
    "check_calibration",
    "check_parameters",
    "driver_points",
    "driver_records",
    "drivers_chart",
    "executive_points",
    "export_sentence",
    "face_value",
    "grade",
    "grading_records",
    "horizon_chart",
    "horizon_sentence",
    "lifetime_value",
    "money_columns",
    "probability_points",
    "quality_table",
    "quietly",
    "ranking_chart",
    "ranking_points",
    "risk_band_chart",
    "risk_points",
    "score_today",
    "share_within",
    "split_sentence",
    "split_table",
    "steady",
    "steady_split",
    "strongest_signal",
    "summary_decision",
    "summary_title",
    "timeline_chart",
    "today_records",
    "value_table",
]
