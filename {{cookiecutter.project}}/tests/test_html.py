"""Stakeholder HTML and index pages, from hand-made executed notebooks (no kernel needed).

Whether anything can run is judged by an independent parser (the standard library's
html.parser): no script element, no event-handler attribute, no javascript: link, nothing
fetched from the web.
"""

from __future__ import annotations

import base64
from html.parser import HTMLParser

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_output

from {{ cookiecutter.module_name }} import html, index, report, runner

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()


class Elements(HTMLParser):
    """Every start tag with its attributes, as a browser's tokenizer sees them."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def named(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.tags if tag == name]


def active_content(page: str) -> list[str]:
    """What a browser would run or fetch when the page opens."""
    found = []
    for tag, attrs in Elements(page).tags:
        if tag in {"script", "iframe", "object", "embed", "link", "base", "form"}:
            found.append(f"<{tag}>")
        for name, value in attrs.items():
            value = (value or "").strip().lower()
            if name.startswith("on"):
                found.append(f"{tag}[{name}]")
            if name in {"href", "src", "action"} and value.startswith("javascript:"):
                found.append(f"{tag}[{name}=javascript:]")
            fetching = name in {"src", "srcset", "poster", "background"}
            if fetching and value.startswith(("http", "//")):
                found.append(f"{tag}[{name}] fetches {value}")
    return found


def cell(kind, source="", tags=(), outputs=()):
    made = new_markdown_cell(source) if kind == "md" else new_code_cell(source)
    if tags:
        made.metadata["tags"] = list(tags)
    if kind == "code":
        made.outputs = list(outputs)
        made.execution_count = 1
    return made


def display(mime: str, value: str):
    return new_output("display_data", data={mime: value, "text/plain": "<fallback>"})


@pytest.fixture
def executed():
    """An executed notebook with every kind of cell and output a report can contain."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [
        cell("md", "# Weekly KPIs\n\nWhat sold."),
        cell("code", "lookback_days: int = 90  # PARAM-CELL", ["parameters"]),
        cell("code", "lookback_days = 28  # INJECTED-CELL", ["injected-parameters"]),
        cell(
            "code",
            "secret_helper()",
            ["remove-cell"],
            [new_output("stream", name="stdout", text="INTERNAL-OUTPUT\n")],
        ),
        cell(
            "md",
            "## Sales\n\nA <script>alert('md')</script> and [a link](javascript:alert(3)) "
            "and ![remote](http://tracker.example/pixel.png).",
        ),
        cell(
            "code",
            "SOURCE_CODE_MARKER = make_table()",
            outputs=[
                display(
                    "text/html",
                    "<table><thead><tr><th>product</th></tr></thead><tbody><tr>"
                    "<td><script>alert(1)</script></td></tr></tbody></table>"
                    '<b onclick="alert(4)">bold</b><iframe src="http://x.example">'
                    "</iframe>",
                ),
                display("text/markdown", "Top product: <script>alert(2)</script> **Mug**"),
                new_output(
                    "display_data",
                    data={"application/javascript": "alert(5)", "text/plain": "JS-FALLBACK"},
                ),
                new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
                new_output("stream", name="stdout", text="visible <script>alert(6)</script>\n"),
            ],
        ),
        cell(
            "code",
            "summary()",
            ["executive-summary"],
            [
                new_output(
                    "execute_result",
                    data={"text/markdown": "## Summary\n\n- SUMMARY-POINT"},
                    execution_count=1,
                ),
            ],
        ),
    ]
    return nb


def page_of(nb, **page) -> str:
    runner.move_summary_first(nb)
    defaults = {
        "notebook": "weekly_kpis",
        "run_id": "2026-11-22T0315Z",
        "data_as_of": "2026-11-21",
        "params": {"lookback_days": 28, "currency": "EUR"},
    }
    return html.notebook_html(nb, html.Page(**{**defaults, **page}))


def test_no_code_and_no_hidden_cells(executed):
    page = page_of(executed)
    for hidden in (
        "SOURCE_CODE_MARKER",
        "PARAM-CELL",
        "INJECTED-CELL",
        "INTERNAL-OUTPUT",
        "secret_helper",
    ):
        assert hidden not in page
    assert 'class="jp-InputPrompt' not in page and "In&nbsp;[" not in page


def test_data_containing_script_is_shown_but_inert(executed):
    page = page_of(executed)
    assert active_content(page) == []
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the product name, shown as text
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert "JS-FALLBACK" in page  # the JavaScript output falls back to its text
    assert "<strong>Mug</strong>" in page and "<h2" in page  # still readable


