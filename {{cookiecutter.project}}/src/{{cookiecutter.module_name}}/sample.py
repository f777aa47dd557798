"""A synthetic shop that knows the truth it planted.

``write_sample(out, customers=10_000, seed=42)`` writes every contract table as Parquet (or CSV)
plus ``truth.json`` (every planted value) and ``truth_customer_types.parquet`` (the planted type
of each customer), so tests can prove that the analyses recover what was planted.

What is planted:
- customer types with distinct behaviour (purchase rate, basket size, discount use, dropout);
  purchases follow a BG/NBD-like process (Poisson purchases while alive, a dropout chance after
  each purchase), thinned by a yearly season with a Black-Friday peak and a weekly cycle;
- an A/B experiment in the last four weeks with a planted lift on conversion (and so on revenue
  per visitor), an unchanged guardrail (refund rate), sessions with funnel drop-off by device;
- a launch without an experiment (app order values +10% from a known date, web unchanged);
- a survey with known NPS per segment, Likert items with known top-2-box shares and Van
  Westendorp answers whose price points are known in closed form;
- a catalogue and competitor prices with a known price index, unmatched and outlier SKUs;
- a decision log of past launches whose measured effects are half the predicted ones, and a
  backlog (``backlog.csv``) with an item that leads only once its reach comes from the
  sessions, and one that overtakes another only once impact is calibrated by the log.

- for the weekly business review (own random stream, so every table above is unchanged): daily
  traffic by device and source with funnel steps (``traffic``), marketing spend by channel,
  fulfilment times and support contacts; planted: a conversion drop on mobile in one week (a
  checkout that fails to take the payment), conversion 8% lower in the last complete week, a
  channel whose CAC doubles, known conversion rates by device and CAC by channel.

Faults for tests: ``broken_split`` (the experiment's traffic split is not the planned 50/50),
``clean_weeks`` (the weekly tables without their planted anomalies: the false-alarm check).

Everything is vectorised with numpy so 1M customers / 10M orders fit in about a minute.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .errors import UserError

AS_OF = pd.Timestamp("2026-06-30 23:59:59")
HISTORY_DAYS = 730
EXPERIMENT_DAYS = 28
EXPERIMENT_ID = "checkout_redesign"
CATEGORIES = ("Apparel", "Home", "Electronics", "Beauty", "Outdoor")
CHANNELS = ("web", "app", "marketplace")
DEVICES = ("desktop", "mobile", "tablet")
SOURCES = ("organic", "paid_search", "email", "social", "direct")
FAULTS = ("broken_split", "clean_weeks")


@dataclass(frozen=True)
class CustomerType:
    """Planted behaviour of one customer type."""

    name: str
    share: float
    days_between_orders: float  # mean of the customer-level purchase interval while alive
    dropout: float  # chance of leaving after each purchase
    basket_median: float  # median gross order value
    discount_rate: float  # share of orders that use a 20% discount
    refund_rate: float
    channel_mix: tuple[float, float, float]
    category_mix: tuple[float, float, float, float, float]
    visit_rate: float  # chance of visiting during the experiment window when alive
    survey_segment: str


TYPES = (
    CustomerType(
        "loyal_high_value",
        0.12,
        12,
        0.01,
        250.0,
        0.04,
        0.02,
        (0.4, 0.55, 0.05),
        (0.15, 0.30, 0.35, 0.10, 0.10),
        0.95,
        "Repeat buyers",
    ),
    CustomerType(
        "regular",
        0.30,
        25,
        0.012,
        60.0,
        0.08,
        0.03,
        (0.6, 0.3, 0.1),
        (0.25, 0.30, 0.15, 0.20, 0.10),
        0.70,
        "Repeat buyers",
    ),
    CustomerType(
        "bargain_hunter",
        0.26,
        30,
        0.04,
        22.0,
        0.95,
        0.06,
        (0.3, 0.2, 0.5),
        (0.50, 0.10, 0.05, 0.30, 0.05),
        0.60,
        "Deal seekers",
    ),
    CustomerType(
        "one_off",
        0.32,
        150,
        0.90,
        45.0,
        0.03,
        0.04,
        (0.7, 0.1, 0.2),
        (0.20, 0.20, 0.20, 0.20, 0.20),
        0.25,
        "One-time buyers",
    ),
)

# Experiment: planted relative lift on the chance to convert during the window.
CONVERSION_LIFT = 0.12
REFUND_RATE_EXPERIMENT = 0.04  # same in both arms: the guardrail is planted unchanged
ADD_TO_CART_BY_DEVICE = {"desktop": 0.38, "mobile": 0.22, "tablet": 0.30}
VIEW_RATE = 0.75
CHECKOUT_GIVEN_CART = 0.55

# No-experiment launch: the app got a change four weeks before the end that lifts app order
# values by 10%; web is the comparison series (for the pre/post difference-in-differences).
PRE_POST_CHANNEL = "app"
PRE_POST_COMPARISON = "web"
PRE_POST_LIFT = 0.10
PRE_POST_LAUNCH_DAY = HISTORY_DAYS - EXPERIMENT_DAYS

# Survey: planted (promoter, detractor) probabilities per segment.
NPS_MIX = {
    "Repeat buyers": (0.62, 0.10),
    "Deal seekers": (0.38, 0.24),
    "One-time buyers": (0.28, 0.36),
}
LIKERT_ITEMS = {  # planted probabilities of answers 1..5
    "likert_easy_to_find": (0.05, 0.10, 0.20, 0.40, 0.25),
    "likert_value_for_money": (0.10, 0.20, 0.30, 0.25, 0.15),
    "likert_delivery_speed": (0.04, 0.08, 0.18, 0.35, 0.35),
}
# Van Westendorp: log-prices with a shared respondent factor -> ordered answers with
# LogNormal(mu_k, s) marginals, so every crossing is exp(mean of the two mus).
VW_MEDIANS = {
    "vw_too_cheap": 15.0,
    "vw_cheap": 25.0,
    "vw_expensive": 40.0,
    "vw_too_expensive": 60.0,
}
VW_SHARED_SD, VW_OWN_SD = 0.30, 0.05
VW_DISORDERED_SHARE = 0.04

# Competitor prices: own price = market price x planted index, competitors scatter around it.
PRICE_INDEX_MEDIAN = 1.04
PRICE_INDEX_SD = 0.06
COMPETITORS = ("Alpha Retail", "BetaMart", "Gamma Shop")
N_SKUS = 300
UNMATCHED_SHARE = 0.05
N_OUTLIER_SKUS = 3


def write_sample(
    out: str | Path,
    *,
    customers: int = 10_000,
    seed: int = 42,
    file_format: str = "parquet",
    faults: tuple[str, ...] = (),
    as_of: pd.Timestamp = AS_OF,
    experiment_visitors: int | None = None,
) -> dict[str, Any]:
    """Generate the sample shop into ``out`` and return the planted truth (also in truth.json).

    ``experiment_visitors`` sets how many customers enter the A/B test (default: those who
    visit in its four weeks, about 40%); the benchmark uses it for a million-visitor test.
    """
    if customers < 50:
        raise UserError(f"The sample needs at least 50 customers (got {customers}).")
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown:
        raise UserError(f"Unknown fault {unknown[0]!r}; known faults: {', '.join(FAULTS)}.")
    tables, truth = generate(
        customers=customers,
        seed=seed,
        faults=faults,
        as_of=as_of,
        experiment_visitors=experiment_visitors,
    )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        _write(table, out / f"{name}.{file_format}", file_format)
    truth["counts"] = {
        name: table.num_rows for name, table in tables.items() if name != "truth_customer_types"
    }
    _write_backlog(out / "backlog.csv", truth["prioritisation"])
    (out / "truth.json").write_text(json.dumps(truth, indent=2, sort_keys=True), encoding="utf-8")
    return truth


def _write(table: pa.Table, path: Path, file_format: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    if file_format == "csv" and not path.name.startswith("truth_"):
        pacsv.write_csv(table, tmp)
    else:
        tmp = tmp.with_name(path.stem + ".parquet.tmp")
        path = path.with_suffix(".parquet")
        # microseconds: Spark reads no nanosecond Parquet timestamps (DuckDB and PostgreSQL
        # keep microseconds anyway)
        pq.write_table(
            table,
            tmp,
            compression="snappy",
            coerce_timestamps="us",
            allow_truncated_timestamps=True,
        )
    tmp.replace(path)


def generate(
    *,
    customers: int,
    seed: int,
    faults: tuple[str, ...] = (),
    as_of: pd.Timestamp = AS_OF,
    experiment_visitors: int | None = None,
) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    """All tables (as Arrow tables) and the truth dictionary, without touching the disk."""
    rng = np.random.default_rng(seed)
    start = as_of.normalize() - pd.Timedelta(days=HISTORY_DAYS) + pd.Timedelta(hours=0)
    people = _customers(rng, customers)
    days, who = _purchase_times(rng, people)
    experiment = _experiment(
        rng, people, broken_split="broken_split" in faults, visitors=experiment_visitors
    )
    orders = _orders(rng, people, days, who, experiment)
    sessions = _sessions(rng, people, experiment)
    survey, survey_truth = _survey(rng, people, as_of)
    products, competitor_prices, price_truth = _prices(rng, as_of)
    decisions, priority_truth = _decision_log(seed, as_of, sessions)

    to_ts = _timestamp_converter(start)
    ids = _ids("c", np.arange(customers))
    tables = {
        "customers": pa.table(
            {
                "customer_id": ids,
                "signed_up_at": to_ts(people["signup"]),
                "country": pa.array(
                    np.array(["US", "GB", "DE", "FR", "CA"])[
                        rng.choice(5, customers, p=[0.5, 0.15, 0.15, 0.1, 0.1])
                    ]
                ),
                "acquisition_channel": pa.array(
                    np.array(SOURCES)[rng.choice(len(SOURCES), customers)]
                ),
            }
        ),
        "orders": pa.table(
            {
                "order_id": _ids("o", np.arange(len(orders["who"]))),
                "customer_id": ids.take(pa.array(orders["who"])),
                "ordered_at": to_ts(orders["day"]),
                "revenue": pa.array(orders["revenue"]),
                "discount": pa.array(orders["discount"]),
                "is_refunded": pa.array(orders["refunded"]),
                "channel": _labels(CHANNELS, orders["channel"]),
                "device": _labels(DEVICES, orders["device"]),
                "category": _labels(CATEGORIES, orders["category"]),
            }
        ),
        "sessions": pa.table(
            {
                "session_id": _ids("s", np.arange(len(sessions["who"]))),
                "visitor_id": ids.take(pa.array(sessions["who"])),
                "customer_id": ids.take(pa.array(sessions["who"])),
                "started_at": to_ts(sessions["day"]),
                "device": _labels(DEVICES, sessions["device"]),
                "source": _labels(SOURCES, sessions["source"]),
                "viewed_product": pa.array(sessions["viewed"]),
                "added_to_cart": pa.array(sessions["cart"]),
                "started_checkout": pa.array(sessions["checkout"]),
                "purchased": pa.array(sessions["purchased"]),
            }
        ),
        "assignments": pa.table(
            {
                "experiment_id": pa.array(np.full(len(experiment["units"]), EXPERIMENT_ID)),
                "unit_id": ids.take(pa.array(experiment["units"])),
                "variant": _labels(
                    ("control", "treatment"), experiment["treated"].astype(np.int64)
                ),
                "assigned_at": to_ts(experiment["assigned_day"]),
            }
        ),
        "survey_responses": survey,
        "products": products,
        "competitor_prices": competitor_prices,
        "truth_customer_types": pa.table(
            {
                "customer_id": ids,
                "customer_type": _labels(tuple(t.name for t in TYPES), people["type"]),
            }
        ),
        "decision_log": decisions,
    }
    window_start = start + pd.Timedelta(days=HISTORY_DAYS - EXPERIMENT_DAYS)
    truth = {
        "seed": seed,
        "customers_requested": customers,
        "as_of": as_of.isoformat(),
        "history_start": start.isoformat(),
        "faults": sorted(faults),
        "customer_types": {
            "file": "truth_customer_types.parquet",
            "names": [t.name for t in TYPES],
            "planted_shares": {t.name: t.share for t in TYPES},
            "dropout_after_purchase": {t.name: t.dropout for t in TYPES},
            "days_between_orders": {t.name: t.days_between_orders for t in TYPES},
        },
        "experiment": {
            "experiment_id": EXPERIMENT_ID,
            "control": "control",
            "treatment": "treatment",
            "start": window_start.isoformat(),
            "end": as_of.isoformat(),
            "planned_split": {"control": 0.5, "treatment": 0.5},
            **experiment["truth"],
        },
        "pre_post": {
            "launch_date": window_start.date().isoformat(),
            "series_column": "channel",
            "treated": PRE_POST_CHANNEL,
            "comparison": PRE_POST_COMPARISON,
            "rel_lift_order_value": PRE_POST_LIFT,
            "note": "app order values x1.10 from the launch date; web unchanged",
        },
        "funnel": {
            "add_to_cart_rate_given_view_by_device": ADD_TO_CART_BY_DEVICE,
            "view_rate": VIEW_RATE,
            "checkout_given_cart": CHECKOUT_GIVEN_CART,
        },
        "survey": survey_truth,
        "price_index": price_truth,
        "prioritisation": priority_truth,
    }
    weekly_tables, truth["weekly_review"] = _weekly_tables(
        seed, as_of, start, orders, tables, clean="clean_weeks" in faults
    )
    tables.update(weekly_tables)
    return tables, truth


def _customers(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    kind = rng.choice(len(TYPES), size=n, p=[t.share for t in TYPES])
    mean_gap = np.array([t.days_between_orders for t in TYPES])[kind]
    # Gamma heterogeneity in purchase rates (shape 8): the NBD part of BG/NBD.
    rate = rng.gamma(8.0, 1.0 / (8.0 * mean_gap))
    dropout_mean = np.array([t.dropout for t in TYPES])[kind]
    dropout = rng.beta(20 * dropout_mean, 20 * (1 - dropout_mean))
    basket = np.array([t.basket_median for t in TYPES])[kind] * rng.lognormal(0, 0.15, n)
    # Most customers joined in the first 21 months; a trickle of new ones keeps "new" realistic.
    signup = np.where(
        rng.random(n) < 0.96,
        rng.uniform(0, HISTORY_DAYS - 90, n),
        rng.uniform(HISTORY_DAYS - 90, HISTORY_DAYS - 1, n),
    )
    return {
        "type": kind,
        "rate": rate,
        "dropout": dropout,
        "basket": basket,
        "signup": signup,
        "device": rng.choice(3, size=n, p=[0.45, 0.45, 0.10]),
    }


def _season(day: np.ndarray) -> np.ndarray:
    """Relative demand: yearly wave, a Black-Friday/December peak and a weekend lift."""
    doy = (day + 183) % 365.25  # history starts around July 1st
    peak = 0.6 * np.exp(-0.5 * ((doy - 340) / 14) ** 2)
    yearly = 0.12 * np.cos(2 * np.pi * (doy - 15) / 365.25)
    weekend = np.where(np.floor(day) % 7 >= 5, 0.15, 0.0)
    return 1.0 + peak + yearly + weekend


SEASON_MAX = 1.0 + 0.6 + 0.12 + 0.15


def _purchase_times(
    rng: np.random.Generator, people: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Order days of each customer: first order at sign-up, then a thinned Poisson process
    until the customer drops out (a chance after every purchase) or the history ends.

    Vectorised without a loop over purchases: candidate times come from a Poisson count and
    sorted uniforms (built from cumulated exponentials, so no sort is needed), are thinned by
    the season, and each customer keeps only the repeat purchases made before dropping out
    (a geometric number: the failures before the first dropout).
    """
    n = len(people["rate"])
    span = HISTORY_DAYS - people["signup"]
    counts = rng.poisson(people["rate"] * SEASON_MAX * span)
    who = np.repeat(np.arange(n), counts)
    starts = np.cumsum(counts) - counts  # first candidate of each customer
    # k sorted uniforms = cumsum(E_1..E_k) / sum(E_1..E_k+1), per customer (segmented cumsum)
    gaps = rng.exponential(size=who.size)
    running = np.cumsum(gaps)
    offset = np.repeat(running[starts - 1] * (starts > 0) if who.size else np.zeros(n), counts)
    within = running - offset
    totals = np.zeros(n)
    np.add.at(totals, who, gaps)
    totals += rng.exponential(size=n)
    days = people["signup"][who] + span[who] * within / totals[who]
    accepted = rng.random(who.size) < _season(days) / SEASON_MAX
    days, who = days[accepted], who[accepted]
    kept = np.bincount(who, minlength=n)
    rank = np.arange(who.size) - np.repeat(np.cumsum(kept) - kept, kept)  # 0-based per customer
    repeats_allowed = rng.geometric(people["dropout"]) - 1  # purchases before dropping out
    before_dropout = rank < repeats_allowed[who]
    people["alive_at_end"] = kept < repeats_allowed
    days = np.concatenate([people["signup"], days[before_dropout]])
    who = np.concatenate([np.arange(n), who[before_dropout]])
    order = np.lexsort((days, who))
    return days[order], who[order]


