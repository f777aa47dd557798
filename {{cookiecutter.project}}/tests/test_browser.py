"""Stakeholder HTML in a real browser: Debian's chromium, headless and offline.

Each report page must show no code, render every figure, log nothing to the console, and make no
network request; a screenshot of each page is kept in build/test-artifacts/ for a human look.
The run index, after three runs at different data dates, must read as a brief (design §4).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import run_reports, scratch_project

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "build" / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# the flags that keep Chromium from reaching for the network on a closed machine
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--allow-file-access-from-files",
]
# Reads the report inside an iframe (same file:// origin thanks to the flag above) and writes
# what it found into the wrapper's DOM, which --dump-dom prints.
PROBE = """<!doctype html><html><body>
<iframe id="report" src="REPORT" style="width:1200px;height:900px"></iframe>
<script>
const frame = document.getElementById("report");
frame.addEventListener("load", () => {
  const doc = frame.contentDocument;
  const images = Array.from(doc.images);
  const result = {
    images: images.length,
    broken_images: images.filter(i => !(i.complete && i.naturalWidth > 0)).length,
    code_inputs: doc.querySelectorAll(
      ".jp-CodeCell .jp-InputArea, .jp-InputArea-editor, .highlight, .input_area").length,
    scripts: doc.querySelectorAll("script").length,
    first_heading: (doc.querySelector("h1, h2") || {}).textContent || "",
    text_length: doc.body.innerText.length,
  };
  document.body.setAttribute("data-probe", JSON.stringify(result));
});
</script></body></html>"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="needs Debian's chromium: sudo apt-get install chromium"
    ),
]


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def pages(report_run):
    done, summary, latest = report_run
    assert summary is not None, done.stderr[-2000:]
    return sorted(latest.glob("*.html"))


def test_every_report_page_shows_no_code_and_renders_every_figure(pages, tmp_path):
    reports = [p for p in pages if p.name != "index.html"]
    assert reports
    for page in reports:
        probe = tmp_path / f"probe-{page.stem}.html"
        probe.write_text(PROBE.replace("REPORT", page.resolve().as_uri()), encoding="utf-8")
        shown = chromium(
            "--virtual-time-budget=15000",
            "--dump-dom",
            probe.as_uri(),
            profile=tmp_path / "profile",
        )
        found = re.search(r'data-probe="([^"]*)"', shown.stdout)
        assert found, f"{page.name}: the page did not load\\n{shown.stderr[-1500:]}"
        result = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
        assert result["code_inputs"] == 0, f"{page.name} shows code"
        assert result["scripts"] == 0, f"{page.name} carries scripts"
        assert result["images"] > 0 and result["broken_images"] == 0, (page.name, result)
        assert result["text_length"] > 200


