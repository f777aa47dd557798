"""House style for charts and tables: readable fonts, labelled axes, money in the shop currency.

Figures are saved at a modest dpi so shared HTML stays small.
"""

from __future__ import annotations

from collections.abc import Iterable

import matplotlib as mpl
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FuncFormatter

# Number formats live in `formats` (no matplotlib there: the run index uses them too); the
# notebooks call them through this module with the rest of the house style.
from .formats import currency_symbol, format_money, format_pct  # noqa: F401

PALETTE = ["#2E5EAA", "#E07A1F", "#3A9D5D", "#C0392B", "#7D5BA6", "#8C8C8C", "#17A2B8"]


def use_house_style() -> None:
    """Apply the house style to every chart drawn afterwards in this kernel."""
    sns.set_theme(style="whitegrid", palette=PALETTE, font_scale=1.05)
    mpl.rcParams.update(
        {
            "figure.figsize": (8, 4.2),
            "figure.dpi": 90,
            "savefig.dpi": 90,
            "axes.titleweight": "bold",
            "axes.titlesize": 13,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "figure.autolayout": True,
        }
    )


def money_axis(ax: plt.Axes, currency: str, axis: str = "y") -> None:
    """Format an axis as money in the shop currency."""
    formatter = FuncFormatter(lambda v, _pos: format_money(v, currency))
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(formatter)


def pct_axis(ax: plt.Axes, axis: str = "y", decimals: int = 0) -> None:
    formatter = FuncFormatter(lambda v, _pos: format_pct(v, decimals))
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(formatter)


def styled_table(
    frame: pd.DataFrame,
    *,
    currency: str,
    money: Iterable[str] = (),
    pct: Iterable[str] = (),
    decimals: dict[str, int] | None = None,
):
    """A pandas Styler with money and percentage columns formatted; the index hidden."""
    formats = {
        col: (lambda v, c=currency: format_money(v, c, 2 if abs(v) < 100 else 0)) for col in money
    }
    formats.update({col: (lambda v: format_pct(v)) for col in pct})
    formats.update({col: f"{{:,.{d}f}}" for col, d in (decimals or {}).items()})
    # escape="html": product names and segment labels come from data and must render inert
    return frame.style.format(formats, na_rep="–", escape="html").hide(axis="index")


def share_heatmap(frame: pd.DataFrame, title: str) -> plt.Axes:
    """A table of shares (e.g. cohorts x months since the first order) as a labelled heatmap;
    unknown cells (NaN) stay blank."""
    height = max(2.5, 0.32 * len(frame) + 1.2)
    _fig, ax = plt.subplots(figsize=(9, height))
    sns.heatmap(
        frame.astype(float),
        ax=ax,
        annot=True,
        fmt=".0%",
        cmap="Blues",
        vmin=0,
        vmax=1,
        cbar=False,
        annot_kws={"fontsize": 8},
    )
    ax.set_title(title)
    ax.set_xlabel(frame.columns.name or "")
    ax.set_ylabel(frame.index.name or "")
    return ax
