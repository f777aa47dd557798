"""The runner on tiny throwaway projects: real kernels, real processes, real files.

Four runs share one project (kernels cost 1-2 s each):
A0) the full run while ``weekly`` is the only notebook: exit 3 (an alert), latest = A0;
A) ``weekly`` with all four parameter layers (a partial, overridden run): exit 3, latest
   still A0 (partial runs are never published);
B) ``weekly`` + ``broken`` (1 / 0): exit 1, latest still A0;
C) ``hang`` (time.sleep(600)) with an 8 s limit: exit 1, killed, no kernel left.
"""

from __future__ import annotations

import ast
import fcntl
import json
import os
import re
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell

from {{ cookiecutter.module_name }} import cli, index, report, runner

PACKAGE = runner.__package__
PROJECT = Path(__file__).resolve().parents[1]
FAKE_PASSWORD = "pa55-Secret-xyz"
FAKE_URL = f"postgresql://analyst:{FAKE_PASSWORD}@db.internal:5432/shop"
HANG_LIMIT = 8.0


def make_notebook(path: Path, *cells: tuple[str, str, tuple[str, ...]]) -> None:
    """Write a notebook of (kind, source, tags) cells."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    for kind, source, tags in cells:
        cell = new_markdown_cell(source) if kind == "md" else new_code_cell(source)
        if tags:
            cell.metadata["tags"] = list(tags)
        nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


WEEKLY = (
    ("md", "# Weekly\n\nA tiny report.", ()),
    (
        "code",
        "a: int = 1  # set only here\nb: int = 1  # defaults.yaml\nc: int = 1  # weekly.yaml\n"
        'd: int = 1  # --params file\ne: int = 1  # -p\nas_of: str = ""  # a date; empty = today\n'
        'label: str = "notebook"  # a --params section',
        ("parameters",),
    ),
    (
        "code",
        f"import os\nfrom {PACKAGE} import report\n"
        "for name in ['a', 'b', 'c', 'd', 'e', 'as_of', 'label']:\n"
        "    report.record(name, globals()[name])\n"
        "report.record('churn_rate', 0.5)\nreport.record('data_as_of', '2026-06-29')\n"
        "print('connection:', os.environ.get('SHOP_DATA_URL'))",
        (),
    ),
    ("code", "print('INTERNAL-ONLY')", ("remove-cell",)),
    ("md", "## Section one\n\nProduct <script>alert('md')</script> sold well.", ()),
    (
        "code",
        "from IPython.display import HTML, Markdown, display\n"
        "display(HTML('<table><tr><td><script>alert(1)</script>Mug</td></tr></table>'))\n"
        "Markdown('Top product: <script>alert(2)</script>')",
        (),
    ),
    (
        "code",
        f"from {PACKAGE} import report\n"
        "report.executive_summary('Summary', ['Churn rate 50 %: SUMMARY-MARKER'])",
        ("executive-summary",),
    ),
)
BROKEN = (
    ("md", "# Broken", ()),
    ("code", "x: int = 1  # a parameter", ("parameters",)),
    ("code", "print('before the failure')", ()),
    ("code", "1 / 0", ()),
    ("code", "print('never')", ()),
)
HANG = (
    ("md", "# Hang", ()),
    ("code", 'pid_file: str = ""  # where the kernel writes its process id', ("parameters",)),
    ("code", "import os, time\nopen(pid_file, 'w').write(str(os.getpid()))\ntime.sleep(600)", ()),
)


def write_project(root: Path, *, only_weekly: bool = False) -> None:
    make_notebook(root / "notebooks" / "weekly.ipynb", *WEEKLY)
    if only_weekly:
        return
    make_notebook(root / "notebooks" / "broken.ipynb", *BROKEN)
    make_notebook(root / "notebooks" / "hang.ipynb", *HANG)
    params = root / "params"
    params.mkdir(exist_ok=True)
    (params / "defaults.yaml").write_text("b: 2\nc: 2\nd: 2\ne: 2\n", encoding="utf-8")
    (params / "weekly.yaml").write_text("c: 3\nd: 3\ne: 3\ntypo_param: 1\n", encoding="utf-8")
    (params / "hang.yaml").write_text(f"pid_file: {json.dumps(str(root / 'hang.pid'))}\n")
    (params / "alerts.yaml").write_text(
        "weekly:\n  churn_rate: {max: 0.3}\n  a: {min: 1}\nchurn:\n  churn_rate: {max: 0.3}\n",
        encoding="utf-8",
    )
    (root / "extra.yaml").write_text(
        "d: 4\ne: 4\nas_of: 2026-01-31\nweekly:\n  label: from-section\n", encoding="utf-8"
    )


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    root = tmp_path_factory.mktemp("shop")
    write_project(root)
    for other in ("broken", "hang"):  # added after the full run A0
        (root / "notebooks" / f"{other}.ipynb").rename(root / f"{other}.ipynb")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SHOP_PROJECT_ROOT", str(root))
        env.setenv("SHOP_DATA_URL", FAKE_URL)
        options = {"jobs": 2, "timeout": 120.0, "cell_timeout": 60.0}
        a0 = runner.run_reports(runner.RunOptions(run_id="run-a0", **options))
        latest_after_a0 = (root / "reports" / "latest").resolve()
        a = runner.run_reports(
            runner.RunOptions(
                only=("weekly",),
                params_files=(root / "extra.yaml",),
                overrides={"e": 5, "nonexistent": 1},
                run_id="run-a",
                **options,
            )
        )
        latest_after_a = (root / "reports" / "latest").resolve()
        for other in ("broken", "hang"):
            (root / f"{other}.ipynb").rename(root / "notebooks" / f"{other}.ipynb")
        b = runner.run_reports(
            runner.RunOptions(only=("weekly", "broken"), run_id="run-b", **options)
        )
        started = time.monotonic()
        c = runner.run_reports(
            runner.RunOptions(only=("hang",), run_id="run-c", jobs=1, timeout=HANG_LIMIT)
        )
        c_seconds = time.monotonic() - started
        yield SimpleNamespace(
            root=root,
            a0=a0,
            a=a,
            b=b,
            c=c,
            c_seconds=c_seconds,
            latest_after_a0=latest_after_a0,
            latest_after_a=latest_after_a,
        )


def read_summary(result) -> dict:
    return json.loads((result.run_dir / "summary.json").read_text(encoding="utf-8"))


# ------------------------------------------------------------------ failures and time limits


def test_a_failing_notebook_leaves_the_others_run_and_latest_unchanged(shop):
    assert shop.b.exit_code == runner.EXIT_FAILED
    notebooks = read_summary(shop.b)["notebooks"]
    assert notebooks["weekly"]["status"] == "ok"
    assert notebooks["broken"]["status"] == "failed"
    assert (shop.root / "reports" / "latest").resolve() == shop.latest_after_a0
    assert shop.latest_after_a0 == (shop.root / "reports" / "run-a0").resolve()
    assert not list((shop.root / "reports").glob(".tmp-*")), "a temporary folder was left"


def test_a_partial_overridden_run_is_not_published(shop):
    assert shop.a0.exit_code == runner.EXIT_ALERT  # an alert still publishes
    assert read_summary(shop.a0)["scope"] == "full"
    assert read_summary(shop.a)["scope"] == "partial"
    assert shop.latest_after_a == shop.latest_after_a0  # run-a: --only, --params and -p
    assert (shop.root / "reports" / "LATEST").read_text().strip() == "run-a0"
    assert runner.is_full_run(runner.RunOptions())
    assert not runner.is_full_run(runner.RunOptions(overrides={"e": 1}))


def test_the_failing_cell_and_exception_line_are_in_summary_json(shop):
    error = read_summary(shop.b)["notebooks"]["broken"]["error"]
    assert error["exception"] == "ZeroDivisionError: division by zero"
    executed = nbformat.read(shop.b.run_dir / "broken.ipynb", as_version=4)
    assert executed.cells[error["cell"]].source == "1 / 0"


def test_a_failed_notebook_still_gets_html_with_a_banner_in_plain_words(shop):
    page = (shop.b.run_dir / "broken.html").read_text(encoding="utf-8")
    assert "This report did not finish" in page and "before the failure" in page
    assert "unexpected error in the analysis" in page
    banner, marker = page.index('class="shop-banner"'), page.index('id="stopped-here"')
    assert banner < marker
    for code in ("ZeroDivisionError", "Traceback", "1 / 0", str(shop.root)):
        assert code not in page  # no code, traceback or path for stakeholders


def test_run_log_keeps_the_traceback_the_page_leaves_out(shop):
    log = (shop.b.run_dir / "run.log").read_text(encoding="utf-8")
    assert "ZeroDivisionError: division by zero" in log
    assert "Traceback" in log or "----> 1 1 / 0" in log or "1 / 0" in log


def test_a_hanging_notebook_is_killed_within_its_limit(shop):
    entry = read_summary(shop.c)["notebooks"]["hang"]
    assert shop.c.exit_code == runner.EXIT_FAILED
    assert entry["status"] == "timeout"
    assert HANG_LIMIT <= entry["seconds"] < HANG_LIMIT + 5
    assert shop.c_seconds < HANG_LIMIT + 15
    assert (shop.root / "reports" / "latest").resolve() == shop.latest_after_a


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state first), or None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def started_at(pid: int) -> str | None:
    """The process's start time in clock ticks: with the pid it names one process (pids recycle)."""
    fields = _stat(pid)
    return fields[19] if fields else None


