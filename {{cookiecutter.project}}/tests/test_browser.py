"""Stakeholder HTML in a real browser: Debian's chromium, headless and offline.

Each report page must show no code, render every figure, log nothing to the console, and make no
network request; a screenshot of each page is kept in build/test-artifacts/ for a human look.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

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
