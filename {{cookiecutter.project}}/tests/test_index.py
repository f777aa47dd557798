"""The run index as a stakeholder's brief (design §4): business KPIs first with their change since
the previous run and a visible scale, verdict lines, labelled values, model diagnostics folded
away by one rule (``report.Headline.is_diagnostic``). The browser checks are in test_browser.py."""

from __future__ import annotations

import re
import subprocess
import sys

from {{ cookiecutter.module_name }} import index, report
from {{ cookiecutter.module_name }}._project import CURRENCY
from {{ cookiecutter.module_name }}.formats import format_money


def run(run_id: str, as_of: str | None, revenue: float, ari: float, **extra) -> dict:
    metrics = {
        "wbr_revenue": {"value": revenue, "label": "Revenue, last complete week", "kind": "money"},
        "wbr_conversion": {"value": revenue / 1e7, "label": "Conversion", "kind": "share"},
        "fit": {"value": 0.9, "label": "Own model fit", "kind": "number", "diagnostic": True},
    }
    notebooks = {
        "weekly_business_review": {
            "status": "ok",
            "metrics": metrics,
            "decision": {
                "label": "On track",
                "next_step": r"See `data/exports/x_y.csv`; start **Autofill**; send list\_a.csv.",
            },
        },
        "segmentation": {
            "status": "ok",
            "metrics": {"ari_vs_truth": ari, "lapsed_share": 0.2, "data_as_of": as_of},
        },
    }
    found = {"run_id": run_id, "started_at": f"2026-07-0{run_id[-1]}T07:00:00Z"}
    found["params"] = {"weekly_business_review": {"as_of": as_of or ""}}
    return {**found, "notebooks": notebooks, "alerts": [], **extra}


def test_one_rule_sorts_a_headline_into_business_kpis_or_model_diagnostics():
    diagnostic = {m for m, spec in report.HEADLINES.items() if spec.is_diagnostic}
    for metric in ("brier", "auc_pr", "auc_roc", "ari_vs_truth", "srm_p", "silhouette"):
        assert metric in diagnostic, metric
    for metric in ("churn_rate", "revenue_at_risk", "tam", "nps", "annual_revenue_impact"):
        assert metric not in diagnostic, metric
    # a score or a p-value is a diagnostic; another kind only when its entry says so
    marked = {m for m, spec in report.HEADLINES.items() if spec.diagnostic}
    assert {report.HEADLINES[m].kind for m in diagnostic - marked} <= report.DIAGNOSTIC_KINDS
    assert report.headline("x", {"value": 1, "label": "X", "kind": "score"}).is_diagnostic
    assert not report.headline("x", {"value": 1, "label": "X", "kind": "money"}).is_diagnostic
    assert report.headline("x", {"value": 1, "label": "X", "diagnostic": True}).is_diagnostic


def test_every_kind_a_value_can_have_is_written_by_the_index():
    assert list(index.HEADLINE_FORMATS) == list(report.KINDS)
    assert report.headline("x", {"value": 1, "label": "X", "kind": "furlongs"}).kind == "number"


def test_alerts_are_checked_without_importing_the_pages():
    # the runner's alert check needs a headline's field only: not nbconvert, bleach and the index
    script = (
        "import sys; from {{ cookiecutter.module_name }} import runner; "
        "found, _ = runner.evaluate_alerts({'churn': {'churn_rate': {'max': 0.1}}}, "
        "{'churn': {'churn_rate': 0.2}}); "
        "assert len(found) == 1, found; "
        "pages = {runner.__package__ + '.index', runner.__package__ + '.html'}; "
        "assert not pages & set(sys.modules), pages & set(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)


def test_a_notebook_marks_its_own_diagnostic(monkeypatch):
    monkeypatch.delenv(report.METRICS_ENV, raising=False)
    monkeypatch.setattr(report, "_recorded", {})  # this kernel's record stays as it was
    report.record("my_fit", 0.8, label="My model fit", kind="score")
    report.record("my_lift", 1.8, label="My lift", kind="ratio", diagnostic=True)
    kept = report.recorded()
    assert kept["my_lift"]["diagnostic"] is True and kept["my_lift"]["kind"] == "ratio"
    assert "diagnostic" not in kept["my_fit"]
    assert report.headline("my_lift", kept["my_lift"]).is_diagnostic


def test_changes_read_in_the_units_of_the_value():
    assert index.change_text("money", 200.0, 150.0) == "−25.0%"
    assert index.change_text("share", 0.020, 0.023) == "+0.3 pp"
    assert index.change_text("days", 30, 35) == "+5 days"
    assert index.change_text("count", 0, 2) == "+2"
    assert index.change_text("score", 0.8, 0.75) == "−0.050"
    assert index.change_text("money", 5.0, 5.0) == "no change"


def test_a_run_that_records_no_date_is_placed_by_its_as_of_parameter():
    dated = run("r1", None, 1.0, 0.9)
    assert index.data_date(dated) == "2026-07-01"  # no date and no parameter: the run's start
    dated["params"]["weekly_business_review"]["as_of"] = "2026-06-16"
    assert index.data_date(dated) == "2026-06-16"
    assert index.data_date({**dated, "data_as_of": "2026-06-20"}) == "2026-06-20"


def test_the_brief_puts_business_kpis_first_and_folds_the_diagnostics_away():
    runs = [
        run("r1", "2026-06-30", 200.0, 0.91),
        run("r2", "2026-06-16", 100.0, 0.85),
        run("r3", "2026-06-23", 150.0, 0.88),
    ]
    page = index.reports_index_html(sorted(runs, key=index._data_date_order), "r1")
    diagnostics = page.index("<details")
    assert "<details open" not in page
    assert page.index("Business KPIs") < page.index("Decisions") < diagnostics
    assert page.index("Lapsed customers") < diagnostics  # a business value of another report
    for folded in ("Match with the planted customer types (ARI)", "Own model fit"):
        assert page.index(folded) > diagnostics
    # deltas against the previous data date, and the scale of each history
    # money in the project's currency (a EUR bake writes €150)
    money = {value: format_money(value, CURRENCY) for value in (100, 150, 200)}
    assert f"+33.3%<br><small>vs {money[150]} (2026-06-23)</small>" in page
    assert f'<span class="max">{money[200]}</span><span class="min">{money[100]}</span>' in page
    assert "<span>2026-06-16</span><span>2026-06-30</span>" in page
    assert "Weekly business review: On track." in page
    # the next step's Markdown as it reads in the notebook, not its marks
    assert "<code>data/exports/x_y.csv</code>" in page and "<strong>Autofill</strong>" in page
    assert "list_a.csv" in page and "**" not in page and "\\_" not in page
    text = re.sub(r"<[^>]+>", " ", page.split("</style>")[1])
    text = re.sub(r"\S*/\S*|\S+\.csv\b", " ", text)  # file names: names to type, not keys
    assert not re.findall(r"\b[a-z]+(?:_[a-z0-9]+)+\b", text)


def test_the_run_page_labels_text_values_and_folds_its_diagnostics():
    page = index.run_index_html(run("r1", "2026-06-30", 200.0, 0.91))
    assert "Data as of: <strong>2026-06-30</strong>" in page and "data_as_of" not in page
    row = page[page.index('href="segmentation.html"') :]
    business, folded = row.split('<details class="diagnostics">', 1)
    assert "Lapsed customers" in business and "(ARI)" not in business
    assert "Model diagnostics (1)" in folded and "(ARI)" in folded.split("</details>")[0]
