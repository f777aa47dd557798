"""Acquisition vs retention economics for the weekly review: CAC, LTV, LTV:CAC and payback.

CAC(channel, period) = spend / new customers acquired through the channel (methods.md): a new
customer is one whose first order falls in the period, the channel is their
``customers.acquisition_channel``, spend comes from the optional ``marketing_spend`` table.
Channels named in ``retention_channels`` spend on existing buyers: they get no CAC and are
summed as retention spend.

LTV of a new customer of a channel: margin x (the channel's mean first order + the BG/NBD
expected repeat purchases of a new customer, month by month over ``months``, x the Gamma-Gamma
mean spend per purchase), each month discounted at ``annual_discount``. The models are
``bgnbd``'s (fitted per channel on its customers' histories, weeks as the unit; the pooled fit
when a channel has too few customers). Payback months = the first month whose cumulative
(undiscounted) margin per customer reaches the CAC.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd

from . import bgnbd, customer_orders, data, periods
from .errors import UserError

DAYS_PER_MONTH = 365.25 / 12
MIN_FIT_CUSTOMERS = 200  # a channel with fewer customers uses the pooled BG/NBD fit
TABLE_COLUMNS = ("kind", "spend", "new", "cac", "ltv", "ltv_cac", "payback_months", "pooled_fit")


def missing_sentence() -> str:
    """Said in place of the economics section when the data cannot support it."""
    return (
        "CAC, LTV:CAC and payback need the optional marketing_spend table (date, channel, "
        "spend) and customers.acquisition_channel with the same channel names; add them to "
        "compare what a customer costs with what they bring."
    )


def _new_customers(con: ibis.BaseBackend, end: pd.Timestamp) -> ibis.Table:
    first = customer_orders.first_orders(con, end).rename(first="first_at")
    c = data.table(con, "customers").select("customer_id", "acquisition_channel")
    j = first.inner_join(c, "customer_id")
    return j.mutate(channel=j.acquisition_channel.fill_null("unknown"))


def _spend(con: ibis.BaseBackend, end: pd.Timestamp) -> ibis.Table:
    s = data.table(con, "marketing_spend")
    return s.filter(s.date < end.to_pydatetime())


def monthly_cac(
    con: ibis.BaseBackend, end: pd.Timestamp, retention_channels: Sequence[str] = ()
) -> pd.DataFrame:
    """CAC by month (rows, first day) and acquisition channel (columns); NaN without new
    customers. The last month may be partial (both spend and customers are)."""
    s = _spend(con, end)
    s = s.filter(~s.channel.isin(list(retention_channels)) if retention_channels else True)
    spend = data.fetch(
        s.group_by([s.date.truncate("M").name("month"), "channel"]).aggregate(spend=s.spend.sum())
    )
    n = _new_customers(con, end)
    new = data.fetch(
        n.group_by([n.first.truncate("M").name("month"), "channel"]).aggregate(new=n.count())
    )
    frame = spend.merge(new, on=["month", "channel"], how="left").fillna({"new": 0})
    frame["month"] = pd.to_datetime(frame["month"])
    frame["cac"] = (frame.spend / frame.new).where(frame.new > 0)
    return frame.pivot_table(index="month", columns="channel", values="cac").sort_index()


def window_counts(
    con: ibis.BaseBackend, end: pd.Timestamp, weeks: int
) -> tuple[pd.DataFrame, pd.Timestamp, pd.Timestamp]:
    """Spend and new customers per channel over the last ``weeks`` complete weeks; returns the
    frame (index channel; spend, new) and the window's first day and end."""
    stop = periods.last_complete_week(end) + pd.Timedelta(days=7)
    start = stop - pd.Timedelta(weeks=weeks)
    s = _spend(con, stop)
    s = s.filter(s.date >= start.to_pydatetime())
    n = _new_customers(con, end)  # the first orders before end, so those before stop too
    n = n.filter((n.first >= start.to_pydatetime()) & (n.first < stop.to_pydatetime()))
    spend = data.fetch(s.group_by("channel").aggregate(spend=s.spend.sum())).set_index("channel")
    new = data.fetch(n.group_by("channel").aggregate(new=n.count())).set_index("channel")
    frame = spend.join(new, how="outer").fillna(0.0).astype(float)
    frame.index = frame.index.astype(str)
    return frame, start, stop