def _experiment(
    rng: np.random.Generator,
    people: dict[str, np.ndarray],
    *,
    broken_split: bool,
    visitors: int | None = None,
) -> dict[str, Any]:
    """Assign visitors of the last four weeks and draw their in-window orders from a model whose
    expected values are known, so the truth is exact rather than estimated."""
    window_start = HISTORY_DAYS - EXPERIMENT_DAYS
    kind = people["type"]
    known = people["signup"] < window_start
    alive = people["alive_at_end"]
    # customers still alive visit with their type's rate; those who left come back rarely
    visit_p = np.where(alive, np.array([t.visit_rate for t in TYPES])[kind], 0.05) * known
    if visitors is None:
        units = np.flatnonzero(rng.random(len(kind)) < visit_p)
    else:
        units = _weighted_units(rng, visit_p, visitors)
    share_treated = 0.53 if broken_split else 0.5
    treated = rng.random(units.size) < share_treated
    assigned_day = window_start + rng.uniform(0, 7, units.size)

    # Chance to convert in the window grows with the purchase rate (a lapsed customer converts
    # rarely); the lift multiplies it.
    exposure = HISTORY_DAYS - assigned_day
    p_alive = np.clip(1 - np.exp(-people["rate"][units] * exposure * 0.9), 0.01, 0.85)
    p_control = np.where(alive[units], p_alive, 0.02)
    p_treatment = np.clip(p_control * (1 + CONVERSION_LIFT), 0, 1)
    converted = rng.random(units.size) < np.where(treated, p_treatment, p_control)
    # Orders given conversion are set so that control units order as much as the background
    # process would have (rate x exposure x season): the experiment shifts no channel or type mix.
    season = float(_season(np.linspace(window_start, HISTORY_DAYS, 200)).mean())
    expected_orders = np.where(alive[units], people["rate"][units] * exposure * season, p_control)
    extra_orders_mean = np.maximum(expected_orders / p_control - 1, 0)
    n_orders = np.where(converted, 1 + rng.poisson(extra_orders_mean), 0)
    basket = people["basket"][units]
    discount_rate = np.array([t.discount_rate for t in TYPES])[kind[units]]
    # expected net value of one order: lognormal basket (sigma 0.35) less the expected discount
    app_share = np.array([t.channel_mix[CHANNELS.index(PRE_POST_CHANNEL)] for t in TYPES])
    app_uplift = 1 + PRE_POST_LIFT * app_share[kind[units]]  # the window is after the app launch
    value_mean = basket * math.exp(0.35**2 / 2) * (1 - 0.2 * discount_rate) * app_uplift
    orders_if_converted = 1 + extra_orders_mean
    rpv_c, rpv_t = (
        p_control * orders_if_converted * value_mean,
        p_treatment * orders_if_converted * value_mean,
    )
    truth = {
        "n_units": int(units.size),
        "share_treated_planned": share_treated,
        "conversion": _arm_truth(p_control, p_treatment),
        "revenue_per_visitor": _arm_truth(rpv_c, rpv_t),
        "orders_per_user": _arm_truth(
            p_control * orders_if_converted, p_treatment * orders_if_converted
        ),
        "refund_rate": {
            "control": REFUND_RATE_EXPERIMENT,
            "treatment": REFUND_RATE_EXPERIMENT,
            "abs_lift": 0.0,
            "rel_lift": 0.0,
        },
        "planted_conversion_rel_lift": CONVERSION_LIFT,
        "note": "expected values over the assigned units had every unit been in that arm",
    }
    return {
        "units": units,
        "treated": treated,
        "assigned_day": assigned_day,
        "n_orders": n_orders,
        "truth": truth,
    }


