"""The weekly funnel: session → product view → cart → checkout → order, by device and source.

Each step's rate (visits reaching the next step / visits reaching this one) of the last complete
week is compared with its own seasonal robust baseline (``weekly.seasonal_scores``, the machinery
of the KPI alerts), per device, per traffic source and for all traffic. The step that moved is
the step where visits were lost: among the (cut, step) rates beyond ``weekly.ROBUST_Z`` robust
SDs from their usual level, the largest relative fall (a rise only when nothing fell). Ranked by
the change, not by z: a large cut has a small spread, so "all traffic" would outrank the device
that caused the move. Read from the optional ``traffic`` table; one engine-side aggregate per
cut kind.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from . import data, periods, weekly

COUNTS = ("sessions", "product_views", "carts", "checkouts", "purchases")
STEPS = {  # step label -> (visits at the step, visits reaching the next one)
    "session → product view": ("sessions", "product_views"),
    "product view → cart": ("product_views", "carts"),
    "cart → checkout": ("carts", "checkouts"),
    "checkout → order": ("checkouts", "purchases"),
}
CUTS = ("device", "source")
ALL = "All traffic"


def weekly_counts(con: ibis.BaseBackend, end: pd.Timestamp) -> pd.DataFrame:
    """Visits reaching each step per complete week before ``end`` and cut (columns: week, kind,
    cut, the five counts), kind "all", "device" or "source"; empty without a traffic table."""
    if not data.has_table(con, "traffic"):
        return pd.DataFrame(columns=["week", "kind", "cut", *COUNTS])
    t = data.table(con, "traffic")
    t = t.filter(t.date < end.to_pydatetime()).mutate(week=periods.week_start(t.date))
    sums = {c: t[c].sum() for c in COUNTS}
    parts = [data.fetch(t.group_by("week").aggregate(**sums)).assign(kind="all", cut=ALL)]
    for kind in CUTS:
        part = data.fetch(t.group_by(["week", kind]).aggregate(**sums))
        parts.append(part.rename(columns={kind: "cut"}).assign(kind=kind))
    frame = pd.concat(parts, ignore_index=True)
    frame["week"] = pd.to_datetime(frame["week"])
    frame["cut"] = frame["cut"].astype(str)
    frame = frame[frame.week + pd.Timedelta(days=7) <= end]
    return frame.sort_values(["kind", "cut", "week"]).reset_index(drop=True)


def step_rates(counts: pd.DataFrame) -> pd.DataFrame:
    """Each step's rate per (kind, cut) and week: index (kind, cut, week), columns the steps."""
    frame = counts.set_index(["kind", "cut", "week"])[list(COUNTS)].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return pd.DataFrame({s: frame[b] / frame[a] for s, (a, b) in STEPS.items()})


def last_week_scores(counts: pd.DataFrame) -> pd.DataFrame:
    """The last complete week's step rates against their usual level, one row per (kind, cut,
    step): value, baseline, change (value / baseline - 1), z (NaN while the history is short)
    and seasonal. A cut with no visits that week is left out."""
    if counts.empty:
        return pd.DataFrame(columns=["kind", "cut", "step", "value", "baseline", "change", "z"])
    rates = step_rates(counts)
    last = counts.week.max()
    rows = []
    for (kind, cut), group in rates.groupby(level=["kind", "cut"], sort=False):
        group = group.droplevel(["kind", "cut"])
        if last not in group.index:
            continue
        for step in STEPS:
            series = group[step].replace([np.inf, -np.inf], np.nan).dropna()
            if last not in series.index:
                continue
            scored = weekly.seasonal_scores(series).iloc[-1]
            rows.append(
                {
                    "kind": kind,
                    "cut": cut,
                    "step": step,
                    "value": scored.value,
                    "baseline": scored.baseline,
                    "change": scored.value / scored.baseline - 1,
                    "z": scored.z,
                    "seasonal": bool(scored.seasonal),
                }
            )
    return pd.DataFrame(rows)


def moved_step(scores: pd.DataFrame) -> pd.Series | None:
    """The step that moved: among the (cut, step) rates more than ``weekly.ROBUST_Z`` robust SDs
    from their usual level, the largest relative fall, or the largest rise when none fell; None
    when every step is within its usual range (or none can be judged yet)."""
    if scores.empty:
        return None
    far = scores[scores.z.abs() > weekly.ROBUST_Z]
    if far.empty:
        return None
    fell = far[far.change < 0]
    if len(fell):
        return fell.loc[fell.change.idxmin()]
    return far.loc[far.change.idxmax()]


def cut_label(kind: str, cut: str) -> str:
    """'Mobile', 'Paid search traffic', 'All traffic'."""
    if kind == "all":
        return ALL
    words = cut.replace("_", " ")
    return words[:1].upper() + words[1:] + (" traffic" if kind == "source" else "")


def step_sentence(scores: pd.DataFrame, has_traffic: bool = True) -> str:
    """What the funnel section says: the step that moved, that none did, or what is missing."""
    if not has_traffic:
        return (
            "The funnel needs the optional traffic table (daily sessions by device and source "
            "with product views, carts, checkouts and purchases); add it to see which step moved."
        )
    judged = scores.dropna(subset=["z"]) if not scores.empty else scores
    if judged.empty:
        return (
            "No funnel step can be called usual or unusual yet: the baseline needs "
            f"{weekly.HISTORY_WEEKS} complete weeks of traffic."
        )
    moved = moved_step(scores)
    if moved is None:
        scope = "" if len(judged) == len(scores) else " with enough history"
        return f"Every funnel step{scope} of every device and source was within its usual range."
    sentence = weekly.anomaly_sentence(
        f"{cut_label(moved.kind, moved.cut)}: {moved.step}",
        moved.value,
        moved.baseline,
        moved.seasonal,
    )
    most = "fell most" if moved.change < 0 else "rose most (no step fell outside its usual range)"
    return f"{sentence[:-1]} ({abs(moved.z):.1f} robust SDs): the funnel step that {most}."


def change_table(scores: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Change of each step against its usual level for all traffic and the cuts of ``kind``
    (columns: Traffic, then the steps)."""
    if scores.empty:
        return pd.DataFrame(columns=["Traffic", *STEPS])
    part = scores[scores.kind.isin(["all", kind])]
    table = part.pivot_table(index=["kind", "cut"], columns="step", values="change", sort=False)
    table.index = pd.Index([cut_label(k, c) for k, c in table.index], name="Traffic")
    return table.reindex(columns=list(STEPS)).reset_index()


def rate_table(counts: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The last complete week's step rates for all traffic and the cuts of ``kind`` (columns:
    Traffic, then the steps)."""
    if counts.empty:
        return pd.DataFrame(columns=["Traffic", *STEPS])
    last = counts[(counts.week == counts.week.max()) & counts.kind.isin(["all", kind])]
    rates = step_rates(last).droplevel("week")
    rates.index = pd.Index([cut_label(k, c) for k, c in rates.index], name="Traffic")
    return rates.reset_index()
