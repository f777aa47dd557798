"""One CRM plan: exactly one recommended action per customer, from segments and churn risk.

The segmentation report says where each customer is in their life with us (RFM segment); the
churn report says who is likely to leave (the at-risk list, with its expected value and a
random holdout that must not be contacted). Read side by side they can give the same customer
two instructions ("reward without discounts" and "win back now"). :func:`customer_actions`
joins them into one table and picks one action per customer by the precedence rules of the
"Customer actions" table in ``docs/decisions.md`` (rules CA-1 to CA-4, tried from the top):

- CA-1 held out by the churn campaign -> ``no contact (holdout)``;
- CA-2 on the at-risk list and valuable (a high-value segment, or expected value at least the
  list's median) -> ``retention: personal outreach``;
- CA-3 on the at-risk list otherwise -> ``retention: reminder``;
- CA-4 everyone else -> their RFM segment's action (``SEGMENT_ACTIONS``), the words the
  segmentation report prints.

:func:`write_customer_actions` reads the two exports from one folder (either may be missing:
each report can be switched off) and writes ``customer_actions.csv`` there atomically. The
runner calls it on the staged exports of a full run once every report has succeeded.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .config import write_atomically
from .errors import UserError, require_columns

SEGMENTS_FILE = "segment_membership.parquet"  # written by the segmentation report
AT_RISK_FILE = "churn_at_risk.csv"  # written by the churn report
ACTIONS_FILE = "customer_actions.csv"

LAPSED = "Lapsed"  # the segment of customers silent past the shop's lapse threshold

# What to do for each RFM segment when nothing ranks higher (rule CA-4). The segmentation
# report shows these same words next to each segment.
SEGMENT_ACTIONS: dict[str, str] = {
    "Champions": "Reward and involve them: early access, referrals, reviews. No discounts needed.",
    "Loyal customers": "Upsell higher-value products and invite them to the loyalty programme.",
    "Potential loyalists": "Build the habit: membership offer and personalised recommendations.",
    "New customers": "Onboard well: welcome series and a nudge to a second order within 30 days.",
    "Promising": "Show best-sellers and a small time-limited incentive for the next order.",
    "Need attention": "Re-engage with a limited-time offer based on what they bought before.",
    "About to sleep": "Reach out now with popular products and a modest reminder offer.",
    "At risk": "Personal win-back messages; ask what changed and fix it.",
    "Can't lose them": "Win back personally: new range, a strong offer, a call or survey.",
    "Hibernating": "Low-cost reactivation only: one relevant offer, then leave them be.",
    "Lost": "Do not spend on them: one last try at most, then exclude from paid retargeting.",
    LAPSED: "Silent past the shop's lapse threshold: one low-cost win-back message at most, "
    "then exclude from paid retargeting.",
}

HOLDOUT_ACTION = "No contact (holdout)"
RETAIN_PERSONAL = "Retention: personal outreach (a personal email or call), no blanket discount."
RETAIN_REMINDER = "Retention: a reminder with what they bought before and a modest offer."
# Segments whose customers are valuable by what they did: at risk, they get the personal touch.
HIGH_VALUE_SEGMENTS = frozenset({"Champions", "Loyal customers", "Can't lose them"})

COLUMNS = (
    "customer_id",
    "rfm_segment",
    "cluster",
    "on_at_risk_list",
    "churn_score",
    "churn_rank",
    "expected_value",
    "holdout",
    "action",
    "rule",
)
SCORE_COLUMNS = ("churn_probability", "score", "ranking_score", "risk_score", "churn_score")
VALUE_COLUMNS = ("expected_value", "value", "expected_value_horizon")
_TRUE = {"true", "1", "yes", "t", "y"}
_FALSE = {"false", "0", "no", "f", "n"}


def _pick(frame: pd.DataFrame, candidates: tuple[str, ...], what: str, source: str) -> str:
    for name in candidates:
        if name in frame.columns:
            return name
    raise UserError(
        f"The {source} has no {what} column (looked for {', '.join(candidates)}); it has "
        f"{', '.join(map(str, frame.columns))}. Re-run the report that writes it."
    )


def _require(frame: pd.DataFrame, columns: tuple[str, ...], source: str) -> None:
    require_columns(frame.columns, columns, f"The {source}", "Re-run the report that writes it.")


def _booleans(values: pd.Series, column: str, source: str) -> pd.Series:
    """True/False from booleans, 0/1 or their spellings in a CSV; anything else is refused."""
    if values.dtype == bool:
        return values
    text = values.astype("string").str.strip().str.lower()
    unknown = text.isna() | ~text.isin(_TRUE | _FALSE)
    if unknown.any():
        example = values[unknown].iloc[0]
        raise UserError(
            f"The {source} column {column!r} must be true or false for every customer; found "
            f"{example!r} ({int(unknown.sum())} row(s)). Re-run the report that writes it."
        )
    return text.isin(_TRUE).astype(bool)


def _unique_ids(frame: pd.DataFrame, source: str) -> None:
    if frame["customer_id"].isna().any():
        raise UserError(f"The {source} has rows without a customer_id; re-run its report.")
    if frame["customer_id"].duplicated().any():
        count = int(frame["customer_id"].duplicated().sum())
        raise UserError(
            f"The {source} lists {count} customer(s) more than once; each customer must appear "
            "once. Re-run its report."
        )


def normalise_at_risk(at_risk: pd.DataFrame, source: str = "at-risk list") -> pd.DataFrame:
    """The churn at-risk export as ``customer_id, churn_score, churn_rank, expected_value,
    holdout``; a missing column is named in a :class:`UserError`.

    A list written before the churn report had ranks and a holdout (no ``rank`` and no
    ``holdout`` column) is read as ranked in file order with nobody held out; a list with only
    one of the two is refused (a misspelt column must not silently contact the holdout).
    """
    _require(at_risk, ("customer_id",), source)
    legacy = "rank" not in at_risk.columns and "holdout" not in at_risk.columns
    if not legacy:
        _require(at_risk, ("rank", "holdout"), source)
    score = _pick(at_risk, SCORE_COLUMNS, "churn score", source)
    value = _pick(at_risk, VALUE_COLUMNS, "expected-value", source)
    _unique_ids(at_risk, source)
    rank = np.arange(1, len(at_risk) + 1) if legacy else at_risk["rank"]
    holdout = (
        np.zeros(len(at_risk), dtype=bool)
        if legacy
        else _booleans(at_risk["holdout"], "holdout", source).to_numpy()
    )
    frame = pd.DataFrame(
        {
            "customer_id": at_risk["customer_id"].astype("string"),
            "churn_score": pd.to_numeric(at_risk[score], errors="coerce"),
            "churn_rank": pd.to_numeric(pd.Series(rank, index=at_risk.index), errors="coerce"),
            "expected_value": pd.to_numeric(at_risk[value], errors="coerce"),
            "holdout": holdout,
        }
    )
    for column, name in (("churn_score", score), ("churn_rank", "rank"), ("expected_value", value)):
        if frame[column].isna().any():
            raise UserError(
                f"The {source} column {name!r} has {int(frame[column].isna().sum())} empty or "
                "non-numeric value(s); re-run the churn report."
            )
    return frame


def normalise_segments(segments: pd.DataFrame, source: str = "segment list") -> pd.DataFrame:
    """The segment export as ``customer_id, rfm_segment, cluster, expected_value``."""
    _require(segments, ("customer_id", "rfm_segment"), source)
    _unique_ids(segments, source)
    unknown = ~segments["rfm_segment"].isin(list(SEGMENT_ACTIONS))
    if unknown.any():
        raise UserError(
            f"The {source} names segment {segments['rfm_segment'][unknown].iloc[0]!r}, which has "
            f"no action; known segments: {', '.join(SEGMENT_ACTIONS)}. Re-run segmentation."
        )
    return pd.DataFrame(
        {
            "customer_id": segments["customer_id"].astype("string"),
            "rfm_segment": segments["rfm_segment"].astype("string"),
            "cluster": segments["cluster"].astype("string") if "cluster" in segments else pd.NA,
            "segment_value": pd.to_numeric(segments["expected_value"], errors="coerce")
            if "expected_value" in segments
            else np.nan,
        }
    )


def customer_actions(segments: pd.DataFrame | None, at_risk: pd.DataFrame | None) -> pd.DataFrame:
    """One row per customer with exactly one recommended ``action`` and the ``rule`` behind it.

    Parameters
    ----------
    segments
        The segmentation export (``customer_id``, ``rfm_segment``, optionally ``cluster`` and
        ``expected_value``), or ``None`` when segmentation did not run.
    at_risk
        The churn at-risk export (``customer_id``, a score such as ``churn_probability``,
        ``rank``, ``expected_value``, ``holdout``), or ``None`` when churn did not run.

    Returns
    -------
    DataFrame with ``COLUMNS``: every customer of either input once (the at-risk list's
    customers first, by rank, then the others by id). ``expected_value`` is the churn list's
    value where the customer is on it, else the segment export's.
    """
    if segments is None and at_risk is None:
        raise UserError(
            "Neither a segment list nor an at-risk list was given: run the segmentation or the "
            "churn report first."
        )
    seg = normalise_segments(segments) if segments is not None else None
    risk = normalise_at_risk(at_risk) if at_risk is not None else None
    if seg is None:
        table = risk.assign(rfm_segment=pd.NA, cluster=pd.NA, segment_value=np.nan)
    elif risk is None:
        table = seg.assign(churn_score=np.nan, churn_rank=np.nan, expected_value=np.nan)
        table["holdout"] = False
    else:
        table = seg.merge(risk, on="customer_id", how="outer")
    on_list = table["churn_rank"].notna()
    holdout = table["holdout"].astype("boolean").fillna(False).astype(bool)
    table["holdout"] = holdout
    table["on_at_risk_list"] = on_list
    table["expected_value"] = table["expected_value"].where(on_list, table["segment_value"])
    list_median = float(table.loc[on_list, "expected_value"].median()) if on_list.any() else 0.0
    valuable = table["rfm_segment"].isin(list(HIGH_VALUE_SEGMENTS)).fillna(False) | (
        table["expected_value"].fillna(-np.inf) >= list_median
    )
    segment_action = table["rfm_segment"].map(SEGMENT_ACTIONS)
    rules = [
        ("CA-1", holdout, HOLDOUT_ACTION),
        ("CA-2", on_list & valuable, RETAIN_PERSONAL),
        ("CA-3", on_list, RETAIN_REMINDER),
        ("CA-4", segment_action.notna(), segment_action),
    ]
    action = pd.Series(pd.NA, index=table.index, dtype="object")
    rule = pd.Series(pd.NA, index=table.index, dtype="object")
    for rule_id, condition, chosen in rules:
        take = condition.to_numpy(dtype=bool) & action.isna().to_numpy()
        chosen = chosen if isinstance(chosen, pd.Series) else pd.Series(chosen, index=table.index)
        action[take] = chosen[take]
        rule[take] = rule_id
    if action.isna().any():  # cannot happen: CA-3 or CA-4 holds for every row of either input
        raise RuntimeError("A customer got no action; the precedence table has a gap.")
    table["action"], table["rule"] = action, rule
    table = table.sort_values(
        ["on_at_risk_list", "churn_rank", "customer_id"],
        ascending=[False, True, True],
        na_position="last",
        kind="stable",
    )
    return table[list(COLUMNS)].reset_index(drop=True)


def action_counts(actions: pd.DataFrame) -> pd.DataFrame:
    """Customers per rule and action (for a page: counts only, no customer)."""
    return actions.groupby(["rule", "action"], sort=True).size().rename("customers").reset_index()


def overlap(actions: pd.DataFrame) -> Mapping[str, int]:
    """How the at-risk list and the segments meet: at-risk customers per RFM segment."""
    listed = actions[actions["on_at_risk_list"]]
    return listed["rfm_segment"].fillna("(no segment)").value_counts().to_dict()


def _read(path: Path) -> pd.DataFrame:
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype={"customer_id": "string"})


def _find(exports_dir: Path, name: str) -> Path | None:
    """The export by its name, or with the other suffix (.csv / .parquet) when written so."""
    stem = Path(name).stem
    for candidate in (name, f"{stem}.parquet", f"{stem}.csv"):
        if (exports_dir / candidate).is_file():
            return exports_dir / candidate
    return None


def write_customer_actions(exports_dir: Path) -> Path | None:
    """Write ``customer_actions.csv`` into ``exports_dir`` from the exports found there.

    Reads ``segment_membership.parquet`` (or .csv) and ``churn_at_risk.csv`` (or .parquet);
    either may be missing (that report is switched off). Returns the path written, or ``None``
    when neither export is there. Written atomically: a reader never sees half a file.
    """
    exports_dir = Path(exports_dir)
    segments_path = _find(exports_dir, SEGMENTS_FILE)
    at_risk_path = _find(exports_dir, AT_RISK_FILE)
    if segments_path is None and at_risk_path is None:
        return None
    table = customer_actions(
        _read(segments_path) if segments_path else None,
        _read(at_risk_path) if at_risk_path else None,
    )
    return write_atomically(
        exports_dir / ACTIONS_FILE,
        lambda tmp: table.to_csv(tmp, index=False, float_format="%.6g"),
    )