def customer_histories(con: ibis.BaseBackend, end: pd.Timestamp) -> pd.DataFrame:
    """Per customer the BG/NBD inputs in weeks (x repeat purchase days, t_x, T), the mean
    repeat spend, the first order's revenue and the acquisition channel."""
    o = customer_orders.history(con, end)
    first_day = periods.day_number(o.first_at)
    per = o.group_by("customer_id").aggregate(
        first_day=o.day.min(),
        last_day=o.day.max(),
        days=customer_orders.count(o.first_of_day),
        first_revenue=ibis.cases((o.day == first_day, o.revenue), else_=0.0).sum(),
        revenue=o.revenue.sum(),
    )
    c = data.table(con, "customers").select("customer_id", "acquisition_channel")
    per = per.inner_join(c, "customer_id")
    frame = data.fetch(per)
    end_day = end.timestamp() / periods.SECONDS_PER_DAY
    x = frame["days"].astype(float) - 1
    # rounded: engines add floats in a thread-dependent order; 6 decimals of a week or a
    # currency unit lose nothing and keep the fits the same from run to run
    return pd.DataFrame(
        {
            "channel": frame["acquisition_channel"].fillna("unknown").astype(str).to_numpy(),
            "x": x.to_numpy(),
            "t_x": ((frame["last_day"] - frame["first_day"]).astype(float) / 7).to_numpy(),
            "T": ((end_day - frame["first_day"].astype(float)) / 7).to_numpy(),
            "mean_repeat_spend": ((frame["revenue"] - frame["first_revenue"]) / x)
            .where(x > 0)
            .to_numpy(),
            "first_revenue": frame["first_revenue"].astype(float).to_numpy(),
        }
    ).round({"t_x": 6, "T": 6, "mean_repeat_spend": 6, "first_revenue": 6})


@dataclass(frozen=True)
class Value:
    """A new customer's expected margin month by month (index 0 = the first order's month)."""

    ltv: float  # discounted margin over the horizon; NaN when the models cannot be fitted
    cumulative: pd.Series  # undiscounted cumulative margin by month
    pooled: bool  # the pooled BG/NBD fit was used (too few customers in the channel)
    note: str = ""  # why the LTV is missing


def _value_or_note(histories: pd.DataFrame, pooled: bool, **kwargs) -> Value:
    try:
        value = new_customer_value(histories, **kwargs)
    except ValueError as error:  # too few (repeat) customers to fit
        return Value(math.nan, pd.Series(dtype=float), pooled, str(error))
    return Value(value.ltv, value.cumulative, pooled)


def new_customer_value(
    histories: pd.DataFrame, *, margin: float, months: int, annual_discount: float
) -> Value:
    """Value of a new customer from BG/NBD + Gamma-Gamma fitted on these histories."""
    params = bgnbd.fit_bgnbd(histories.x, histories.t_x, histories["T"], time_unit="weeks")
    repeat = histories[histories.x > 0]
    with warnings.catch_warnings():
        # The likelihood is nearly flat along (p, v) at fixed p·v, so L-BFGS-B may stop with
        # "ABNORMAL" there; only the mean p·v / (q - 1) is used, and it is stable to ~1e-5.
        warnings.filterwarnings("ignore", "Gamma-Gamma fit did not fully converge")
        gg = bgnbd.fit_gamma_gamma(repeat.x, repeat.mean_repeat_spend)
    spend = float(bgnbd.expected_spend(gg, [0.0], [0.0])[0])  # population mean per purchase
    weeks = np.arange(months + 1) * DAYS_PER_MONTH / 7
    purchases = np.array(
        [bgnbd.expected_purchases(params, [0.0], [0.0], [0.0], w)[0] for w in weeks]
    )
    monthly = np.diff(purchases, prepend=0.0) * spend * margin
    monthly[0] += margin * float(histories.first_revenue.mean())
    discount = (1 + annual_discount) ** -(np.arange(months + 1) / 12)
    return Value(float((monthly * discount).sum()), pd.Series(monthly.cumsum()), False)


def payback_months(cumulative: pd.Series, cac: float) -> int | None:
    """First month whose cumulative margin per customer reaches the CAC; None within the
    horizon."""
    if not math.isfinite(cac):
        return None
    reached = cumulative[cumulative >= cac]
    return int(reached.index[0]) if len(reached) else None


@dataclass(frozen=True)
class Economics:
    """The economics section: one row per channel with spend in the window."""

    table: pd.DataFrame  # index channel: kind, spend, new, cac, ltv, ltv_cac, payback_months
    monthly_cac: pd.DataFrame
    start: pd.Timestamp
    stop: pd.Timestamp
    months: int

    @property
    def low_ltv_cac(self) -> list[str]:
        """Acquisition channels whose LTV:CAC is below 1 (rule WBR-3)."""
        paid = self.table[(self.table.kind == "acquisition") & (self.table.spend > 0)]
        return sorted(paid.index[paid.ltv_cac < 1])


def available(con: ibis.BaseBackend) -> bool:
    """Whether the data holds spend and the customers' acquisition channels."""
    if not data.has_table(con, "marketing_spend"):
        return False
    c = data.table(con, "customers")
    return bool(c.acquisition_channel.notnull().any().execute())


