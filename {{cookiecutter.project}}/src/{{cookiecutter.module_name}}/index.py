"""The index pages: one per run (``reports/<run-id>/index.html``) and one for all runs
(``reports/index.html``, the stakeholder's brief: business KPIs with the change since the previous
run and their history by data date, each report's verdict, and the model diagnostics folded
away; which headline is which is ``report.Headline.is_diagnostic``).

Pages are rendered from summary.json files only, so they can be rebuilt at any time. Every
value is HTML-escaped; the pages hold no script and fetch nothing (inline CSS and SVG).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from . import _project
from .formats import format_money, format_pct
from .html import format_value
from .report import HEADLINES, headline, headline_value

STATUS_WORDS = {"ok": "ok", "failed": "failed", "timeout": "timed out"}
_ORDER = {metric: i for i, metric in enumerate(HEADLINES)}


def load_runs(reports: Path) -> list[dict[str, Any]]:
    """The summary.json of every finished run in ``reports/``, oldest first.

    Unreadable summaries are skipped: one damaged folder must not hide the others.
    """
    runs = []
    for folder in reports.iterdir() if reports.is_dir() else ():
        summary = folder / "summary.json"
        if folder.name.startswith(".") or folder.name == "latest" or not summary.is_file():
            continue
        try:
            loaded = json.loads(summary.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(loaded, dict) and isinstance(loaded.get("notebooks"), dict):
            loaded["run_id"] = folder.name  # the folder is what links point at
            runs.append(loaded)
    return sorted(runs, key=_data_date_order)


def _data_date_order(run: Mapping[str, Any]) -> tuple[str, str, str]:
    """Runs in the order of the data they saw (:func:`data_date`), then of their start: three
    runs at different data dates plot as a history, not a zig-zag of run times."""
    return data_date(run), str(run.get("started_at", "")), str(run.get("run_id", ""))


def data_date(run: Mapping[str, Any]) -> str:
    """The date of the data a run saw: the newest ``data_as_of`` its notebooks recorded, else
    the ``as_of`` parameter its notebooks ran with (one that records no date of its own), else
    the day the run started."""
    if run.get("data_as_of"):
        return str(run["data_as_of"])
    given = sorted(
        str(params["as_of"])
        for params in (run.get("params") or {}).values()
        if isinstance(params, Mapping) and params.get("as_of")
    )
    return given[-1] if given else str(run.get("started_at", ""))[:10]


def latest_run_id(reports: Path) -> str | None:
    """The run ``reports/latest`` points at (a symlink, or the LATEST file of the fallback)."""
    link = reports / "latest"
    if link.is_symlink():
        return Path(link.readlink()).name
    marker = reports / "LATEST"
    if marker.is_file():
        return marker.read_text(encoding="utf-8").strip() or None
    return None


def run_index_html(summary: Mapping[str, Any]) -> str:
    """The page of one run: each notebook with status, time, headline values and alerts."""
    notebooks: Mapping[str, Any] = summary["notebooks"]
    not_ok = [name for name, nb in notebooks.items() if nb["status"] != "ok"]
    if not_ok:
        listed = ", ".join(f"{n} ({STATUS_WORDS[notebooks[n]['status']]})" for n in not_ok)
        verdict = (
            f'<p class="verdict bad">{len(not_ok)} of {len(notebooks)} reports did not finish: '
            f"{escape(listed)}. Their pages show where they stopped.</p>"
        )
    else:
        verdict = f'<p class="verdict good">All {len(notebooks)} reports ran.</p>'
    rows = "".join(
        _notebook_row(name, nb, _currency(summary, name)) for name, nb in notebooks.items()
    )
    body = (
        f"<h1>{escape(_project.PROJECT_NAME)}: run {escape(summary['run_id'])}</h1>"
        f'<p class="meta">{_run_facts(summary)}</p>{verdict}{_alerts(summary)}'
        "<table><thead><tr><th>Report</th><th>Status</th><th>Time</th>"
        f"<th>Headline values</th></tr></thead><tbody>{rows}</tbody></table>"
        '<footer><a href="../index.html">All runs</a> · <a href="summary.json">summary.json</a>'
        ' · <a href="run.log">run.log</a></footer>'
    )
    return _page(f"{_project.PROJECT_NAME}: run {summary['run_id']}", body)


def reports_index_html(runs: Sequence[Mapping[str, Any]], latest: str | None) -> str:
    """The page of all runs: the latest complete run, value histories, every run."""
    latest_run = next((run for run in runs if run["run_id"] == latest), None)
    if latest_run is not None:
        lead = (
            f'<p class="verdict good">Latest complete run: <a href="latest/index.html">'
            f"{escape(latest_run['run_id'])}</a> ({_run_facts(latest_run)}).</p>"
        )
    else:
        lead = (
            '<p class="verdict bad">No full run has been published yet: a run of every report '
            "with no errors becomes the latest; partial runs (--only, -p) are listed below.</p>"
        )
    history = metric_history(runs)
    weekly = {key: points for key, points in history.items() if key[0] == LEAD_REPORT}
    others = {key: points for key, points in history.items() if key[0] != LEAD_REPORT}
    lead_kpis = _value_table(runs, weekly, "business", with_report=False)
    other_kpis = _value_table(runs, others, "business", with_report=True)
    diagnostics = _value_table(runs, history, "diagnostic", with_report=True)
    body = (
        f"<h1>{escape(_project.PROJECT_NAME)}: reports</h1>{lead}"
        + (f"<h2>Business KPIs</h2>{lead_kpis}" if lead_kpis else "")
        + _decisions(runs)
        + "<h2>Headline values over time</h2>"
        + (other_kpis or f"<p>No {'other ' if lead_kpis else ''}headline values recorded yet.</p>")
        + (
            '<details class="diagnostics"><summary>Model diagnostics: how well the models '
            f"and tests fit (not business results)</summary>{diagnostics}</details>"
            if diagnostics
            else ""
        )
        + f"<h2>All runs</h2>{_runs_table(runs, latest)}"
    )
    return _page(f"{_project.PROJECT_NAME}: reports", body)


def metric_history(runs: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], list[tuple]]:
    """(notebook, metric) → [(run_id, number), ...], oldest first, from ok notebooks only;
    a report's values in the order of ``report.HEADLINES``, then in the order it recorded them."""
    history: dict[tuple[str, str], list[tuple]] = {}
    for run in runs:
        for name, nb in run["notebooks"].items():
            if nb.get("status") != "ok":
                continue
            for metric, recorded in (nb.get("metrics") or {}).items():
                value = headline_value(recorded, headline(metric).field)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    history.setdefault((name, metric), []).append((run["run_id"], value))
    # a stable sort: values with the same rank keep the order they were first recorded in
    return dict(sorted(history.items(), key=lambda item: (item[0][0], _rank(item[0][1]))))