def test_the_page_is_self_contained(executed):
    page = page_of(executed)
    elements = Elements(page)
    assert elements.named("script") == [] and elements.named("link") == []
    images = [attrs["src"] for attrs in elements.named("img") if attrs.get("src")]
    assert images and all(src.startswith("data:image/") for src in images)
    assert "url(http" not in page and "@import" not in page


def test_the_summary_comes_right_after_the_title(executed):
    page = page_of(executed)
    assert page.index("<h1") < page.index("SUMMARY-POINT") < page.index("Sales")


def test_the_footer_names_run_data_date_and_parameters(executed):
    page = page_of(executed)
    footer = page[page.index('<footer class="shop-footer">') :]
    assert "Run 2026-11-22T0315Z" in footer and "data as of 2026-11-21" in footer
    assert "<th>lookback_days</th><td>28</td>" in footer
    assert "<th>currency</th><td>EUR</td>" in footer
    assert page.index("<footer") > page.index("SUMMARY-POINT")


def test_a_failed_notebook_gets_a_banner_and_a_marker(executed):
    executed.cells.insert(
        6,
        cell(
            "code",
            "1 / 0",
            outputs=[
                new_output(
                    "error",
                    ename="ZeroDivisionError",
                    evalue="division by zero",
                    traceback=["Traceback (most recent call last):", 'File "/home/pm/x.py"'],
                )
            ],
        ),
    )
    runner.move_summary_first(executed)
    stopped = runner.stopped_cell(executed)
    assert executed.cells[stopped].source == "1 / 0"
    page = page_of(
        executed,
        status="failed",
        stopped_cell=stopped,
        problem="The orders table has no orders, so there is no date to report on.",
    )
    assert page.index('class="shop-banner"') < page.index("<h1")
    assert "a step failed" in page and 'href="#stopped-here"' in page
    assert page.index("shop-banner") < page.index("there is no date to report on")
    # the error output itself (a traceback: code and paths) is for run.log, never the page
    for code in ("Traceback", "/home/pm", "ZeroDivisionError"):
        assert code not in page


def test_an_ok_page_has_no_banner(executed):
    assert "shop-banner" not in page_of(executed).split("</style>")[-1]


@pytest.mark.parametrize(
    ("dirty", "kept", "gone"),
    [
        ("<h2>Title</h2><p>x</p>", "<h2>Title</h2><p>x</p>", None),
        ('<a href="javascript:alert(1)">x</a>', "<a>x</a>", "javascript"),
        ('<img src="http://t.example/p.png" alt="p">', '<img alt="p">', "http"),
        ('<img src="data:image/png;base64,AAAA">', 'src="data:image/png;base64,AAAA"', None),
        ("<style>#T_1 td { color: red; }</style><table></table>", "<style>#T_1 td", None),
        ("<style>td { background: url(http://t.example/x) }</style>", "", "url("),
        ('<p style="color: red; background-image: url(x)">a</p>', 'style="color: red;"', "url"),
        ("<iframe src='https://x.example'></iframe>", "&lt;iframe", None),
        ("</style><script>alert(1)</script>", "&lt;script&gt;", "<script"),
    ],
)
def test_sanitize_keeps_reading_markup_and_drops_active_content(dirty, kept, gone):
    clean = html.sanitize_html(dirty)
    assert kept in clean
    if gone:
        assert gone not in clean
    assert active_content(clean) == []


# ------------------------------------------------------------------ index pages


def test_sparkline_points_follow_the_values():
    svg = index.sparkline_svg([1, 2, 3], width=120, height=28)
    # x from 3 to 117 in equal steps; y from 25 (lowest) up to 3 (highest), pad 3 px
    assert 'points="3.0,25.0 60.0,14.0 117.0,3.0"' in svg
    assert '<circle cx="117.0" cy="3.0"' in svg
    assert 'points="3.0,14.0 117.0,14.0"' in index.sparkline_svg([5, 5])
    assert index.sparkline_svg([]) == ""


def summary(run_id, started, status="ok", value=0.2, alerts=()):
    return {
        "run_id": run_id,
        "started_at": started,
        "finished_at": started,
        "params": {},
        "notebooks": {
            "churn": {
                "status": status,
                "seconds": 1.5,
                "metrics": {"churn_rate": value, "<script>x</script>": 1},
            }
        },
        "alerts": list(alerts),
    }