def is_alive(pid: int, started: str | None = None) -> bool:
    """Running (not a zombie, not exiting), and the same process when its start time is given."""
    fields = _stat(pid)
    if fields is None or fields[0] in ("Z", "X", "x"):
        return False  # a zombie is dead; it only waits for its parent to notice
    return started is None or fields[19] == started


def processes_of(root: Path) -> list[int]:
    """Processes whose environment points into the project: workers and kernels of a run."""
    marker = f"{report.METRICS_ENV}={root}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                environ = (proc / "environ").read_bytes()
            except OSError:
                continue
            if marker in environ and is_alive(int(proc.name)):
                found.append(int(proc.name))
    return found


def wait_until_gone(
    root: Path, limit: float = 30.0, also: tuple[int, str | None] | None = None
) -> float:
    """Seconds until no process of the project's runs, nor `also` (pid, start), is alive.

    A process in the middle of exiting may already show an empty environment while /proc still
    lists it as running, so a known pid is polled by identity as well."""
    started = time.monotonic()

    def running() -> bool:
        return bool(processes_of(root)) or (also is not None and is_alive(*also))

    while running() and time.monotonic() - started < limit:
        time.sleep(0.1)
    return time.monotonic() - started


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_no_kernel_survives_a_timeout(shop):
    pid_file = shop.root / "hang.pid"  # written by the kernel once the hanging cell started
    kernel = int(pid_file.read_text()) if pid_file.is_file() else None
    wait_until_gone(shop.root, 5, also=None if kernel is None else (kernel, None))
    assert processes_of(shop.root) == []
    assert kernel is None or not is_alive(kernel)