def _rank(metric: str) -> int:
    """Sort key: the order of ``report.HEADLINES`` (the most telling first), the rest after it
    (sorted stably, so in the order the notebook recorded them)."""
    return _ORDER.get(metric, len(_ORDER))


# How each kind of ``report.Headline`` is written: (value, currency) -> text.
HEADLINE_FORMATS: dict[str, Callable[[float, str], str]] = {  # one per report.KINDS
    "share": lambda v, _c: format_pct(v),
    "money": lambda v, c: format_money(v, c, 2 if abs(v) < 100 else 0),
    "count": lambda v, _c: f"{v:,.0f}",
    "days": lambda v, _c: f"{v:,.0f} days",
    "score": lambda v, _c: f"{v:.3f}",
    "ratio": lambda v, _c: f"{v:.2f}×",
    "p_value": lambda v, _c: f"{v:.2g}" if v < 0.01 else f"{v:.3f}",
    "number": lambda v, _c: format_value(v),
    "text": lambda v, _c: format_value(v),  # a date or a file name: shown as recorded
}


def format_headline(
    metric: str, value: Any, currency: str = _project.CURRENCY, recorded: Any = None
) -> str:
    """A headline value as a stakeholder reads it: ``$146.6k``, ``52.5%``, ``35 days``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return format_value(value)
    return HEADLINE_FORMATS[headline(metric, recorded).kind](value, currency)


def _currency(run: Mapping[str, Any], notebook: str) -> str:
    """The currency a notebook ran with (its ``currency`` parameter), else the project's."""
    params = (run.get("params") or {}).get(notebook) or {}
    return str(params.get("currency") or _project.CURRENCY)


