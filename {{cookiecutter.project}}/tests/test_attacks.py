"""The attack matrix: runs that lose nothing and leak nothing, even when killed, misconfigured or
fed hostile values. One test (or parameter) per case; the cases that start real kernels and kill
the runner are marked slow.

- exception after the export cell: exit 1; latest, exports, decision log byte-identical;
- SIGKILL mid-run (one notebook running, the next warming up ahead): every worker and kernel
  gone, nothing changed, no secret on disk, the leftovers removed at the next start;
- SIGTERM mid-run: exit 5, every process gone, nothing changed, no temporary folder left;
- disk full while publishing (a writer raising ENOSPC; a real tiny tmpfs): exit 1, one line
  with the path, nothing changed;
- a partial or overridden run: not published; a re-run of the same review: one log entry;
- a worker whose notebook hangs while the runner does not stop it: it ends itself;
- a password with a raw @, /, # or ?: refused (exit 2) before any kernel, shown masked;
- a secret that is a common word: masked only where it stands as a credential;
- email / phone ids: validate errors; messages never quote them;
- +inf / -inf in Parquet and CSV: validate errors;
- a parameter of the wrong type, out of its range, or inf: exit 2 before any kernel;
- a key given twice in a YAML file: refused, naming the file, the key and the lines;
- a UserError in a notebook: whole on the console and in run.log, its first line on the page,
  no traceback anywhere.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from test_runner import (  # one notebook writer, one way to see a run's processes
    FAKE_PASSWORD,
    FAKE_URL,
    is_alive,
    make_notebook,
    processes_of,
    started_at,
    wait_until_gone,
)

from {{ cookiecutter.module_name }} import cli, config, data, report, runner

PACKAGE = runner.__package__
LINUX = Path("/proc/self/stat").exists()


LISTS = (
    ("md", "# Lists", ()),
    (
        "code",
        "rows: int = 10  # customers in the list\n"
        "fail_after_export: bool = False  # raise after the export cell\n"
        "sleep_seconds: float = 0.0  # pause after the export\n"
        'marker: str = ""  # file written once the export is staged\n'
        "share: float = 0.5  # a share of something (0-1)",
        ("parameters",),
    ),
    (
        "code",
        "import os, time\nfrom pathlib import Path\nimport pandas as pd\n"
        f"from {PACKAGE} import config, report\n"
        "frame = pd.DataFrame({'customer_id': [f'c{i:05d}' for i in range(rows)]})\n"
        "written = config.write_atomically(config.resolve('data/exports/at_risk.csv'),\n"
        "    lambda tmp: frame.to_csv(tmp, index=False))\n"
        "report.record('customers_flagged', rows)\n"
        "report.record('decision_log', [{'review_id': f'rows-{rows}', 'verdict': 'ship'}])\n"
        "print('connection:', os.environ.get('SHOP_DATA_URL'))",
        (),
    ),
    (
        "code",
        "if marker:\n    Path(marker).write_text(str(os.getpid()))\ntime.sleep(sleep_seconds)",
        (),
    ),
    ("code", "if fail_after_export:\n    raise RuntimeError('after the export')", ()),
)
OTHER = (
    ("md", "# Other", ()),
    ("code", f"from {PACKAGE} import report\nreport.record('n_customers', 3)", ()),
)


def write_project(root: Path) -> None:
    make_notebook(root / "notebooks" / "lists.ipynb", *LISTS)
    make_notebook(root / "notebooks" / "other.ipynb", *OTHER)
    (root / "params").mkdir(parents=True, exist_ok=True)
    (root / "params" / "defaults.yaml").write_text("", encoding="utf-8")
    set_lists_params(root, rows=1000)


def set_lists_params(root: Path, **values) -> None:
    text = "".join(f"{k}: {json.dumps(v)}\n" for k, v in values.items())
    (root / "params" / "lists.yaml").write_text(text, encoding="utf-8")


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Everything a failed run must leave as it was: exports, decision log, latest."""
    state: dict[str, bytes | str] = {}
    exports = root / "data" / "exports"
    for path in sorted(exports.rglob("*")) if exports.is_dir() else ():
        if path.is_file():
            state[str(path.relative_to(root))] = path.read_bytes()
    log = root / "data" / "decision_log.csv"
    state["decision_log"] = log.read_bytes() if log.is_file() else b""
    latest = root / "reports" / "latest"
    state["latest ->"] = os.readlink(latest) if latest.is_symlink() else ""
    state["LATEST"] = (root / "reports" / "LATEST").read_text()
    for path in sorted(latest.iterdir()):
        state[f"latest/{path.name}"] = path.read_bytes()
    return state


