"""Numbers as a PM reads them: money in the shop currency, shares as percentages.

Used by the notebooks (through ``plots``) and by the run index, so a value reads the same on
every page. No plotting imports here: the runner imports this module.
"""

from __future__ import annotations

_SYMBOLS = {
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "CNY": "¥",
    "INR": "₹",
    "KRW": "₩",
    "AUD": "A$",
    "CAD": "C$",
    "CHF": "CHF ",
    "BRL": "R$",
    "SEK": "kr ",
    "NOK": "kr ",
    "DKK": "kr ",
    "PLN": "zł ",
    "MXN": "MX$",
}


def currency_symbol(currency: str) -> str:
    return _SYMBOLS.get(currency.upper(), f"{currency.upper()} ")


def format_money(value: float, currency: str, decimals: int = 0) -> str:
    """`$1.2M`, `€350k`, `£12.50`: short and unambiguous for a slide or a table."""
    symbol = currency_symbol(currency)
    sign = "-" if value < 0 else ""
    value = abs(value)
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= threshold:
            return f"{sign}{symbol}{value / threshold:.1f}{suffix}"
    return f"{sign}{symbol}{value:,.{decimals}f}"


def format_pct(value: float, decimals: int = 1) -> str:
    return f"{100 * value:.{decimals}f}%"


_MARKDOWN_SPECIALS = "\\`*_{}<>#+!|$~"
# `\(` and `\[` open formulas in JupyterLab and in the exported pages (MathJax), so brackets
# become HTML entities (no link can form) and parentheses stay as they are
_MARKDOWN_ENTITIES = {"[": "&#91;", "]": "&#93;"}


def md_escape(text: object) -> str:
    """Text that Markdown (and MathJax) shows as written: ``$22.5M`` stays money, not maths.

    Use it wherever a value or a user's text meets a Markdown sentence.
    """
    return "".join(
        _MARKDOWN_ENTITIES.get(c, f"\\{c}" if c in _MARKDOWN_SPECIALS else c) for c in str(text)
    )