# ------------------------------------------------------------------ parameters


def test_parameters_are_layered_in_the_documented_order(shop):
    metrics = read_summary(shop.a)["notebooks"]["weekly"]["metrics"]
    layers = {name: metrics[name] for name in "abcde"}
    assert layers == {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}
    assert metrics["label"] == "from-section"
    assert metrics["as_of"] == "2026-01-31"  # a YAML date arrives as the ISO string


def test_summary_params_are_the_values_each_notebook_ran_with(shop):
    params = read_summary(shop.a)["params"]["weekly"]
    assert params == {
        "a": 1,
        "b": 2,
        "c": 3,
        "d": 4,
        "e": 5,
        "as_of": "2026-01-31",
        "label": "from-section",
    }


def test_names_a_notebook_does_not_declare_are_warned_in_run_log(shop):
    log = (shop.a.run_dir / "run.log").read_text(encoding="utf-8")
    assert re.search(r"WARNING .*params/weekly.yaml sets 'typo_param'", log)
    assert re.search(r"WARNING .*-p nonexistent", log)


@pytest.mark.parametrize("pair", ["db_password=hunter2", "api_token=x", "DATA_URL=x", "key=1"])
def test_secret_looking_parameters_are_refused(shop, pair, monkeypatch, capsys):
    monkeypatch.setenv("SHOP_PROJECT_ROOT", str(shop.root))
    assert cli.main(["run", "--only", "weekly", "-p", pair]) == 2
    assert "credentials come from environment variables" in capsys.readouterr().err.lower()