def _weighted_units(rng: np.random.Generator, visit_p: np.ndarray, visitors: int) -> np.ndarray:
    """Exactly ``visitors`` distinct customers, the likelier visitors first (weighted sampling
    without replacement by Efraimidis-Spirakis keys, vectorised: numpy's weighted ``choice``
    without replacement slows to a crawl when nearly everyone is drawn)."""
    eligible = np.flatnonzero(visit_p > 0)
    if not 0 < visitors <= eligible.size:
        raise UserError(
            f"experiment_visitors={visitors:,}: between 1 and the {eligible.size:,} customers "
            "who signed up before the experiment; ask for more customers for a larger test."
        )
    keys = np.log(rng.random(eligible.size)) / visit_p[eligible]
    return np.sort(eligible[np.argpartition(-keys, visitors - 1)[:visitors]])


def _arm_truth(control: np.ndarray, treatment: np.ndarray) -> dict[str, float]:
    c, t = float(control.mean()), float(treatment.mean())
    return {"control": c, "treatment": t, "abs_lift": t - c, "rel_lift": t / c - 1}


def _orders(
    rng: np.random.Generator,
    people: dict[str, np.ndarray],
    days: np.ndarray,
    who: np.ndarray,
    experiment: dict[str, Any],
) -> dict[str, np.ndarray]:
    """Background orders (those of experiment units inside the window replaced by the
    experiment's own draws) with basket, discount, refund, channel, device and category."""
    window_start = HISTORY_DAYS - EXPERIMENT_DAYS
    in_experiment = np.zeros(len(people["type"]), dtype=bool)
    in_experiment[experiment["units"]] = True
    drop = in_experiment[who] & (days >= window_start)
    days, who = days[~drop], who[~drop]
    exp_who = np.repeat(experiment["units"], experiment["n_orders"])
    exp_start = np.repeat(experiment["assigned_day"], experiment["n_orders"])
    exp_days = rng.uniform(exp_start, HISTORY_DAYS - 1e-6)
    days, who = np.concatenate([days, exp_days]), np.concatenate([who, exp_who])
    from_experiment = np.r_[np.zeros(len(days) - len(exp_days), bool), np.ones(len(exp_days), bool)]
    order = np.argsort(days, kind="stable")
    days, who, from_experiment = days[order], who[order], from_experiment[order]

    kind = people["type"][who]
    gross = people["basket"][who] * rng.lognormal(0, 0.35, who.size)
    discounted = rng.random(who.size) < np.array([t.discount_rate for t in TYPES])[kind]
    channel = _choice_by_type(rng, kind, [t.channel_mix for t in TYPES])
    launched = (channel == CHANNELS.index(PRE_POST_CHANNEL)) & (days >= PRE_POST_LAUNCH_DAY)
    gross = np.where(launched, gross * (1 + PRE_POST_LIFT), gross)
    discount = np.round(np.where(discounted, 0.2 * gross, 0.0), 2)
    revenue = np.round(gross, 2) - discount
    refund_p = np.where(
        from_experiment, REFUND_RATE_EXPERIMENT, np.array([t.refund_rate for t in TYPES])[kind]
    )
    return {
        "who": who,
        "day": days,
        "revenue": revenue,
        "discount": discount,
        "refunded": rng.random(who.size) < refund_p,
        "channel": channel,
        "device": np.where(
            rng.random(who.size) < 0.8, people["device"][who], rng.integers(0, 3, who.size)
        ),
        "category": _choice_by_type(rng, kind, [t.category_mix for t in TYPES]),
    }