def files_holding(root: Path, secret: str) -> list[Path]:
    found = root.rglob("*")
    return [path for path in found if path.is_file() and secret.encode() in path.read_bytes()]


def leftovers(root: Path) -> list[str]:
    found = [*(root / "reports").glob(".tmp-*"), *(root / "data").glob(".staging-*")]
    return sorted(str(p.relative_to(root)) for p in found)


def start_runner(root: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "SHOP_PROJECT_ROOT": str(root), config.DATA_URL_ENV: FAKE_URL}
    return subprocess.Popen(
        [sys.executable, "-m", PACKAGE, "run", "--timeout", "120", *args],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def shop(tmp_path, monkeypatch):
    """A project with a published full run: 1,000 customers in data/exports/at_risk.csv."""
    root = tmp_path / "shop"
    write_project(root)
    monkeypatch.setenv("SHOP_PROJECT_ROOT", str(root))
    monkeypatch.setenv(config.DATA_URL_ENV, FAKE_URL)
    first = runner.run_reports(runner.RunOptions(run_id="good", jobs=2, timeout=120.0))
    assert first.exit_code == 0, first.summary
    exported = pd.read_csv(root / "data" / "exports" / "at_risk.csv")
    assert len(exported) == 1000
    assert "rows-1000" in (root / "data" / "decision_log.csv").read_text()
    return root


# ------------------------------------------------------------------ publishing all-or-nothing


@pytest.mark.slow
def test_an_exception_after_the_export_cell_changes_nothing(shop):
    before = snapshot(shop)
    set_lists_params(shop, rows=10, fail_after_export=True)
    result = runner.run_reports(runner.RunOptions(run_id="broken", jobs=2, timeout=120.0))
    assert result.exit_code == runner.EXIT_FAILED
    assert snapshot(shop) == before  # still 1,000 customers, no rows-10 in the decision log
    assert leftovers(shop) == []
    assert files_holding(shop, FAKE_PASSWORD) == []
    assert wait_until_gone(shop, 10) < 10 and processes_of(shop) == []


@pytest.mark.slow
def test_running_the_same_review_again_keeps_one_log_entry(shop):
    """A scheduled re-run of the same review updates its decision-log line, never adds one."""
    again = runner.run_reports(runner.RunOptions(run_id="again", jobs=2, timeout=120.0))
    assert again.exit_code == 0, again.summary
    log = pd.read_csv(shop / "data" / "decision_log.csv")
    assert list(log["review_id"]) == ["rows-1000"]


@pytest.mark.slow
def test_a_partial_or_overridden_run_is_never_published(shop):
    before = snapshot(shop)
    partial = runner.run_reports(runner.RunOptions(only=("lists",), run_id="partial"))
    overridden = runner.run_reports(runner.RunOptions(overrides={"rows": 5}, run_id="tweak"))
    assert partial.exit_code == overridden.exit_code == 0
    assert snapshot(shop) == before
    assert (shop / "reports" / "tweak" / "lists.html").is_file()  # its pages are kept
    assert leftovers(shop) == []


@pytest.mark.slow
@pytest.mark.skipif(not LINUX, reason="reads /proc")
@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_killing_the_runner_mid_run_leaves_no_process_no_change_no_secret(shop, how, capsys):
    before = snapshot(shop)
    marker = shop / "kernel.pid"
    set_lists_params(shop, rows=77, sleep_seconds=60, marker=str(marker))
    # --jobs 1 on two cores: "other" starts ahead of its turn and waits while lists sleeps
    runner_process = start_runner(shop, "--jobs", "1", "--run-id", "killed")
    deadline = time.monotonic() + 90
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), runner_process.communicate(timeout=30)
    kernel = int(marker.read_text())
    kernel_started = started_at(kernel)
    staged = list((shop / "data").glob(".staging-killed/exports/at_risk.csv"))
    assert staged, "the export should be staged while the run is under way"
    running = processes_of(shop)
    assert kernel in running and len(running) >= 3  # worker + kernel, and the one ahead
    killed_at = time.monotonic()
    os.kill(runner_process.pid, getattr(signal, how))
    code = runner_process.wait(timeout=60)
    runner_seconds = time.monotonic() - killed_at
    wait_until_gone(shop, also=(kernel, kernel_started))
    seconds = time.monotonic() - killed_at
    with capsys.disabled():
        print(
            f"\n{how}: runner ended {runner_seconds:.2f} s and all {len(running)} processes "
            f"of the run {seconds:.2f} s after the signal"
        )
    assert processes_of(shop) == [] and not is_alive(kernel, kernel_started)
    assert snapshot(shop) == before  # still the 1,000-customer list
    assert files_holding(shop, FAKE_PASSWORD) == []
    if how == "SIGTERM":
        assert code == runner.EXIT_STOPPED
        assert leftovers(shop) == []
        assert "stopped by SIGTERM" in runner_process.stderr.read()
    else:
        assert code == -signal.SIGKILL
        left = leftovers(shop)
        assert left, "a killed runner cannot clean up; the next start does"
        set_lists_params(shop, rows=1000)
        again = runner.run_reports(runner.RunOptions(only=("other",), run_id="next"))
        assert again.exit_code == 0
        assert leftovers(shop) == []
        assert "left by a run that was killed" in (again.run_dir / "run.log").read_text()