def test_secret_looking_names_in_a_params_file_are_refused(shop, monkeypatch, tmp_path):
    monkeypatch.setenv("SHOP_PROJECT_ROOT", str(shop.root))
    secret = tmp_path / "secret.yaml"
    secret.write_text("weekly:\n  warehouse_password: x\n", encoding="utf-8")
    with pytest.raises(ValueError, match="warehouse_password"):
        runner.plan_notebooks(["weekly"], [secret])


def test_declared_parameters_are_read_even_where_papermill_skips_them(tmp_path):
    path = tmp_path / "nb.ipynb"
    make_notebook(
        path,
        (
            "code",
            'a: int = 1  # x = y confuses papermill\nb = "k=v"\nc: str = str(1)\nimport os',
            ("parameters",),
        ),
    )
    assert runner.declared_parameters(path) == {"a": 1, "b": "k=v", "c": "str(1)"}
    make_notebook(path, ("code", "a: int = = 1", ("parameters",)))
    with pytest.raises(ValueError, match="parameters cell of notebooks/nb.ipynb"):
        runner.declared_parameters(path)


def test_minus_p_values_are_read_as_yaml():
    parsed = runner.parse_overrides(["n=90", "rate=0.25", "flag=true", "name=Mug", "empty="])
    assert parsed == {"n": 90, "rate": 0.25, "flag": True, "name": "Mug", "empty": ""}
    # YAML reads 2026-13-45 as a date and fails: it stays text, for the notebook to name
    assert runner.parse_overrides(["as_of=2026-13-45"]) == {"as_of": "2026-13-45"}
    with pytest.raises(ValueError, match="NAME=VALUE"):
        runner.parse_overrides(["lookback_days"])


# ------------------------------------------------------------------ summary, alerts, index


def test_summary_json_has_the_documented_shape(shop):
    summary = read_summary(shop.b)
    assert set(summary) == {
        "scope",
        "run_id",
        "started_at",
        "finished_at",
        "params",
        "notebooks",
        "alerts",
        "data_as_of",
    }
    assert summary["run_id"] == "run-b"
    for stamp in (summary["started_at"], summary["finished_at"]):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp)
    assert set(summary["notebooks"]["weekly"]) == {"status", "seconds", "metrics"}
    assert set(summary["notebooks"]["broken"]) == {"status", "seconds", "error", "metrics"}
    assert set(summary["notebooks"]["broken"]["error"]) >= {"cell", "exception"}
    assert summary["data_as_of"] == "2026-06-29"
    files = {p.name for p in shop.b.run_dir.iterdir()}
    assert files == {
        "weekly.ipynb",
        "weekly.html",
        "broken.ipynb",
        "broken.html",
        "summary.json",
        "run.log",
        "index.html",
    }


def test_a_breached_alert_gives_exit_3_and_is_listed(shop):
    assert shop.a.exit_code == runner.EXIT_ALERT
    alerts = read_summary(shop.a)["alerts"]
    assert [(x["notebook"], x["metric"], x["value"], x["bound"]) for x in alerts] == [
        ("weekly", "churn_rate", 0.5, "max")
    ]
    run_index = (shop.a.run_dir / "index.html").read_text(encoding="utf-8")
    assert "Weekly: Churn rate is 50.0%, above the maximum 30.0%." in run_index  # its words
    assert (shop.root / "reports" / "latest").resolve() == shop.latest_after_a