def _sessions(
    rng: np.random.Generator, people: dict[str, np.ndarray], experiment: dict[str, Any]
) -> dict[str, np.ndarray]:
    """Visits of experiment units: one purchasing session per in-window order plus browsing
    sessions that drop off along the funnel at device-specific rates."""
    units, n_orders = experiment["units"], experiment["n_orders"]
    browse = 1 + rng.poisson(1.5, units.size)
    who = np.r_[np.repeat(units, n_orders), np.repeat(units, browse)]
    start = np.r_[
        np.repeat(experiment["assigned_day"], n_orders),
        np.repeat(experiment["assigned_day"], browse),
    ]
    day = start if who.size == 0 else rng.uniform(start, HISTORY_DAYS - 1e-6)
    day[: n_orders.sum()] = start[: n_orders.sum()]  # the first visit is the exposure
    purchased = np.r_[np.ones(n_orders.sum(), bool), np.zeros(browse.sum(), bool)]
    device = people["device"][who]
    cart_p = np.array([ADD_TO_CART_BY_DEVICE[d] for d in DEVICES])[device]
    viewed = purchased | (rng.random(who.size) < VIEW_RATE)
    cart = purchased | (viewed & (rng.random(who.size) < cart_p))
    checkout = purchased | (cart & (rng.random(who.size) < CHECKOUT_GIVEN_CART))
    order = np.argsort(day, kind="stable")
    return {
        "who": who[order],
        "day": day[order],
        "device": device[order],
        "source": rng.integers(0, len(SOURCES), who.size),
        "viewed": viewed[order],
        "cart": cart[order],
        "checkout": checkout[order],
        "purchased": purchased[order],
    }