def economics(
    con: ibis.BaseBackend,
    end: pd.Timestamp,
    *,
    retention_channels: Sequence[str] = ("email",),
    window_weeks: int = 8,
    margin: float = 0.3,
    months: int = 12,
    annual_discount: float = 0.1,
) -> Economics | None:
    """CAC, LTV, LTV:CAC and payback per channel over the last ``window_weeks`` complete weeks;
    None when the data has no spend or no acquisition channels (``missing_sentence``)."""
    if not 0 < margin <= 1:
        raise UserError(f"margin must be a share in (0, 1]; got {margin!r}.")
    if window_weeks < 1 or months < 1:
        raise UserError("window_weeks and months must be at least 1.")
    if not available(con):
        return None
    counts, start, stop = window_counts(con, end, window_weeks)
    histories = customer_histories(con, end)
    model = {"margin": margin, "months": months, "annual_discount": annual_discount}
    pooled = None
    rows = {}
    for channel, row in counts[counts.spend > 0].iterrows():
        kind = "retention" if channel in retention_channels else "acquisition"
        cac = row.spend / row.new if row.new else math.inf
        entry = {"kind": kind, "spend": row.spend, "new": row.new, "cac": cac}
        if kind == "acquisition":
            own = histories[histories.channel == channel]
            value = _value_or_note(own, False, **model) if len(own) >= MIN_FIT_CUSTOMERS else None
            if value is None or math.isnan(value.ltv):
                pooled = pooled or _value_or_note(histories, True, **model)
                value = pooled
            entry |= {
                "ltv": value.ltv,
                "ltv_cac": value.ltv / cac,
                "payback_months": payback_months(value.cumulative, cac),
                "pooled_fit": value.pooled,
                "note": value.note,
            }
        rows[channel] = entry
    table = pd.DataFrame.from_dict(rows, orient="index")
    for column in (*TABLE_COLUMNS, "note"):
        if column not in table:
            table[column] = np.nan if column != "note" else ""
    return Economics(table, monthly_cac(con, end, retention_channels), start, stop, months)


def economics_table(econ: Economics) -> pd.DataFrame:
    """The table the notebook shows, with plain column names (LTV over ``econ.months``)."""
    t = econ.table
    frame = pd.DataFrame(
        {
            "Channel": t.index,
            "Spend is for": t.kind.map({"acquisition": "new customers", "retention": "existing"}),
            "Spend": t.spend,
            "New customers": t.new.where(t.kind == "acquisition"),
            "CAC": t.cac.where(t.kind == "acquisition"),
            "LTV": t.ltv,
            "LTV:CAC": t.ltv_cac,
            "Payback (months)": t.payback_months,
        },
        index=t.index,
    )
    return frame.reset_index(drop=True)


def economics_sentences(econ: Economics | None, currency: str) -> list[str]:
    """What the economics section says: each paid channel's LTV:CAC and payback, and the
    split of spend between acquiring and keeping customers."""
    from .formats import format_money

    if econ is None:
        return [missing_sentence()]
    t = econ.table
    window = f"{econ.start:%d %b} to {econ.stop - pd.Timedelta(days=1):%d %b %Y}"
    if t.empty:
        return [f"No marketing spend is recorded from {window}."]
    points = []
    for channel, row in t[t.kind == "acquisition"].iterrows():
        if not row.new:
            points.append(
                f"{channel}: {format_money(row.spend, currency)} spent from {window} brought no "
                "new customer."
            )
            continue
        if pd.isna(row.ltv):
            points.append(
                f"{channel}: a new customer costs {format_money(row.cac, currency, 2)}; what they "
                f"are worth cannot be estimated yet ({row.note.rstrip('.')})."
            )
            continue
        if pd.isna(row.payback_months):
            payback = f"does not pay back within {econ.months} months"
        elif row.payback_months == 0:
            payback = "pays back with the first order"
        else:
            n = int(row.payback_months)
            payback = f"pays back {n} month{'s' if n > 1 else ''} after the first order"
        points.append(
            f"{channel}: a new customer costs {format_money(row.cac, currency, 2)} and is worth "
            f"{format_money(row.ltv, currency, 2)} in margin over {econ.months} months "
            f"(LTV:CAC {row.ltv_cac:.1f}); it {payback}."
        )
    total = t.spend.sum()
    keep = t[t.kind == "retention"].spend.sum()
    points.append(
        f"From {window}, {1 - keep / total:.0%} of marketing spend "
        f"({format_money(total - keep, currency)}) went to acquiring new customers and "
        f"{keep / total:.0%} ({format_money(keep, currency)}) to existing ones."
    )
    return points