def test_alert_bounds_are_inclusive():
    bounds = {"nb": {"x": {"min": 1.0, "max": 2.0}}}
    assert runner.evaluate_alerts(bounds, {"nb": {"x": 2.0}}) == ([], [])
    breaches, _ = runner.evaluate_alerts(bounds, {"nb": {"x": 0.5}})
    assert [(b["bound"], b["limit"]) for b in breaches] == [("min", 1.0)]
    _, warnings = runner.evaluate_alerts(bounds, {"nb": {"x": "n/a"}})
    assert "not a number" in warnings[0]
    nested = {"nb": {"x": {"value": 2.5, "ci_low": 1.9}}}  # checked on its "value"
    assert [b["value"] for b in runner.evaluate_alerts(bounds, nested)[0]] == [2.5]


def test_the_reports_index_lists_every_run_and_the_value_history(shop):
    page = (shop.root / "reports" / "index.html").read_text(encoding="utf-8")
    for run_id in ("run-a0", "run-a", "run-b", "run-c"):
        assert f'href="{run_id}/index.html"' in page
    assert page.count("<svg") == 6  # weekly's numbers: a, b, c, d, e, churn_rate
    history = index.metric_history(index.load_runs(shop.root / "reports"))
    assert history[("weekly", "e")] == [("run-a0", 3), ("run-a", 5), ("run-b", 3)]
    assert 'href="latest/index.html">run-a0<' in page


# ------------------------------------------------------------------ HTML and secrets


def test_the_html_opens_with_the_summary_and_shows_no_code(shop):
    page = (shop.a.run_dir / "weekly.html").read_text(encoding="utf-8")
    assert page.index("SUMMARY-MARKER") < page.index("Section one")
    assert page.index("Weekly") < page.index("SUMMARY-MARKER")
    for code in ("report.record", "a: int = 1", "INTERNAL-ONLY", "display(HTML"):
        assert code not in page
    assert "<script" not in page.lower()
    assert "Run run-a" in page and "data as of 2026-06-29" in page


def test_the_executed_notebook_has_the_summary_after_the_title(shop):
    executed = nbformat.read(shop.a.run_dir / "weekly.ipynb", as_version=4)
    assert "executive-summary" in executed.cells[1].metadata.get("tags", [])


def test_the_data_url_appears_nowhere_in_the_reports(shop):
    for path in (shop.root / "reports").rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            assert FAKE_PASSWORD not in text, path
            assert "db.internal" not in text, path
    assert "connection: ***" in (shop.a.run_dir / "weekly.html").read_text(encoding="utf-8")


# ------------------------------------------------------------------ lock