def change_text(kind: str, previous: float, newest: float, currency: str = "") -> str:
    """The change since the previous run as a stakeholder reads it: percentage points for a
    share, days for a duration, the relative change for money and counts, the difference when
    the previous value was zero or for a score."""
    difference = newest - previous
    if difference == 0:
        return "no change"
    sign = "+" if difference > 0 else "−"
    if kind == "share":
        return f"{sign}{abs(difference) * 100:.1f} pp"
    if kind == "days":
        return f"{sign}{abs(difference):,.0f} days"
    if kind in ("money", "count", "number", "ratio") and previous:
        return f"{sign}{abs(difference / previous):.1%}"
    if kind in HEADLINE_FORMATS:
        return sign + HEADLINE_FORMATS[kind](abs(difference), currency)
    return f"{sign}{format_value(abs(difference))}"


def sparkline_svg(
    values: Sequence[float],
    width: int = 120,
    height: int = 28,
    text: Callable[[float], str] = format_value,
) -> str:
    """A small inline SVG line of the values (oldest left), the newest marked with a dot;
    ``text`` writes a value for the label read by screen readers and shown on hover."""
    points = [float(v) for v in values]
    if not points:
        return ""
    pad = 3.0
    low, high = min(points), max(points)
    step = (width - 2 * pad) / max(len(points) - 1, 1)

    def y(value: float) -> float:
        if high == low:
            return height / 2
        return height - pad - (value - low) / (high - low) * (height - 2 * pad)

    coords = [(pad + i * step, y(v)) for i, v in enumerate(points)]
    line = " ".join(f"{x:.1f},{yy:.1f}" for x, yy in coords)
    label = f"{len(points)} runs, from {text(low)} to {text(high)}, newest {text(points[-1])}"
    return (
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(label)}"><title>{escape(label)}</title>'
        f'<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{line}"/>'
        f'<circle cx="{coords[-1][0]:.1f}" cy="{coords[-1][1]:.1f}" r="2.5"/></svg>'
    )


def _notebook_row(name: str, nb: Mapping[str, Any], currency: str) -> str:
    status = nb["status"]
    metrics = nb.get("metrics") or {}
    shown = {m: headline_value(value, headline(m, value).field) for m, value in metrics.items()}
    shown = {m: shown[m] for m in sorted(shown, key=_rank) if shown[m] is not None}
    items = {
        metric: f"<li>{escape(headline(metric, metrics[metric]).label)}: "
        f"<strong>{escape(format_headline(metric, value, currency, metrics[metric]))}</strong></li>"
        for metric, value in shown.items()
    }
    folded = [m for m in items if headline(m, metrics[m]).is_diagnostic]
    values = "".join(item for m, item in items.items() if m not in folded)
    if len(shown) < len(metrics):
        values += f'<li class="more">{len(metrics) - len(shown)} more in summary.json</li>'
    cell = f"<ul>{values}</ul>" if values else ""
    if folded:
        cell += (
            f'<details class="diagnostics"><summary>Model diagnostics ({len(folded)})</summary>'
            f"<ul>{''.join(items[m] for m in folded)}</ul></details>"
        )
    error = nb.get("error")
    if error:
        where = f"cell {error['cell']}: " if error.get("cell") is not None else ""
        said = error.get("message") or error.get("exception", "")  # plain words when recorded
        cell = f'<p class="error">{escape(where + str(said))}</p>{cell}'
    return (
        f'<tr><td><a href="{escape(name)}.html">{escape(_humanise(name))}</a><br>'
        f'<small><a href="{escape(name)}.ipynb">executed notebook</a></small></td>'
        f'<td class="nowrap"><span class="status {escape(status)}">'
        f"{escape(STATUS_WORDS.get(status, status))}</span></td>"
        f'<td class="nowrap">{_seconds(nb.get("seconds"))}</td><td>{cell}</td></tr>'
    )


def alert_text(alert: Mapping[str, Any], summary: Mapping[str, Any] | None = None) -> str:
    """An alert in a stakeholder's words ("Weekly business review: KPIs outside their usual
    range is 2, above the maximum 0."), named and written as the run's pages show the value;
    its logged message when a field is missing."""
    try:
        name, metric = str(alert["notebook"]), str(alert["metric"])
        value, limit, bound = float(alert["value"]), float(alert["limit"]), alert["bound"]
    except (KeyError, TypeError, ValueError):
        return str(alert.get("message", ""))
    notebook = ((summary or {}).get("notebooks") or {}).get(name) or {}
    recorded = (notebook.get("metrics") or {}).get(metric)
    currency = _currency(summary or {}, name)
    label = headline(metric, recorded).label
    side = "below the minimum" if bound == "min" else "above the maximum"
    shown, bound_shown = (format_headline(metric, v, currency, recorded) for v in (value, limit))
    return f"{_humanise(name)}: {label} is {shown}, {side} {bound_shown}."