def _fail_with_enospc(staged: Path) -> None:
    target = staged / "customer_actions.csv"
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))


@pytest.mark.slow
def test_disk_full_while_publishing_changes_nothing_and_says_so_in_one_line(
    shop, monkeypatch, capsys
):
    before = snapshot(shop)
    set_lists_params(shop, rows=10)
    monkeypatch.setattr(runner, "write_customer_actions", _fail_with_enospc)
    result = runner.run_reports(runner.RunOptions(run_id="full-disk", jobs=2))
    assert result.exit_code == runner.EXIT_FAILED
    error = [line for line in capsys.readouterr().err.splitlines() if line.startswith("ERROR")]
    assert len(error) == 1 and "customer_actions.csv" in error[0]
    assert "No space left on device" in error[0] and "Traceback" not in error[0]
    assert snapshot(shop) == before
    assert leftovers(shop) == [] and not (shop / "reports" / "full-disk").exists()


@pytest.mark.slow
@pytest.mark.skipif(not LINUX or os.geteuid() != 0, reason="mounts a tmpfs (Linux, root)")
def test_a_really_full_exports_disk_changes_nothing(shop, capsys):
    exports = shop / "data" / "exports"
    saved = {p.name: p.read_bytes() for p in exports.iterdir()}
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(exports)], capture_output=True
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        for name, content in saved.items():
            (exports / name).write_bytes(content)
        before = snapshot(shop)
        filler = exports / ".filler"
        handle, size = os.open(filler, os.O_WRONLY | os.O_CREAT), 0
        try:
            while True:  # fill the disk to the last byte
                size += os.write(handle, b"x" * 1024)
        except OSError as full:
            assert full.errno == errno.ENOSPC
        finally:
            os.close(handle)
        os.truncate(filler, size - 4096)  # 4 KiB left: the new 8 KiB list cannot fit
        set_lists_params(shop, rows=1200)
        result = runner.run_reports(runner.RunOptions(run_id="tmpfs", jobs=2))
        filler.unlink()
        assert result.exit_code == runner.EXIT_FAILED
        error = capsys.readouterr().err
        assert "No space left on device" in error and "at_risk.csv" in error
        assert snapshot(shop) == before
        assert [p.name for p in exports.iterdir()] == ["at_risk.csv"]  # no partial file
    finally:
        subprocess.run(["umount", str(exports)], check=False)