def test_a_second_run_waits_then_exits_4(shop, monkeypatch, capsys):
    monkeypatch.setenv("SHOP_PROJECT_ROOT", str(shop.root))
    before = sorted(p.name for p in (shop.root / "reports").iterdir())
    with (shop.root / "reports" / ".lock").open("a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        started = time.monotonic()
        code = cli.main(["run", "--only", "weekly", "--wait", "1"])
        waited = time.monotonic() - started
        fcntl.flock(held.fileno(), fcntl.LOCK_UN)
    assert code == runner.EXIT_LOCKED == 4
    assert 1 <= waited < 5
    assert "Another report run is in progress" in capsys.readouterr().err
    assert sorted(p.name for p in (shop.root / "reports").iterdir()) == before


def test_latest_falls_back_to_a_copy_where_symlinks_fail(tmp_path, monkeypatch):
    for run_id in ("r1", "r2"):
        (tmp_path / run_id).mkdir()
        (tmp_path / run_id / "summary.json").write_text(run_id)
    latest = tmp_path / "latest"
    runner.point_latest(tmp_path, "r1")
    assert latest.is_symlink() and (latest / "summary.json").read_text() == "r1"

    def no_symlinks(*args, **kwargs):
        raise OSError("this file system has no symlinks")

    monkeypatch.setattr(os, "symlink", no_symlinks)
    runner.point_latest(tmp_path, "r2")
    assert latest.is_dir() and not latest.is_symlink()
    assert (latest / "summary.json").read_text() == "r2"
    assert (tmp_path / "LATEST").read_text().strip() == "r2"
    assert (tmp_path / "r1" / "summary.json").read_text() == "r1"  # the link went, not r1
    monkeypatch.undo()
    runner.point_latest(tmp_path, "r1")  # symlinks work again: the copy is replaced
    assert latest.is_symlink() and (latest / "summary.json").read_text() == "r1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["LATEST", "latest", "r1", "r2"]


def test_run_help_documents_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for line in (
        "0 every notebook ran",
        "1 a notebook failed",
        "3 every notebook ran, but",
        "4 another run holds the lock",
    ):
        assert line in text


# ------------------------------------------------------------------ new


def test_new_refuses_bad_and_existing_names(shop, monkeypatch, capsys):
    monkeypatch.setenv("SHOP_PROJECT_ROOT", str(shop.root))
    assert cli.main(["new", "Weekly-KPIs"]) == 2
    assert "'weekly_kpis'" in capsys.readouterr().err
    assert cli.main(["new", "weekly"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert cli.main(["new", "alerts"]) == 2
    assert "reserved" in capsys.readouterr().err


def test_new_creates_the_house_skeleton(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOP_PROJECT_ROOT", str(tmp_path))
    assert cli.main(["new", "weekly_kpis"]) == 0
    path = tmp_path / "notebooks" / "weekly_kpis.ipynb"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    assert nb.cells[0].source.startswith("# Weekly kpis")
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    tags = [tag for cell in nb.cells for tag in cell.metadata.get("tags", [])]
    assert tags.count("parameters") == 1 and tags.count("executive-summary") == 1
    import papermill

    declared = papermill.inspect_notebook(path)
    assert {"data_dir", "as_of", "currency"} <= set(declared)
    assert all(p["help"] and p["inferred_type_name"] != "None" for p in declared.values())
    source = "\n".join(cell.source for cell in nb.cells)
    assert f"from {PACKAGE} import" in source and "report.record(" in source
    assert (tmp_path / "params" / "weekly_kpis.yaml").is_file()


@pytest.mark.slow
def test_a_new_notebook_runs_with_no_further_wiring(tmp_path, monkeypatch):
    pytest.importorskip(f"{PACKAGE}.data", reason="data.py is not there yet")
    monkeypatch.setenv("SHOP_PROJECT_ROOT", str(tmp_path))
    monkeypatch.delenv("SHOP_DATA_URL", raising=False)
    data = tmp_path / "data" / "tiny"
    data.mkdir(parents=True)
    (data / "customers.csv").write_text(
        "customer_id,signed_up_at\nc1,2026-01-02 10:00:00\nc2,2026-01-03 11:00:00\n"
    )
    (data / "orders.csv").write_text(
        "order_id,customer_id,ordered_at,revenue\no1,c1,2026-01-05 12:00:00,30.0\n"
        "o2,c2,2026-01-06 13:00:00,12.5\no3,c1,2026-01-14 09:30:00,20.0\n"
    )
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "defaults.yaml").write_text("data_dir: data/tiny\n")
    assert cli.main(["new", "weekly_kpis"]) == 0
    result = runner.run_reports(runner.RunOptions(jobs=1, timeout=300.0))
    summary = read_summary(result)
    entry = summary["notebooks"]["weekly_kpis"]
    assert result.exit_code == 0, entry.get("error")
    revenue = entry["metrics"]["revenue"]  # recorded with its label: {"value": ..., "label": ...}
    assert revenue["value"] == pytest.approx(62.5)  # 30 + 12.5 + 20
    assert entry["metrics"]["orders"]["value"] == 3
    assert entry["metrics"]["data_as_of"] == "2026-01-14"
    assert (tmp_path / "reports" / "latest" / "weekly_kpis.html").is_file()


@pytest.mark.slow
def test_a_cell_over_its_time_limit_is_stopped(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOP_PROJECT_ROOT", str(tmp_path))
    (tmp_path / "params").mkdir()
    make_notebook(
        tmp_path / "notebooks" / "slow.ipynb",
        ("md", "# Slow", ()),
        ("code", "import time\ntime.sleep(60)", ()),
    )
    result = runner.run_reports(runner.RunOptions(cell_timeout=2.0, timeout=60.0))
    entry = read_summary(result)["notebooks"]["slow"]
    assert entry["status"] == "timeout"
    assert entry["error"]["kind"] == "cell_timeout" and entry["error"]["cell"] == 1
    assert entry["seconds"] < 30


def test_with_a_spare_core_the_next_notebook_warms_up_and_waits_for_its_turn(tmp_path, monkeypatch):
    # --jobs 1 on two cores: "second" starts ahead, imports what it imports, runs after "first".
    monkeypatch.setenv("SHOP_PROJECT_ROOT", str(tmp_path))
    monkeypatch.setattr(runner, "_cpu_count", lambda: 2)
    (tmp_path / "params").mkdir()
    record = f"from {PACKAGE} import report\nimport sys, time\n"
    make_notebook(
        tmp_path / "notebooks" / "first.ipynb",
        ("md", "# First", ()),
        ("code", record + "time.sleep(4)\nreport.record('ended', time.time())", ()),
    )
    make_notebook(
        tmp_path / "notebooks" / "second.ipynb",
        ("md", "# Second", ()),
        (
            "code",
            record + "report.record('began', time.time())\n"
            "report.record('pandas_loaded', 'pandas' in sys.modules)\n"
            "report.record('names_left', sorted(n for n in globals() if n.startswith('_w')))",
            (),
        ),
        ("code", "import pandas as pd\npd.DataFrame({'x': [1]})", ()),
    )
    result = runner.run_reports(runner.RunOptions(jobs=1, timeout=60.0))
    notebooks = read_summary(result)["notebooks"]
    assert {n: e["status"] for n, e in notebooks.items()} == {"first": "ok", "second": "ok"}
    first, second = notebooks["first"], notebooks["second"]
    assert second["metrics"]["began"] >= first["metrics"]["ended"]  # it waited for its turn
    assert second["metrics"]["pandas_loaded"] is True  # imported before its first cell ran
    assert second["metrics"]["names_left"] == []  # the warm-up leaves no names behind
    assert second["seconds"] < first["seconds"]  # its time counts from its turn, not its start


def test_notebook_imports_lists_the_modules_a_notebook_imports(tmp_path):
    path = tmp_path / "n.ipynb"
    make_notebook(
        path,
        ("md", "import not_code", ()),
        ("code", "%matplotlib inline\n!pip list\nimport os, numpy as np\nimport a.b", ()),
        ("code", "from c import d, e\nfrom . import relative\nif x:\n    import inner", ()),
        ("code", "def broken(:\n    import never", ()),
    )
    assert runner.notebook_imports(path) == ["os", "numpy", "a.b", "c", "c.d", "c.e", "inner"]


# ------------------------------------------------------------------ schedules


def test_the_airflow_dag_is_valid_python():
    source = (PROJECT / "schedule" / "airflow_dag.py").read_text(encoding="utf-8")
    compile(ast.parse(source), "airflow_dag.py", "exec")
    assert "make reports" in source or "run" in source


def test_the_crontab_line_runs_make_reports_under_flock():
    crontab = PROJECT / "schedule" / "crontab.txt"
    if not crontab.is_file():
        pytest.skip("this project was baked without the cron schedule")
    lines = [
        line
        for line in crontab.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#") and "=" not in line.split()[0]
    ]
    assert len(lines) == 1, lines
    fields = lines[0].split()
    assert all(re.fullmatch(r"[\d*/,-]+", f) for f in fields[:5]), fields[:5]
    command = " ".join(fields[5:])
    assert "flock" in command and "make reports" in command
    assert "%" not in command  # cron turns % into a newline