def _survey(
    rng: np.random.Generator, people: dict[str, np.ndarray], as_of: pd.Timestamp
) -> tuple[pa.Table, dict[str, Any]]:
    n_customers = len(people["type"])
    n = int(min(3000, max(200, n_customers // 8)))
    respondents = rng.choice(n_customers, size=n, replace=False)
    segment = np.array([t.survey_segment for t in TYPES])[people["type"][respondents]]
    promoter_p = np.array([NPS_MIX[s][0] for s in segment])
    detractor_p = np.array([NPS_MIX[s][1] for s in segment])
    u = rng.random(n)
    score = np.where(
        u < promoter_p,
        rng.choice([9, 10], n),
        np.where(
            u < promoter_p + detractor_p,
            rng.choice(np.arange(7), n, p=_detractor_weights()),
            rng.choice([7, 8], n),
        ),
    )
    columns: dict[str, Any] = {
        "response_id": _ids("r", np.arange(n)),
        "responded_at": pa.array(
            (as_of - pd.to_timedelta(rng.uniform(1, 60, n), unit="D")).floor("s").values
        ),
        "segment": pa.array(segment),
        "nps": pa.array(score.astype(np.int64)),
    }
    shared = rng.standard_normal(n)
    answers = {
        name: median * np.exp(VW_SHARED_SD * shared + VW_OWN_SD * rng.standard_normal(n))
        for name, median in VW_MEDIANS.items()
    }
    matrix = np.column_stack(list(answers.values()))
    shuffle = rng.random(n) < VW_DISORDERED_SHARE
    matrix[shuffle] = rng.permuted(matrix[shuffle], axis=1)
    matrix = np.round(matrix, 2)
    for i, name in enumerate(VW_MEDIANS):
        columns[name] = pa.array(matrix[:, i])
    ordered = np.all(np.diff(matrix, axis=1) > 0, axis=1)
    for item, probs in LIKERT_ITEMS.items():
        columns[item] = pa.array(rng.choice(np.arange(1, 6), n, p=probs).astype(np.int64))

    segment_nps = {s: 100 * (p - d) for s, (p, d) in NPS_MIX.items()}
    expected_nps = float(np.mean([segment_nps[s] for s in segment]))
    mu = {k: math.log(v) for k, v in VW_MEDIANS.items()}

    def cross(a: str, b: str) -> float:
        return math.exp((mu[a] + mu[b]) / 2)

    truth = {
        "n": n,
        "nps": {
            "value": expected_nps,
            "by_segment": segment_nps,
            "note": "expected NPS given the respondents' segments",
        },
        "top2box": {item: probs[3] + probs[4] for item, probs in LIKERT_ITEMS.items()},
        "van_westendorp": {
            "original": {
                "opp": cross("vw_too_cheap", "vw_too_expensive"),
                "idp": cross("vw_cheap", "vw_expensive"),
                "pmc": cross("vw_too_cheap", "vw_cheap"),
                "pme": cross("vw_too_expensive", "vw_expensive"),
            },
            "narrower": {
                "pmc": cross("vw_too_cheap", "vw_expensive"),
                "pme": cross("vw_too_expensive", "vw_cheap"),
            },
            "dropped": int((~ordered).sum()),
            "note": "population crossings in closed form: every answer is LogNormal(log median, s)",
        },
    }
    return pa.table(columns), truth


def _detractor_weights() -> np.ndarray:
    weights = np.array([0.04, 0.03, 0.05, 0.08, 0.12, 0.28, 0.40])
    return weights / weights.sum()


def _prices(
    rng: np.random.Generator, as_of: pd.Timestamp
) -> tuple[pa.Table, pa.Table, dict[str, Any]]:
    skus = _ids("sku", np.arange(N_SKUS))
    category = rng.integers(0, len(CATEGORIES), N_SKUS)
    market = np.round(np.array([25, 40, 120, 18, 60])[category] * rng.lognormal(0, 0.5, N_SKUS), 2)
    index = rng.lognormal(math.log(PRICE_INDEX_MEDIAN), PRICE_INDEX_SD, N_SKUS)
    own = np.round(market * index, 2)
    products = pa.table(
        {
            "sku": skus,
            "name": pa.array([f"{CATEGORIES[c]} item {i}" for i, c in enumerate(category)]),
            "category": _labels(CATEGORIES, category),
            "price": pa.array(own),
            "cost": pa.array(np.round(own * rng.uniform(0.4, 0.7, N_SKUS), 2)),
        }
    )
    matched = rng.random(N_SKUS) >= UNMATCHED_SHARE
    outliers = rng.choice(np.flatnonzero(matched), N_OUTLIER_SKUS, replace=False)
    rows_sku, rows_comp, rows_price, rows_day = [], [], [], []
    for week in range(12):  # weekly observations over the last 12 weeks
        observed = as_of.normalize() - pd.Timedelta(days=7 * week + 1)
        for c in range(len(COMPETITORS)):
            seen = np.flatnonzero(matched & (rng.random(N_SKUS) < 0.9))
            price = market[seen] * rng.lognormal(0, 0.02, seen.size)
            price[np.isin(seen, outliers)] *= 3.0  # a mismatched product: index far below 100
            rows_sku.append(seen)
            rows_comp.append(np.full(seen.size, c))
            rows_price.append(np.round(price, 2))
            rows_day.append(np.full(seen.size, observed.value))
    sku_idx = np.concatenate(rows_sku)
    competitor_prices = pa.table(
        {
            "sku": skus.take(pa.array(sku_idx)),
            "competitor": _labels(COMPETITORS, np.concatenate(rows_comp)),
            "price": pa.array(np.concatenate(rows_price)),
            "observed_at": pa.array(np.concatenate(rows_day).astype("datetime64[ns]")),
        }
    )
    clean = matched.copy()
    clean[outliers] = False
    truth = {
        "median": float(100 * np.median(index[clean])),
        "planted_median": 100 * PRICE_INDEX_MEDIAN,
        "unmatched_skus": [skus[i].as_py() for i in np.flatnonzero(~matched)],
        "outlier_skus": sorted(skus[int(i)].as_py() for i in outliers),
        "note": "index = 100 x own price / market price over matched, non-outlier SKUs",
    }
    return products, competitor_prices, truth


def _choice_by_type(
    rng: np.random.Generator, kind: np.ndarray, mixes: list[tuple[float, ...]]
) -> np.ndarray:
    cumulative = np.cumsum(np.array(mixes), axis=1)[kind]
    return (
        (rng.random(kind.size)[:, None] > cumulative).sum(axis=1).clip(0, cumulative.shape[1] - 1)
    )


def _ids(prefix: str, numbers: np.ndarray) -> pa.Array:
    width = max(6, len(str(max(int(numbers.max(initial=0)), 1))))
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _labels(names: tuple[str, ...], codes: np.ndarray) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), pa.array(names)).cast(
        pa.string()
    )


def _timestamp_converter(start: pd.Timestamp):
    base = start.value

    def convert(days: np.ndarray) -> pa.Array:
        nanos = base + np.round(np.asarray(days) * 86_400).astype(np.int64) * 1_000_000_000
        return pa.array(nanos.astype("datetime64[ns]"))

    return convert


# --------------------------------------------------------------------------------------------
# Prioritisation: past launches (the decision log) and a backlog, with known answers

LAUNCH_RATIO = 0.5  # past launches delivered half the effect predicted for them
LAUNCH_RATIO_SD = 0.25  # log-normal scatter of one launch's ratio around it
LAUNCH_PREDICTIONS = (0.04, 0.05, 0.06, 0.08, 0.10, 0.05, 0.03, 0.07)
BACKLOG_PERIOD_WEEKS = 13  # the backlog's reach numbers are per quarter
DATA_REACH_QUERY = "weekly sessions reaching checkout on mobile"
# name, type, impact, confidence, effort (low, likely, high), planted RICE at the likely values
# as a share of the mobile checkout sessions of a quarter (before calibration)
BACKLOG = (
    ("Mobile checkout autofill", "customer-facing", (1, 1.5, 2), (0.7, 0.8, 0.9), (2, 3, 4), 0.40),
    ("Homepage personalisation", "customer-facing", (1, 2, 3), (0.4, 0.5, 0.6), (4, 6, 8), 0.22),
    ("Returns self-service portal", "operational", (0.5, 1, 1.5), (0.7, 0.8, 0.9), (3, 4, 5), 0.15),
    ("Loyalty points", "customer-facing", (1, 2, 3), (0.5, 0.6, 0.7), (6, 8, 10), 0.16),
    ("Search index upgrade", "platform-tech-debt", (0.5, 1, 1.5), (0.7, 0.8, 0.9), (3, 4, 5), 0.09),
    ("Size guide", "customer-facing", (0.5, 1, 1.5), (0.5, 0.6, 0.7), (2, 3, 4), 0.10),
    (
        "Retire legacy cart service",
        "platform-tech-debt",
        (0.25, 0.5, 0.75),
        (0.8, 0.9, 1),
        (2, 3, 4),
        0.05,
    ),
    (
        "Warehouse pick-list export",
        "operational",
        (0.25, 0.5, 0.75),
        (0.7, 0.8, 0.9),
        (1, 2, 3),
        0.04,
    ),
    (
        "Gift wrapping option",
        "customer-facing",
        (0.25, 0.5, 0.75),
        (0.6, 0.7, 0.8),
        (1, 2, 3),
        0.06,
    ),
    (
        "Image CDN migration",
        "platform-tech-debt",
        (0.25, 0.5, 0.75),
        (0.8, 0.9, 1),
        (3, 4, 5),
        0.035,
    ),
)


def _decision_log(
    seed: int, as_of: pd.Timestamp, sessions: dict[str, np.ndarray]
) -> tuple[pa.Table, dict[str, Any]]:
    """Eight past launches measured at about half their predicted effect (own random stream,
    so the other tables do not change), and the reach the backlog's data query should find."""
    rng = np.random.default_rng([seed, 1717])
    predicted = np.array(LAUNCH_PREDICTIONS)
    measured = np.round(
        predicted * LAUNCH_RATIO * np.exp(LAUNCH_RATIO_SD * rng.standard_normal(predicted.size)), 4
    )
    half_width = np.round(1.96 * (0.3 * np.abs(measured) + 0.004), 4)
    names = (
        "free_shipping_banner",
        "one_page_checkout",
        "recommendations_carousel",
        "faster_search",
        "bundle_offers",
        "wishlist_reminders",
        "new_filters",
        "review_photos",
    )
    decided = [(as_of.normalize() - pd.Timedelta(days=45 * (i + 1))) for i in range(predicted.size)]
    low, high = measured - half_width, measured + half_width
    table = pa.table(
        {
            "review_id": pa.array([f"launch_{n}" for n in names]),
            "decided_on": pa.array(np.array(decided, dtype="datetime64[ns]")),
            "hypothesis": pa.array(
                [f"{n.replace('_', ' ').capitalize()} lifts conversion" for n in names]
            ),
            "primary_metric": pa.array(["conversion"] * predicted.size),
            "predicted_effect": pa.array(predicted),
            "measured_effect": pa.array(measured),
            "measured_low": pa.array(np.round(low, 4)),
            "measured_high": pa.array(np.round(high, 4)),
            "verdict": pa.array(np.where(low > 0, "ship", "iterate")),
        }
    )
    is_mobile = sessions["device"] == DEVICES.index("mobile")
    weekly = float((is_mobile & sessions["checkout"]).sum()) / (EXPERIMENT_DAYS / 7)
    truth = {
        "launch_ratio_planted": LAUNCH_RATIO,
        "launch_ratio_median": float(np.median(measured / predicted)),
        "launches": int(predicted.size),
        "data_reach_query": DATA_REACH_QUERY,
        "data_reach_per_week": weekly,
        "period_weeks": BACKLOG_PERIOD_WEEKS,
        "leader_with_data_reach": BACKLOG[0][0],
        "overtakes_with_calibration": [BACKLOG[2][0], BACKLOG[1][0]],
        "note": "launches measured at LAUNCH_RATIO x predicted; the autofill item leads only "
        "with reach from the sessions; the returns portal passes homepage personalisation "
        "only once customer-facing impact is shrunk by the log",
    }
    return table, truth


def backlog_rows(priority_truth: dict[str, Any]) -> pd.DataFrame:
    """The sample backlog: reach numbers set so each item's RICE at its likely values is its
    planted share of the quarter's mobile checkout sessions."""
    quarter = priority_truth["data_reach_per_week"] * priority_truth["period_weeks"]
    rows = []
    for name, kind, impact, confidence, effort, share in BACKLOG:
        reach = share * quarter * effort[1] / (impact[1] * confidence[1])
        row = {
            "initiative": name,
            "type": kind,
            "reach": int(float(f"{reach:.2g}")),
            "reach_guess": "",
        }
        if name == priority_truth["leader_with_data_reach"]:
            row["reach"] = DATA_REACH_QUERY
            row["reach_guess"] = int(float(f"{reach / 20:.2g}"))  # the spreadsheet's guess
        for field_name, values in (
            ("impact", impact),
            ("confidence", confidence),
            ("effort", effort),
        ):
            for level, value in zip(("low", "likely", "high"), values, strict=True):
                row[f"{field_name}_{level}"] = value
        row["notes"] = "sample initiative"
        rows.append(row)
    return pd.DataFrame(rows)


def _write_backlog(path: Path, priority_truth: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    backlog_rows(priority_truth).to_csv(tmp, index=False)
    tmp.replace(path)


# --------------------------------------------------------------------------------------------
# Weekly business review: traffic, marketing spend, fulfilment and support, with known answers

CONVERSION_BY_DEVICE = {"desktop": 0.032, "mobile": 0.018, "tablet": 0.025}  # orders / session
SOURCE_SESSION_MIX = (0.30, 0.25, 0.12, 0.18, 0.15)  # organic, paid_search, email, social, direct
SOURCE_ORDER_MIX = (0.30, 0.22, 0.20, 0.10, 0.18)  # email converts best, social worst
DAILY_CONVERSION_SD = 0.06  # day-to-day scatter of the conversion rate (log scale)
WEEKLY_CONVERSION_SD = 0.03  # week-to-week scatter of the conversion rate (log scale)
MOBILE_DROP = {"device": "mobile", "weeks_before_last": 3, "conversion_factor": 0.75}
LAST_WEEK_CONVERSION_FACTOR = 0.92  # every device, the last complete week
CAC = {"paid_search": 38.0, "social": 25.0}  # spend per new customer of the channel
CAC_DOUBLES = {"channel": "social", "weeks_before_last": 10, "factor": 2.0}
RETENTION_SPEND_PER_WEEK = {"email": 300.0}  # e-mail tool and campaigns: spend on existing buyers
PROMISED_DAYS = 5  # delivery promised within five days of the order
CONTACTS_PER_ORDER = 0.06
CONTACT_REASONS = ("delivery", "refund", "product question", "account")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def last_complete_week(as_of: pd.Timestamp, week_starts_on: str) -> pd.Timestamp:
    """First day of the last week (starting on ``week_starts_on``) that ends on or before the
    end of the ``as_of`` day."""
    end = as_of.normalize() + pd.Timedelta(days=1)
    first = WEEKDAY_NAMES.index(week_starts_on)
    back = (end.weekday() - first) % 7  # days since the current week began
    return end - pd.Timedelta(days=back + 7)


def _weekly_tables(
    seed: int,
    as_of: pd.Timestamp,
    start: pd.Timestamp,
    orders: dict[str, np.ndarray],
    tables: dict[str, pa.Table],
    *,
    clean: bool,
) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    """Traffic, spend, fulfilment and support contacts built on the orders (read, not changed),
    from their own random stream."""
    from . import _project

    rng = np.random.default_rng([seed, 1515])
    n_days = HISTORY_DAYS
    day = np.floor(orders["day"]).astype(np.int64).clip(0, n_days - 1)
    purchases = np.zeros((n_days, len(DEVICES)), dtype=np.int64)
    np.add.at(purchases, (day, orders["device"]), 1)

    last_week = last_complete_week(as_of, _project.WEEK_STARTS_ON)
    last_day0 = int((last_week - start.normalize()).days)  # day index of its first day
    drop_day0 = last_day0 - 7 * MOBILE_DROP["weeks_before_last"]
    rate = np.array([CONVERSION_BY_DEVICE[d] for d in DEVICES])[None, :] * np.ones((n_days, 1))
    weekly_noise = np.exp(WEEKLY_CONVERSION_SD * rng.standard_normal(n_days // 7 + 2))
    rate = rate * np.repeat(weekly_noise, 7)[:n_days, None]
    rate = rate * np.exp(DAILY_CONVERSION_SD * rng.standard_normal((n_days, len(DEVICES))))
    mobile = DEVICES.index(MOBILE_DROP["device"])
    if not clean:
        rate[last_day0 : last_day0 + 7] *= LAST_WEEK_CONVERSION_FACTOR
    browsing = rng.poisson(purchases * (1 / rate - 1))  # sessions without an order
    failed = np.zeros_like(browsing)  # sessions that reached checkout but the payment failed
    if not clean:
        window = slice(drop_day0, drop_day0 + 7)
        extra = purchases[window, mobile] / rate[window, mobile]
        failed[window, mobile] = rng.poisson(extra * (1 / MOBILE_DROP["conversion_factor"] - 1))

    rows: dict[str, list] = {k: [] for k in ("day", "device", "source", "s", "v", "c", "k", "p")}
    cart_p = np.array([ADD_TO_CART_BY_DEVICE[d] for d in DEVICES])
    for dev in range(len(DEVICES)):
        p_src = rng.multinomial(purchases[:, dev], SOURCE_ORDER_MIX)
        b_src = rng.multinomial(browsing[:, dev], SOURCE_SESSION_MIX)
        f_src = rng.multinomial(failed[:, dev], SOURCE_SESSION_MIX)
        viewed = rng.binomial(b_src, VIEW_RATE)
        cart = rng.binomial(viewed, cart_p[dev])
        checkout = rng.binomial(cart, CHECKOUT_GIVEN_CART)
        for src in range(len(SOURCES)):
            reached = p_src[:, src] + f_src[:, src]
            rows["day"].append(np.arange(n_days))
            rows["device"].append(np.full(n_days, dev))
            rows["source"].append(np.full(n_days, src))
            rows["s"].append(reached + b_src[:, src])
            rows["v"].append(reached + viewed[:, src])
            rows["c"].append(reached + cart[:, src])
            rows["k"].append(reached + checkout[:, src])
            rows["p"].append(p_src[:, src])
    flat = {k: np.concatenate(v) for k, v in rows.items()}
    keep = flat["s"] > 0
    flat = {k: v[keep] for k, v in flat.items()}
    to_ts = _timestamp_converter(start.normalize())
    traffic = pa.table(
        {
            "date": to_ts(flat["day"].astype(float)),
            "device": _labels(DEVICES, flat["device"]),
            "source": _labels(SOURCES, flat["source"]),
            "sessions": pa.array(flat["s"]),
            "product_views": pa.array(flat["v"]),
            "carts": pa.array(flat["c"]),
            "checkouts": pa.array(flat["k"]),
            "purchases": pa.array(flat["p"]),
        }
    )

    # Marketing spend: each paid channel's spend is its planted CAC times the new customers it
    # brought that week (first order = sign-up in the sample), so the CAC is known exactly.
    customers = tables["customers"]
    channel = np.asarray(customers["acquisition_channel"].to_numpy(zero_copy_only=False))
    signup = (
        customers["signed_up_at"].to_numpy().astype("datetime64[ns]") - start.to_datetime64()
    ) / np.timedelta64(1, "D")
    signup_day = np.floor(signup).astype(np.int64)
    week_of = (signup_day - last_day0) // 7  # 0: the last complete week, negative: earlier
    n_weeks = (last_day0 + 7) // 7 + 1
    spend_rows: dict[str, list] = {"day": [], "channel": [], "spend": []}
    planted_cac: dict[str, dict[str, float]] = {}
    for name, cac in CAC.items():
        before = cac
        after = cac * (
            CAC_DOUBLES["factor"] if name == CAC_DOUBLES["channel"] and not clean else 1.0
        )
        planted_cac[name] = {"before": before, "after": after}
        for back in range(n_weeks):
            w = -back
            first = last_day0 + 7 * w
            if first < 0:
                break
            new = int(((channel == name) & (week_of == w)).sum())
            if new == 0:
                continue
            week_cac = after if w > -CAC_DOUBLES["weeks_before_last"] else before
            total = week_cac * new * float(np.exp(0.03 * rng.standard_normal()))
            spend_rows["day"] += list(range(first, first + 7))
            spend_rows["channel"] += [name] * 7
            spend_rows["spend"] += [round(total / 7, 2)] * 7
    for name, weekly in RETENTION_SPEND_PER_WEEK.items():
        days = np.arange(n_days)
        spend_rows["day"] += days.tolist()
        spend_rows["channel"] += [name] * n_days
        spend_rows["spend"] += np.round(weekly / 7 * rng.lognormal(0, 0.1, n_days), 2).tolist()
    marketing_spend = pa.table(
        {
            "date": to_ts(np.asarray(spend_rows["day"], dtype=float)),
            "channel": pa.array(spend_rows["channel"]),
            "spend": pa.array(np.asarray(spend_rows["spend"], dtype=float)),
        }
    )

    # Fulfilment: shipped about 1.5 days after the order, delivered 2-5 days later, promised
    # within five days; support contacts for about 6 of every 100 orders.
    n_orders = len(orders["day"])
    shipped = orders["day"] + rng.lognormal(math.log(1.2), 0.5, n_orders)
    delivered = shipped + rng.uniform(2.0, 5.0, n_orders)
    in_past = delivered < n_days
    order_ids = tables["orders"]["order_id"]
    fulfilment = pa.table(
        {
            "order_id": order_ids,
            "shipped_at": to_ts(np.minimum(shipped, n_days - 1e-3)),
            "delivered_at": pa.array(
                np.where(
                    in_past,
                    (
                        start.value + np.round(delivered * 86_400).astype(np.int64) * 1_000_000_000
                    ).astype("datetime64[ns]"),
                    np.datetime64("NaT"),
                )
            ),
            "promised_at": to_ts(orders["day"] + PROMISED_DAYS),
        }
    )
    contacted = rng.random(n_orders) < CONTACTS_PER_ORDER
    which = np.flatnonzero(contacted)
    when = orders["day"][which] + rng.uniform(0.5, 10, which.size)
    reason = rng.integers(0, len(CONTACT_REASONS), which.size)
    future = when >= n_days  # a contact after the end has not happened yet (not piled on it)
    which, when, reason = which[~future], when[~future], reason[~future]
    support = pa.table(
        {
            "contact_id": _ids("t", np.arange(which.size)),
            "contacted_at": to_ts(when),
            "order_id": order_ids.take(pa.array(which)),
            "reason": _labels(CONTACT_REASONS, reason),
        }
    )

    truth = {
        "week_starts_on": _project.WEEK_STARTS_ON,
        "last_complete_week": last_week.date().isoformat(),
        "conversion_by_device": CONVERSION_BY_DEVICE,
        "conversion_is": "orders per session (purchases / sessions of the traffic table)",
        "planted_anomalies": not clean,
        "last_week_conversion_factor": 1.0 if clean else LAST_WEEK_CONVERSION_FACTOR,
        "mobile_drop": None
        if clean
        else {
            **MOBILE_DROP,
            "week": (last_week - pd.Timedelta(weeks=MOBILE_DROP["weeks_before_last"]))
            .date()
            .isoformat(),
            "step": "checkout → order",
        },
        "cac": planted_cac,
        "cac_doubles": None
        if clean
        else {
            **CAC_DOUBLES,
            "from_week": (last_week - pd.Timedelta(weeks=CAC_DOUBLES["weeks_before_last"] - 1))
            .date()
            .isoformat(),
        },
        "retention_channels": sorted(RETENTION_SPEND_PER_WEEK),
        "promised_days": PROMISED_DAYS,
        "contacts_per_100_orders": 100 * CONTACTS_PER_ORDER,
        "cohort_retention": _cohort_oracle(orders, start, as_of),
        "note": "traffic, spend, fulfilment and support from their own random stream; the "
        "orders are unchanged. Spend = planted CAC x the channel's new customers of the week.",
    }
    return {
        "traffic": traffic,
        "marketing_spend": marketing_spend,
        "fulfilment": fulfilment,
        "support_contacts": support,
    }, truth


def _cohort_oracle(
    orders: dict[str, np.ndarray], start: pd.Timestamp, as_of: pd.Timestamp
) -> dict[str, Any]:
    """Retention by months since the first order, counted with numpy from the generator's own
    arrays (an independent check of the engine-side cohort query): share of each monthly cohort
    ordering again k months after its first month, pooled over the cohorts that reached k."""
    stamps = start.to_datetime64() + (orders["day"] * 86_400).astype("timedelta64[s]")
    months = stamps.astype("datetime64[M]").astype(np.int64)
    who = orders["who"]
    first = np.full(who.max() + 1, np.iinfo(np.int64).max)
    np.minimum.at(first, who, months)
    k = months - first[who]
    last_month = np.datetime64(as_of.normalize(), "M").astype(np.int64)
    cohort_size = np.bincount(first - first.min())
    pairs = np.unique(np.c_[who, k], axis=0)
    counts = np.zeros((cohort_size.size, int(k.max()) + 1))
    np.add.at(counts, (first[pairs[:, 0]] - first.min(), pairs[:, 1]), 1)
    curve = {}
    for months_after in range(1, 7):
        reached = np.arange(cohort_size.size) + first.min() + months_after <= last_month
        size = cohort_size[reached].sum()
        curve[str(months_after)] = float(counts[reached, months_after].sum() / size)
    return {"pooled_by_months_since_first": curve, "customers": int((cohort_size).sum())}