def test_pages_log_nothing_and_fetch_nothing_and_are_kept_as_screenshots(pages, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for page in pages:
        shot = ARTIFACTS / f"{page.stem}.png"
        shown = chromium(
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,1800",
            f"--screenshot={shot}",
            page.resolve().as_uri(),
            profile=tmp_path / f"profile-{page.stem}",
        )
        console = [line for line in shown.stderr.splitlines() if ":CONSOLE(" in line]
        assert console == [], f"{page.name} logged to the console: {console[:3]}"
        fetched = [
            line
            for line in shown.stderr.splitlines()
            if "net::ERR" in line or "Failed to load resource" in line
        ]
        assert fetched == [], f"{page.name} tried to fetch something: {fetched[:3]}"
        assert shot.is_file() and shot.stat().st_size > 10_000


# Reads the run index the way a stakeholder sees it: section order, what the closed details hold,
# each value table's cells, the runs table and the text a reader can see.
INDEX_PROBE = """<!doctype html><html><body>
<iframe id="page" src="PAGE" style="width:1200px;height:1800px"></iframe>
<script>
const frame = document.getElementById("page");
frame.addEventListener("load", () => {
  const doc = frame.contentDocument;
  const text = (node) => (node ? node.textContent.trim() : "");
  const order = Array.from(doc.querySelectorAll("h2, details")).map(
    (n) => n.tagName === "DETAILS" ? "details: " + text(n.querySelector("summary")) : text(n));
  const rows = (selector) => Array.from(doc.querySelectorAll(selector + " tbody tr")).map((tr) => ({
    cells: Array.from(tr.children).map(text),
    change: text(tr.querySelector("td.change")),
    high: text(tr.querySelector(".y-scale .max")),
    low: text(tr.querySelector(".y-scale .min")),
    dates: Array.from(tr.querySelectorAll(".x-scale span")).map(text),
    in_details: !!tr.closest("details"),
  }));
  const details = Array.from(doc.querySelectorAll("details"));
  const runsTable = Array.from(doc.querySelectorAll("table")).pop();
  const result = {
    order: order,
    kpis: rows("table.values.business"),
    diagnostics: rows("table.values.diagnostic"),
    details_open: details.map((d) => d.open),
    decisions: Array.from(doc.querySelectorAll("h2 + ul li")).map(text),
    runs: Array.from(runsTable.querySelectorAll("tbody tr")).map(
      (tr) => Array.from(tr.children).map(text)),
    visible: doc.body.innerText,
    all_text: doc.body.textContent,
  };
  document.body.setAttribute("data-probe", JSON.stringify(result));
});
</script></body></html>"""
# a raw key: lowercase words joined by underscores (at_risk_export, data_as_of, wbr_revenue);
# a file a verdict points to (data/exports/customer_actions.csv) is a name to type, not a key
RAW_KEY = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
FILE_NAME = re.compile(r"\S*/\S*|\S+\.(?:csv|json|html|ipynb|parquet|yaml)\b")
# three runs (id, data date), in this order, at data dates that are not in run order
RUNS = (
    ("2026-07-06T0700Z", "2026-06-23"),
    ("2026-07-06T0710Z", "2026-06-16"),
    ("2026-07-06T0720Z", "2026-06-30"),
)


def probe_page(page: Path, tmp_path: Path) -> dict:
    wrapper = tmp_path / "probe-index.html"
    wrapper.write_text(INDEX_PROBE.replace("PAGE", page.resolve().as_uri()), encoding="utf-8")
    shown = chromium(
        "--virtual-time-budget=15000", "--dump-dom", wrapper.as_uri(), profile=tmp_path / "p"
    )
    found = re.search(r'data-probe="([^"]*)"', shown.stdout)
    assert found, f"the run index did not load\n{shown.stderr[-1500:]}"
    raw = found.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
    return json.loads(raw.replace("&amp;", "&"))


@pytest.fixture(scope="module")
def three_runs(sample_dir, tmp_path_factory):
    """Three real runs of the weekly review at different data dates (the first also runs
    segmentation, whose ARI and silhouette are model diagnostics); the runner writes the index."""
    if not (ROOT / "notebooks" / "weekly_business_review.ipynb").is_file():
        pytest.skip("no weekly business review in this project")
    project = scratch_project(tmp_path_factory.mktemp("index_project"), sample_dir)
    with_diagnostics = (ROOT / "notebooks" / "segmentation.ipynb").is_file()
    for number, (run_id, as_of) in enumerate(RUNS):
        reports = ["weekly_business_review"]
        if number == 0 and with_diagnostics:
            reports.append("segmentation")
        done, summary, _ = run_reports(
            project, "--only", *reports, "-p", f"as_of={as_of}", "--run-id", run_id
        )
        assert done.returncode in (0, 3), done.stderr[-3000:]  # 3: a KPI alert, still a run
        assert summary["run_id"] == run_id
    return project / "reports" / "index.html", with_diagnostics


@pytest.mark.slow  # three real runs: about 20 s on 2 cores
def test_the_run_index_reads_as_a_brief_after_three_runs_at_different_data_dates(
    three_runs, tmp_path
):
    page, with_diagnostics = three_runs
    found = probe_page(page, tmp_path)
    order = found["order"]
    # business KPIs first, then the verdicts, the other values, and the diagnostics folded away
    assert order[0] == "Business KPIs", order
    assert order.index("Decisions") < order.index("Headline values over time")
    kpis = [row for row in found["kpis"] if not row["in_details"]]
    labels = [row["cells"][0] for row in kpis]
    assert "Revenue, last complete week" in labels and "Orders, last complete week" in labels
    data_dates = sorted(as_of for _, as_of in RUNS)
    weekly = [row for row in kpis if row["cells"][0].endswith("last complete week")]
    for row in weekly:
        # a change since the previous run by data date, and the value and date it is against
        assert re.match(r"^([+−]\d|no change)", row["change"]), row
        assert f"({data_dates[-2]})" in row["change"], row
        # a visible scale: highest and lowest value, the first and last data date
        assert row["high"] and row["low"] and row["dates"] == [data_dates[0], data_dates[-1]]
        assert row["cells"][-1] == data_dates[-1]
    if with_diagnostics:
        assert order[-2].startswith("details: Model diagnostics"), order
        assert found["details_open"] == [False]  # collapsed until a reader opens it
        folded = {row["cells"][1] for row in found["diagnostics"]}
        assert "Match with the planted customer types (ARI)" in folded
        assert all(row["in_details"] for row in found["diagnostics"])
        assert not any("(ARI)" in label or "silhouette" in label for label in labels)
        assert "Match with the planted customer types" not in found["visible"]
    # the newest run by data date first in the list of runs, whatever order they ran in
    shown_runs = [(cells[0].split()[0], cells[-1]) for cells in found["runs"]]
    assert shown_runs == sorted(RUNS, key=lambda run: run[1], reverse=True)
    assert any(line.startswith("Weekly business review: ") for line in found["decisions"])
    assert all("Next step:" in line for line in found["decisions"])
    for text in (found["visible"], found["all_text"]):
        raw = RAW_KEY.findall(FILE_NAME.sub(" ", text))
        assert not raw, f"raw keys on the run index: {raw}"