def _alerts(summary: Mapping[str, Any]) -> str:
    alerts = summary.get("alerts") or []
    if not alerts:
        return ""
    items = "".join(f"<li>{escape(alert_text(alert, summary))}</li>" for alert in alerts)
    return (
        f'<section class="alerts"><h2>Alerts</h2><p>These headline values are outside the '
        f"bounds in params/alerts.yaml:</p><ul>{items}</ul></section>"
    )


LEAD_REPORT = "weekly_business_review"  # its KPIs lead the brief


def _value_table(
    runs: Sequence[Mapping[str, Any]],
    history: Mapping[tuple[str, str], list[tuple]],
    group: str,
    *,
    with_report: bool,
) -> str:
    """One row per headline of ``group`` ("business" or "diagnostic", by
    ``Headline.is_diagnostic``): the newest value by data date, its change since the previous
    run, and its history as a sparkline with its scale (highest and lowest value, first and
    last data date) written beside it. Empty when no headline is of the group."""
    newest_alerts = (runs[-1].get("alerts") or []) if runs else []
    alerted = {(alert["notebook"], alert["metric"]) for alert in newest_alerts}
    by_id = {run["run_id"]: run for run in runs}
    rows = []
    for (name, metric), points in history.items():
        run_id, newest = points[-1]
        recorded = (by_id[run_id]["notebooks"][name].get("metrics") or {}).get(metric)
        spec = headline(metric, recorded)
        if spec.is_diagnostic != (group == "diagnostic"):
            continue
        currency = _currency(by_id[run_id], name)

        def text(v: float, metric: str = metric, c: str = currency, r: Any = recorded) -> str:
            return format_headline(metric, v, c, r)

        values = [v for _, v in points]
        dates = [data_date(by_id[rid]) for rid, _ in points]
        if len(points) > 1:
            change = escape(change_text(spec.kind, points[-2][1], newest, currency))
            change += f"<br><small>vs {escape(text(points[-2][1]))} ({escape(dates[-2])})</small>"
        else:
            change = "first run"
        flag = ' <span class="status failed">alert</span>' if (name, metric) in alerted else ""
        report_cell = f"<td>{escape(_humanise(name))}</td>" if with_report else ""
        rows.append(
            f"<tr>{report_cell}<td>{escape(spec.label)}</td>"
            f"<td><strong>{escape(text(newest))}</strong>{flag}</td>"
            f'<td class="change">{change}</td>'
            f"<td>{_spark_with_scale(values, dates, text)}</td>"
            f'<td class="nowrap"><a href="{escape(run_id)}/{escape(name)}.html">'
            f"{escape(dates[-1])}</a></td></tr>"
        )
    if not rows:
        return ""
    head = "<th>Report</th>" if with_report else ""
    return (
        f'<table class="values {group}"><thead><tr>{head}<th>Value</th><th>Newest</th>'
        "<th>Change since the previous run</th><th>History by data date</th>"
        f"<th>Data as of</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _spark_with_scale(
    values: Sequence[float], dates: Sequence[str], text: Callable[[float], str]
) -> str:
    """The sparkline with a visible scale: its highest and lowest value on the left, its first
    and last data date below (one point per run, oldest data left)."""
    high, low = escape(text(max(values))), escape(text(min(values)))
    y_scale = f'<span class="max">{high}</span>'
    if low != high:
        y_scale += f'<span class="min">{low}</span>'
    ends = [dates[0]] if dates[0] == dates[-1] else [dates[0], dates[-1]]
    x_scale = "".join(f"<span>{escape(date)}</span>" for date in ends)
    line = sparkline_svg(values, width=SCALED_WIDTH, height=40, text=text)
    return (
        f'<div class="spark-box"><div class="y-scale">{y_scale}</div>{line}'
        f'<div class="x-scale">{x_scale}</div></div>'
    )


SCALED_WIDTH = 160  # px: the sparkline beside its scale, wide enough for two dates below it


def _decisions(runs: Sequence[Mapping[str, Any]]) -> str:
    """Each report's verdict and next step, from the newest run (by data date) that has one."""
    lines: dict[str, str] = {}
    for run in runs:
        for name, nb in run["notebooks"].items():
            # the runner keeps it beside the metrics; a notebook's own record among them
            decision = nb.get("decision") or (nb.get("metrics") or {}).get("decision")
            if nb.get("status") == "ok" and isinstance(decision, Mapping):
                label = _inline_markdown(str(decision.get("label", "")))
                step = _inline_markdown(str(decision.get("next_step", "")))
                lines[name] = (
                    f"<li><strong>{escape(_humanise(name))}: {label}.</strong> "
                    f"Next step: {step}</li>"
                )
    if not lines:
        return ""
    order = sorted(lines, key=lambda n: (n != "weekly_business_review", n))
    return f"<h2>Decisions</h2><ul>{''.join(lines[n] for n in order)}</ul>"