def test_history_uses_completed_notebooks_only_oldest_first():
    runs = [
        summary("r1", "2026-01-01T00:00:00Z", value=0.1),
        summary("r2", "2026-01-08T00:00:00Z", status="failed", value=0.9),
        summary("r3", "2026-01-15T00:00:00Z", value=0.3),
    ]
    history = index.metric_history(runs)
    assert history[("churn", "churn_rate")] == [("r1", 0.1), ("r3", 0.3)]


def test_index_pages_escape_names_and_show_alerts(tmp_path):
    alert = {
        "notebook": "churn",
        "metric": "churn_rate",
        "value": 0.4,
        "bound": "max",
        "limit": 0.3,
        "message": "churn: churn_rate = 0.4 is above the maximum 0.3.",
    }
    runs = [
        summary("r1", "2026-01-01T00:00:00Z"),
        summary("r2", "2026-01-08T00:00:00Z", value=0.4, alerts=[alert]),
    ]
    for page in (index.run_index_html(runs[1]), index.reports_index_html(runs, "r1")):
        assert active_content(page) == []
        assert "&lt;script&gt;x&lt;/script&gt;" in page
        assert "<script" not in page
    # in a stakeholder's words: the label and the unit, not churn_rate = 0.4
    assert "Churn: Churn rate is 40.0%, above the maximum 30.0%." in index.run_index_html(runs[1])
    overview = index.reports_index_html(runs, "r1")
    assert 'href="latest/index.html">r1<' in overview
    assert overview.index('href="r2/index.html"') < overview.index('href="r1/index.html"')


def test_a_mapping_metric_is_shown_by_its_value_and_lists_stay_in_summary_json():
    run = summary("r1", "2026-01-01T00:00:00Z")
    run["notebooks"]["churn"]["metrics"] = {"nps": {"value": 25.2, "ci_low": 15.4}, "rows": [1, 2]}
    assert report.headline_value({"value": 25.2, "ci_low": 15.4}) == 25.2
    assert report.headline_value([1, 2]) is None
    page = index.run_index_html(run)
    assert "Net Promoter Score: <strong>25.20</strong>" in page and "1 more in summary.json" in page
    assert "ci_low" not in page
    assert index.metric_history([run]) == {("churn", "nps"): [("r1", 25.2)]}


def test_headline_values_read_in_plain_words_with_their_units():
    run = summary("r1", "2026-01-01T00:00:00Z")
    run["params"] = {"churn": {"currency": "EUR"}}  # the currency the notebook ran with
    run["notebooks"]["churn"]["metrics"] = {
        "churn_rate": 0.5249,
        "revenue_at_risk": 146_604.1,
        "horizon_days": 35,
        "top_decile_lift": 1.9024,
        "srm_p": 0.0000123,
        "price_index": {"median": 103.74, "n_matched": 279},
        "van_westendorp": {"opp": 29.3, "idp": 31.45},
        "my_own_number": 7,
    }
    page = index.run_index_html(run)
    for shown in (
        "Churn rate: <strong>52.5%</strong>",
        "Revenue at risk: <strong>€146.6k</strong>",
        "Churn horizon: <strong>35 days</strong>",
        "Top-decile lift: <strong>1.90×</strong>",
        "Traffic split check (SRM p-value): <strong>1.2e-05</strong>",
        "Price index vs competitors (median): <strong>103.74</strong>",
        "Optimal price point (Van Westendorp): <strong>€29.30</strong>",
        "my_own_number: <strong>7</strong>",  # not in report.HEADLINES: its own name
    ):
        assert shown in page, shown
    overview = index.reports_index_html([run], "r1")
    assert "<td>Revenue at risk</td>" in overview and "<strong>€146.6k</strong>" in overview
    assert "newest €146.6k" in overview  # the sparkline's label for screen readers


def test_load_runs_reads_summaries_and_skips_damaged_ones(tmp_path):
    import json

    for run_id, started in (("b", "2026-01-08T00:00:00Z"), ("a", "2026-01-01T00:00:00Z")):
        (tmp_path / run_id).mkdir()
        (tmp_path / run_id / "summary.json").write_text(json.dumps(summary(run_id, started)))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "summary.json").write_text("{not json")
    (tmp_path / ".tmp-c").mkdir()
    assert [run["run_id"] for run in index.load_runs(tmp_path)] == ["a", "b"]


def test_the_error_page_escapes_the_problem():
    page = html.error_page("weekly", "r1", "ValueError: <b>bad</b> value")
    assert "&lt;b&gt;bad&lt;/b&gt;" in page and "could not be made" in page
    assert active_content(page) == []