@pytest.mark.slow
@pytest.mark.skipif(not LINUX, reason="reads /proc")
def test_a_worker_ends_itself_past_its_limit_even_if_the_runner_does_not(tmp_path):
    root = tmp_path / "p"
    make_notebook(
        root / "notebooks" / "hang.ipynb",
        ("md", "# Hang", ()),
        ("code", "import time\ntime.sleep(600)", ()),
    )
    work = root / "work"
    work.mkdir()
    spec = {
        "input": str(root / "notebooks" / "hang.ipynb"),
        "output": str(work / "hang.ipynb"),
        "parameters": {},
        "cwd": str(root / "notebooks"),
        "cell_timeout": 600,
        "kernel_pid_file": str(work / "kernel.pid"),
        "result": str(work / "result.json"),
        "timeout": 3,
        "grace": 1,
    }
    (work / "spec.json").write_text(json.dumps(spec))
    env = {**os.environ, "SHOP_PROJECT_ROOT": str(root), report.METRICS_ENV: str(work / "m")}
    started = time.monotonic()
    worker = subprocess.run(
        [sys.executable, "-m", f"{PACKAGE}._worker", str(work / "spec.json")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == 3 and "past its time limit" in worker.stderr
    assert time.monotonic() - started < 60
    kernel = int((work / "kernel.pid").read_text()) if (work / "kernel.pid").exists() else None
    assert kernel is None or not is_alive(kernel)
    assert not (work / "hang.ipynb").exists()  # its unredacted notebook went with it


def test_stale_run_folders_are_removed_at_the_next_start(tmp_path, monkeypatch):
    root = tmp_path / "p"
    (root / "notebooks").mkdir(parents=True)
    (root / "reports" / ".tmp-old").mkdir(parents=True)
    (root / "reports" / ".tmp-old" / "x.ipynb").write_text(FAKE_PASSWORD)
    (root / "data" / ".staging-old" / "exports").mkdir(parents=True)
    (root / "data" / "exports").mkdir()
    (root / "data" / "exports" / ".at_risk.123.partial.csv").write_text("half")
    (root / "data" / "exports" / "at_risk.csv").write_text("whole")
    monkeypatch.setenv("SHOP_PROJECT_ROOT", str(root))
    removed = runner.remove_leftovers(root / "reports")
    assert len(removed) == 3 and files_holding(root, FAKE_PASSWORD) == []
    assert [p.name for p in (root / "data" / "exports").iterdir()] == ["at_risk.csv"]


def test_exports_go_to_the_staging_folder_under_the_runner_only(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOP_PROJECT_ROOT", str(tmp_path))
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "defaults.yaml").write_text("")
    target = config.resolve("data/exports/lists/a.csv")
    monkeypatch.delenv(config.EXPORTS_STAGING_ENV, raising=False)
    assert config.write_atomically(target, lambda p: p.write_text("1")) == target  # JupyterLab
    staging = tmp_path / "data" / ".staging-r" / "exports"
    monkeypatch.setenv(config.EXPORTS_STAGING_ENV, str(staging))
    written = config.write_atomically(target, lambda p: p.write_text("2"))
    assert written == staging / "lists" / "a.csv" and written.read_text() == "2"
    assert target.read_text() == "1"
    log = config.resolve("data/decision_log.csv")  # not an export: written where asked
    assert config.write_atomically(log, lambda p: p.write_text("x")) == log


def test_the_customer_actions_hook_is_skipped_without_an_actions_module(tmp_path):
    assert runner.write_customer_actions(tmp_path) is None


# ------------------------------------------------------------------ secrets


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://analyst:p@ss@db.internal:5432/shop",  # raw @
        "postgresql://analyst:pa/ss@db.internal:5432/shop",  # raw /
        "postgresql://analyst:pa#ss@db.internal:5432/shop",  # raw #
        "postgresql://analyst:pa?ss@db.internal:5432/shop",  # raw ?
    ],
)
def test_a_url_that_does_not_parse_one_way_is_refused_masked(url, tmp_path, monkeypatch, capsys):
    (tmp_path / "notebooks").mkdir()
    make_notebook(tmp_path / "notebooks" / "x.ipynb", ("md", "# X", ()))
    monkeypatch.setenv("SHOP_PROJECT_ROOT", str(tmp_path))
    monkeypatch.setenv(config.DATA_URL_ENV, url)
    assert cli.main(["run"]) == 2
    message = capsys.readouterr().err
    for secret in ("p@ss", "pa/ss", "pa#ss", "pa?ss", "analyst"):
        assert secret not in message
    assert "postgresql://***@db.internal:5432/shop" in message and "%40" in message
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").iterdir())
    with pytest.raises(data.UserError, match="percent-encoded"):
        data.connect()