def _inline_markdown(text: str) -> str:
    """A decision line as its Markdown reads (it is written for the notebook): escaped text with
    `code` spans (file names) as <code>, **bold** as <strong> and \\_ escapes as the character."""
    html = re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text, quote=False))
    html = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html)
    return re.sub(r"\\([\\`*_{}\[\]()#+\-.!|])", r"\1", html)


def _runs_table(runs: Sequence[Mapping[str, Any]], latest: str | None) -> str:
    if not runs:
        return "<p>No runs yet: <code>make reports</code> starts one.</p>"
    rows = []
    for run in reversed(runs):
        statuses = [nb["status"] for nb in run["notebooks"].values()]
        counts = ", ".join(
            f"{statuses.count(s)} {STATUS_WORDS[s]}" for s in STATUS_WORDS if statuses.count(s)
        )
        mark = ' <span class="status ok">latest</span>' if run["run_id"] == latest else ""
        rows.append(
            f'<tr><td><a href="{escape(run["run_id"])}/index.html">{escape(run["run_id"])}</a>'
            f"{mark}</td><td>{escape(str(run.get('started_at', '')))}</td>"
            f"<td>{escape(counts)}</td><td>{len(run.get('alerts') or [])}</td>"
            f"<td>{escape(data_date(run))}</td></tr>"
        )
    return (
        "<table><thead><tr><th>Run</th><th>Started (UTC)</th><th>Reports</th><th>Alerts</th>"
        f"<th>Data as of</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _run_facts(summary: Mapping[str, Any]) -> str:
    facts = [f"started {summary.get('started_at', '?')}"]
    if summary.get("finished_at"):
        facts.append(f"finished {summary['finished_at']}")
    if summary.get("data_as_of"):
        facts.append(f"data as of {summary['data_as_of']}")
    return escape(" · ".join(facts))


def _seconds(value: Any) -> str:
    return f"{value:,.1f} s" if isinstance(value, int | float) else ""


def _humanise(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d1d1f;
  max-width: 1100px; margin: 0 auto; padding: 1rem 1.5rem; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.25rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
.meta { color: #555; margin-top: 0; }
.verdict { padding: 0.5rem 0.75rem; border-radius: 6px; }
.verdict.good { background: #eaf6ec; border-left: 4px solid #1e7b34; }
.verdict.bad { background: #fdecea; border-left: 4px solid #b3261e; }
.alerts { background: #fff4e5; border-left: 4px solid #b86e00; padding: 0.25rem 1rem;
  border-radius: 6px; margin: 1rem 0; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0 1rem; }
th, td { text-align: left; vertical-align: top; padding: 0.4rem 0.6rem;
  border-bottom: 1px solid #e3e3e3; }
th { font-weight: 600; background: #f6f6f6; }
td ul { margin: 0; padding-left: 1.1rem; }
.status { display: inline-block; padding: 0 0.45rem; border-radius: 999px; font-size: 0.85rem;
  background: #eee; }
.status.ok { background: #eaf6ec; color: #1e7b34; }
.status.failed, .status.timeout { background: #fdecea; color: #b3261e; }
.error { color: #b3261e; margin: 0 0 0.3rem; }
.nowrap { white-space: nowrap; }
.more { color: #555; list-style: none; }
.spark { color: #1e6fd9; vertical-align: middle; grid-area: line; }
.spark-box { display: inline-grid; grid-template-columns: auto 160px; white-space: nowrap;
  grid-template-areas: "y line" ". x"; column-gap: 0.3rem; font-size: 0.75rem; color: #555; }
.y-scale { grid-area: y; display: flex; flex-direction: column; justify-content: space-between;
  text-align: right; line-height: 1; }
.x-scale { grid-area: x; display: flex; justify-content: space-between; }
details.diagnostics { margin: 1.5rem 0; }
details.diagnostics > summary { cursor: pointer; font-weight: 600; }
footer { margin-top: 2rem; color: #555; font-size: 0.9rem; }
a { color: #1e5bb8; }
"""