def test_the_redactor_masks_the_parsed_parts_of_every_credential_url():
    redactor = runner.Redactor(
        {
            config.DATA_URL_ENV: FAKE_URL,
            "WAREHOUSE_URL": "snowflake://bot:S3cret%2Fpass@acct/db",
            "HOME": "/root",
        }
    )
    text = f"auth failed for {FAKE_URL}; pw {FAKE_PASSWORD}; other S3cret/pass and S3cret%2Fpass"
    masked = redactor.text(text)
    assert FAKE_PASSWORD not in masked and "S3cret" not in masked
    assert "/root" in redactor.text("home is /root")  # not a secret


def test_a_secret_that_is_a_common_word_does_not_garble_the_pages():
    redactor = runner.Redactor(
        {
            config.DATA_URL_ENV: "postgresql://reader:customers@db.internal/shop",
            "API_TOKEN": "customers",
        }
    )
    page = "<h2>Who are our customers?</h2><p>1,234 customers flagged</p>"
    assert redactor.text(page) == page
    leaked = "url postgresql://reader:customers@db.internal/shop; API_TOKEN=customers; :customers@"
    masked = redactor.text(leaked)
    assert "customers" not in masked, masked
    assert masked == "url ***; API_TOKEN=***; :***@"


# ------------------------------------------------------------------ personal data


def _tiny_shop(folder: Path, customer_ids: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = "\n".join(f"{c},2026-01-0{i + 1} 10:00:00" for i, c in enumerate(customer_ids))
    (folder / "customers.csv").write_text("customer_id,signed_up_at\n" + rows + "\n")
    orders = "\n".join(
        f"o{i},{c},2026-01-0{i + 1} 12:00:00,10.0" for i, c in enumerate(customer_ids)
    )
    (folder / "orders.csv").write_text("order_id,customer_id,ordered_at,revenue\n" + orders + "\n")
    return folder


@pytest.mark.parametrize(
    ("ids", "flagged"),
    [
        (["jane.doe@example.com", "c2", "c3"], 1),
        (["+44 20 7946 0958", "(555) 123-4567", "c3"], 2),
        (["000123", "98765432101", "c3"], 0),  # numeric ids are ordinary ids
    ],
)
def test_validate_flags_email_and_phone_ids_without_quoting_them(
    tmp_path, monkeypatch, ids, flagged
):
    monkeypatch.delenv(config.DATA_URL_ENV, raising=False)
    folder = _tiny_shop(tmp_path / "d", ids)
    found = data.validate(folder, today="2026-06-30", tables=["customers", "orders"])
    pii = [p for p in found.errors if p.rule.startswith("ids must be anonymous")]
    assert sum(p.count for p in pii if p.table == "customers") == flagged
    text = found.to_text() + found.to_text(mask_ids=False)
    for value in ids[:flagged]:
        assert value not in text
    if not flagged:
        data.check(data.connect(folder), ["customers"], today="2026-06-30")
        return
    with pytest.raises(data.UserError) as raised:
        data.check(data.connect(folder), ["customers"], today="2026-06-30")
    assert all(value not in str(raised.value) for value in ids)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
@pytest.mark.parametrize("value", [float("inf"), float("-inf")])
def test_infinite_amounts_are_refused_in_every_file_format(tmp_path, monkeypatch, fmt, value):
    monkeypatch.delenv(config.DATA_URL_ENV, raising=False)
    folder = _tiny_shop(tmp_path / "d", ["c1", "c2"])
    orders = pd.read_csv(folder / "orders.csv", dtype={"order_id": str, "customer_id": str})
    orders.loc[0, "revenue"] = value
    (folder / "orders.csv").unlink()
    if fmt == "parquet":
        orders.to_parquet(folder / "orders.parquet", index=False)
    else:
        orders.to_csv(folder / "orders.csv", index=False)  # written as inf / -inf
    found = data.validate(folder, today="2026-06-30", tables=["orders"])
    revenue = [p for p in found.errors if p.column == "revenue"]
    assert revenue, found.to_text()


# ------------------------------------------------------------------ parameters and files


@pytest.fixture
def typed_project(tmp_path, monkeypatch):
    make_notebook(tmp_path / "notebooks" / "lists.ipynb", *LISTS)
    (tmp_path / "params").mkdir()
    monkeypatch.setenv("SHOP_PROJECT_ROOT", str(tmp_path))
    monkeypatch.delenv(config.DATA_URL_ENV, raising=False)
    return tmp_path


@pytest.mark.parametrize(
    ("pair", "says"),
    [
        ("rows=abc", "must be a whole number"),
        ("rows=2.5", "must be a whole number"),
        ("fail_after_export=maybe", "must be true or false"),
        ("sleep_seconds=.inf", "must be a number"),
        ("share=1.5", "between 0 and 1"),
    ],
)
def test_a_parameter_of_the_wrong_type_stops_the_run_before_any_kernel(
    typed_project, pair, says, capsys
):
    assert cli.main(["run", "-p", pair]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and "\n" not in err and "notebooks/lists.ipynb" in err
    assert not (typed_project / "reports").exists() or not list(
        (typed_project / "reports").glob("*/run.log")
    )


def test_numbers_given_for_text_parameters_are_passed_as_text(typed_project):
    plans, _ = runner.plan_notebooks(["lists"], overrides={"marker": 7, "rows": 12.0})
    assert plans[0].parameters["marker"] == "7" and plans[0].parameters["rows"] == 12


def test_a_key_given_twice_in_a_yaml_file_is_refused(typed_project, capsys):
    (typed_project / "params" / "lists.yaml").write_text("rows: 5\nshare: 0.2\nrows: 50\n")
    assert cli.main(["run"]) == 2
    err = capsys.readouterr().err
    assert "lists.yaml" in err and "'rows' twice (lines 1 and 3)" in err


def test_os_errors_are_one_line_with_the_path():
    error = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/data/exports/at_risk.csv")
    line = cli.os_error_message(error)
    assert line.startswith("Could not write /data/exports/at_risk.csv: No space left")
    assert "\n" not in line and "free some space" in line


# ------------------------------------------------------------------ user errors


@pytest.mark.slow
def test_a_user_error_is_whole_in_run_log_and_plain_on_the_page(tmp_path, monkeypatch, capsys):
    root = tmp_path / "p"
    folder = _tiny_shop(root / "data" / "shop", ["jane.doe@example.com", "c2"])
    make_notebook(
        root / "notebooks" / "check.ipynb",
        ("md", "# Check", ()),
        (
            "code",
            f"from {PACKAGE} import data\n"
            f"data.check(data.connect({str(folder)!r}), ['customers'], today='2026-06-30')",
            (),
        ),
    )
    (root / "params").mkdir()
    monkeypatch.setenv("SHOP_PROJECT_ROOT", str(root))
    monkeypatch.delenv(config.DATA_URL_ENV, raising=False)
    result = runner.run_reports(runner.RunOptions(jobs=1, timeout=120.0))
    assert result.exit_code == runner.EXIT_FAILED
    console = capsys.readouterr().err
    log = (result.run_dir / "run.log").read_text()
    for text in (console, log):
        assert "customers.customer_id" in text and "ids must be anonymous" in text
        assert "jane.doe@example.com" not in text
    assert "Traceback" not in log
    page = (result.run_dir / "check.html").read_text()
    assert "The data does not meet the data contract" in page
    for code in ("UserError", "Traceback", "data.check", str(root), "jane.doe"):
        assert code not in page
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert "jane.doe@example.com" not in json.dumps(summary)
