"""Benchmark the kit: bake, sample data, every report at S / M / L, and the alternatives.

``make bench`` runs this file with the kit's virtualenv. It bakes the default project into a
temporary folder, generates the sample shop at each size, runs every notebook through the
project's own runner and records wall time, CPU time and peak memory, then compares the runner
with the same code run as one plain Python process, and the engine (Ibis/DuckDB) aggregation with
the pandas code a user would otherwise write. The figures go to ``bench/results.json``;
``BENCHMARKS.md`` is then written from that file (``--markdown-only`` re-writes it alone).

Every measured step runs in a child process started with ``--python``; the driver itself needs
only the standard library (and psutil, when installed, for the memory of a whole process tree).
See bench/README.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import datetime as dt
import importlib
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KIT = Path(__file__).resolve().parents[1]
PROJECT = "shop-insights"  # folder and module of the default bake
MODULE = "shop_insights"
SIZES = {"xs": 1_000, "s": 10_000, "m": 100_000, "l": 1_000_000}  # customers
DEFAULT_SIZES = "s m l"
DEFAULT_REPEATS = 3
OVERHEAD_SIZE = "m"  # where the issue sets the papermill overhead target
ENGINE_SIZE = "l"  # where the issue sets the engine speed-up target
MIB = 1024 * 1024
DATA_URL_ENV = "SHOP_DATA_URL"
SAMPLE_EVERY = 0.2  # seconds between two memory samples of a process tree
STEP_TIMEOUT = 3 * 3600  # seconds: a step slower than this is stopped and reported as failed
NOTEBOOK_TIMEOUT = 3600  # the runner's own per-notebook limit, above its 1800 s default
PACKAGES = (
    "cookiecutter",
    "pandas",
    "numpy",
    "pyarrow",
    "duckdb",
    "ibis-framework",
    "sqlglot",
    "scikit-learn",
    "scipy",
    "statsmodels",
    "matplotlib",
    "papermill",
    "nbclient",
    "nbconvert",
    "ipykernel",
    "psutil",
)

# Targets from issue 9, in the order BENCHMARKS.md lists them.
BAKE_MAX_S = 1.0
SUITE_S_MAX_S = 25.0
SUITE_L_MAX_S = 300.0
SUITE_L_MAX_MIB = 6 * 1024
OVERHEAD_MAX = 1.25
ENGINE_MIN_SPEEDUP = 5.0
LINEAR_MAX_EXPONENT = 1.2  # "roughly linear": time grows at most like orders^1.2
# Targets the analysis issues set at L (1M customers, about 12M orders), and issue 6's test size.
SAMPLE_L_MAX_S, SAMPLE_L_MAX_MIB = 90.0, 4 * 1024  # issue 3: the generator
SEGMENTATION_L_MAX_S, SEGMENTATION_L_MAX_MIB = 90.0, 4 * 1024  # issue 4
CHURN_L_MAX_S, CHURN_L_MAX_MIB = 180.0, 6 * 1024  # issue 5
WEEKLY_L_MAX_S = 20.0  # issue 15: the weekly business review at L, on 2 cores
EXPERIMENT_NOTEBOOK = "post_launch_review"
EXPERIMENT_VISITORS = 1_000_000  # issue 6: the readout of an A/B test this large within 60 s
EXPERIMENT_CUSTOMERS = 1_100_000  # enough customers signed up before the test for 1M to enter
EXPERIMENT_MAX_S = 60.0
# Issue 16: the engine step against its limits, and the suite on a local Spark.
IBIS_OVERHEAD_MAX = 1.15  # Ibis on DuckDB vs the same aggregation as hand-written DuckDB SQL
POLARS_MIN_RATIO = 1.0  # Polars lazy time / engine time: the engine must be the faster
AGGREGATE_METHODS = ("engine", "duckdb_sql", "polars", "pandas")
DEFAULT_SPARK_SIZES = "m l"
SPARK_URL = "spark://local[2]"  # a Spark inside each notebook's kernel, on the 2 cores
SPARK_REPEATS = 1  # minutes per run: one run per size


# ============================================================================ measuring


@dataclass(frozen=True)
class Measurement:
    """One child process: how long, how much CPU and memory, and how it ended."""

    wall_s: float
    cpu_s: float  # user + system time of the child and all its descendants (wait4 rusage)
    peak_rss_mib: float  # sum of RSS over the process tree, sampled (psutil); see rss_method()
    max_process_rss_mib: float  # largest single process in the tree (wait4 ru_maxrss)
    returncode: int
    output: str  # last part of stdout + stderr, for error messages
    peak_jvm_rss_mib: float = 0.0  # the largest Java process of the tree (Spark), sampled
    jvm_cpu_s: float = 0.0  # CPU of the tree's Java processes, last sample (wait4 misses them)

    def as_dict(self) -> dict[str, float]:
        return {
            "wall_s": round(self.wall_s, 3),
            "cpu_s": round(self.cpu_s, 3),
            "peak_rss_mib": round(self.peak_rss_mib, 1),
            "max_process_rss_mib": round(self.max_process_rss_mib, 1),
        }


def rss_method() -> str:
    """How peak memory is measured on this machine (psutil when installed)."""
    try:
        import psutil  # noqa: F401
    except ImportError:
        return "wait4 ru_maxrss: largest single process of the tree (psutil not installed)"
    return (
        f"psutil: sum of RSS over the whole process tree, sampled every {SAMPLE_EVERY:g} s "
        "(pages shared by several processes count in each; peaks shorter than that can be missed)"
    )


def _tree_rss(pid: int, java_cpu: dict[int, float] | None = None) -> tuple[int, int] | None:
    """Bytes resident in the process ``pid`` and all its descendants, and in its largest Java
    process (a Spark driver; 0 when there is none), or None without psutil. The CPU seconds
    of each Java process so far go to ``java_cpu`` (a JVM is not reaped by our wait4)."""
    try:
        import psutil
    except ImportError:
        return None
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    total = java = 0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            rss = process.memory_info().rss
            total += rss
            if process.name() == "java":
                java = max(java, rss)
                if java_cpu is not None:
                    times = process.cpu_times()
                    java_cpu[process.pid] = times.user + times.system
    return total, java


def _kill_tree(pid: int) -> None:
    """Stop a timed-out step: its process group and every descendant (kernels have their own)."""
    with contextlib.suppress(ImportError):
        import psutil

        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    child.kill()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class _TreeSampler(threading.Thread):
    """Samples the memory of a process tree until stopped; kills the tree past its deadline."""

    def __init__(self, pid: int, deadline: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.deadline, self.peak, self.peak_java = pid, deadline, 0, 0
        self.java_cpu: dict[int, float] = {}
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.is_set():
            total, java = _tree_rss(self.pid, self.java_cpu) or (0, 0)
            self.peak, self.peak_java = max(self.peak, total), max(self.peak_java, java)
            if time.perf_counter() > self.deadline:
                _kill_tree(self.pid)
            self._stopped.wait(SAMPLE_EVERY)

    def stop(self) -> None:
        self._stopped.set()
        self.join()


def measure(
    command: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = STEP_TIMEOUT,
) -> Measurement:
    """Run ``command`` to its end and measure it.

    CPU time and the largest single process come from ``os.wait4`` on the child: the exact
    per-call equivalent of a ``RUSAGE_CHILDREN`` delta (it covers every descendant that was
    waited for, such as the notebook kernels). The memory of the whole tree is sampled with
    psutil while the child runs.
    """
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group, so a timeout can stop all of it
        )
        sampler = _TreeSampler(process.pid, started + timeout)
        sampler.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)  # blocks; the sampler stops a hung step
        finally:
            sampler.stop()
        peak = sampler.peak
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # wait4 reaped it, not Popen
        log.seek(0)
        output = log.read().decode("utf-8", errors="replace")[-6000:]
    largest = usage.ru_maxrss * 1024 / MIB  # kibibytes on Linux
    return Measurement(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mib=max(peak / MIB, largest),  # a tree holds at least its largest process
        max_process_rss_mib=largest,
        returncode=process.returncode,
        output=output,
        peak_jvm_rss_mib=sampler.peak_java / MIB,
        jvm_cpu_s=sum(sampler.java_cpu.values()),
    )


def stats(values: Sequence[float]) -> dict[str, Any]:
    """A figure with every run kept beside its median."""
    runs = [round(v, 3) for v in values]
    return {"median": round(statistics.median(values), 3) if values else None, "runs": runs}


def summarise(measurements: Sequence[Measurement]) -> dict[str, Any]:
    """Median and runs of wall, CPU and memory over the repeats of one step."""
    return {
        key: stats([m.as_dict()[key] for m in measurements])
        for key in ("wall_s", "cpu_s", "peak_rss_mib", "max_process_rss_mib")
    } | {"repeats": len(measurements)}


def log_slope(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Least-squares slope of log(y) on log(x): the exponent b in y ~ x^b."""
    points = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
    if len({x for x, _ in points}) < 2:
        return None
    return round(statistics.linear_regression(*zip(*points, strict=True)).slope, 3)


class StepFailed(RuntimeError):
    """A measured step did not finish successfully."""


def say(message: str) -> None:
    stamp = dt.datetime.now().strftime("%H:%M:%S")
    print(f"[bench {stamp}] {message}", flush=True)


# ============================================================================ the project


@dataclass(frozen=True)
class Project:
    """The baked default project and how to run its code."""

    root: Path
    python: str

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != DATA_URL_ENV}  # files, never a DB
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(self.root / "src"), env.get("PYTHONPATH")])
        )
        env["SHOP_PROJECT_ROOT"] = str(self.root)
        return env

    def notebooks(self) -> list[str]:
        return sorted(p.stem for p in (self.root / "notebooks").glob("*.ipynb"))

    def run(self, command: Sequence[str], what: str) -> Measurement:
        done = measure([self.python, *command], cwd=self.root, env=self.env)
        if done.returncode != 0:
            raise StepFailed(f"{what} failed (exit code {done.returncode}):\n{done.output}")
        return done


def bake_once(python: str, out: Path) -> Measurement:
    """``cookiecutter --no-input`` of the kit, as a PM types it."""
    out.mkdir(parents=True, exist_ok=True)
    command = [
        python,
        "-m",
        "cookiecutter",
        "--no-input",
        "--output-dir",
        str(out),
        str(KIT),
        "init_git=no",
    ]
    done = measure(command, cwd=out)
    if done.returncode != 0:
        raise StepFailed(f"baking the kit failed:\n{done.output}")
    return done


def bake_in_process(python: str, out: Path) -> dict[str, float]:
    """Import time and bake time of ``cookiecutter()`` called in one process (for the note)."""
    result = out / "bake.json"
    command = [python, str(Path(__file__).resolve()), "_bake", str(out), str(result)]
    done = measure(command, cwd=out)
    if done.returncode != 0:
        raise StepFailed(f"the in-process bake failed:\n{done.output}")
    return json.loads(result.read_text(encoding="utf-8"))


_NO_IRI = "import sys; sys.modules.setdefault('rfc3987_syntax', None); "  # as runner/_worker do
_KERNEL = (
    "from jupyter_client.manager import start_new_kernel\n"
    "manager, client = start_new_kernel(kernel_name='python3')\n"
    "client.stop_channels()\n"
    "manager.shutdown_kernel(now=True)\n"
)
# What every notebook run pays whatever the data size, each in a fresh Python (the runner's
# command runs once per run; the rest once per notebook).
FIXED_STEPS: dict[str, list[str]] = {
    "Python start": ["-c", "pass"],
    "runner command: start and imports (once per run)": ["-m", MODULE, "run", "--help"],
    "worker: papermill and nbclient imports": ["-c", _NO_IRI + "import papermill, nbclient"],
    "kernel start and shutdown": ["-c", _KERNEL],
    "analysis imports (pandas, matplotlib, seaborn, Ibis, scikit-learn, statsmodels)": [
        "-c",
        "import pandas, matplotlib.pyplot, seaborn, ibis, sklearn.cluster, statsmodels.api, "
        f"{MODULE}.plots, {MODULE}.data",
    ],
    "HTML page: nbconvert and bleach imports": ["-c", _NO_IRI + f"import {MODULE}.html"],
}
PER_NOTEBOOK_STEPS = tuple(list(FIXED_STEPS)[2:])


def fixed_costs(project: Project, repeats: int) -> dict[str, Any]:
    """Wall and CPU of each fixed step of a notebook run (each includes a Python start)."""
    costs = {}
    for label, command in FIXED_STEPS.items():
        costs[label], _ = repeated(
            f"fixed cost: {label}",
            repeats,
            lambda i, c=command, what=label: (project.run(c, what), None),
        )
    return costs


def interpreter_start(python: str, cwd: Path) -> float:
    """Wall seconds of ``python -c pass``: the floor of any command-line step."""
    return measure([python, "-c", "pass"], cwd=cwd).wall_s


def ensure_dependencies(python: str, project: Path, *, spark: bool = False) -> list[str]:
    """Install what is missing in the venv: the baked project's dependencies, psutil, Polars
    (the peer of the engine step) and, when Spark is measured, the project's ``spark`` extra.

    The project itself is not installed: it is imported from ``<project>/src`` via PYTHONPATH
    (the runner passes the same path to its kernels), so no editable install points at a
    temporary folder afterwards. psutil measures the memory of a whole process tree. Everything
    goes in one pip call, so the project's pins (sqlglot, duckdb) hold for the extras too.
    """
    meta = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    probes = {
        "import pandas, ibis, duckdb, papermill, nbconvert, ipykernel, sklearn, statsmodels": list(
            meta["dependencies"]
        ),
        "import psutil": ["psutil"],
        "import polars": ["polars"],
    }
    if spark:
        probes["import pyspark, ibis.backends.pyspark"] = list(
            meta["optional-dependencies"]["spark"]
        )
    wanted = [
        package
        for probe, packages in probes.items()
        if subprocess.run([python, "-c", probe], capture_output=True).returncode != 0
        for package in packages
    ]
    if wanted:
        wanted = [*dict.fromkeys([*wanted, *meta["dependencies"]])]  # the pins stay in force
        say(f"installing missing packages into {python}: {', '.join(wanted)}")
        command = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*command, *wanted], check=True)
        importlib.invalidate_caches()  # so this process finds psutil when it is the same venv
    return wanted


def package_versions(python: str) -> dict[str, str | None]:
    code = (
        "import json, importlib.metadata as m\n"
        f"names = {list(PACKAGES)!r}\n"
        "def v(n):\n"
        "    try:\n        return m.version(n)\n"
        "    except m.PackageNotFoundError:\n        return None\n"
        "print(json.dumps({n: v(n) for n in names}))"
    )
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def python_version(python: str) -> str:
    code = "import sys, platform; print(platform.python_implementation(), sys.version.split()[0])"
    return subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.strip()


# ============================================================================ the runs


def clear_reports(project: Project) -> None:
    """Remove earlier runs, so every measured run starts from the same empty reports/ folder."""
    reports = project.root / "reports"
    for entry in reports.iterdir() if reports.is_dir() else []:
        if entry.name.startswith(".git"):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def report_run(
    project: Project,
    data_dir: Path,
    run_id: str,
    *,
    jobs: int,
    only: Sequence[str] = (),
    data_url: str | None = None,
) -> tuple[Measurement, dict[str, Any]]:
    """One ``python -m <module> run`` measured; returns it with what the run itself recorded.

    ``data_url`` runs the reports on that engine (``SHOP_DATA_URL``) instead of the files."""
    clear_reports(project)
    env = project.env | ({DATA_URL_ENV: data_url} if data_url else {})
    command = [
        "-m",
        MODULE,
        "run",
        "--jobs",
        str(jobs),
        "--run-id",
        run_id,
        "--timeout",
        str(NOTEBOOK_TIMEOUT),
        "-p",
        f"data_dir={data_dir}",
    ]
    if only:
        command += ["--only", *only]
    done = measure([project.python, *command], cwd=project.root, env=env)
    folder = project.root / "reports" / run_id
    summary_file = folder / "summary.json"
    # Exit code 1 (a notebook failed) and 3 (an alert fired) still leave a complete summary:
    # the failure is recorded per notebook and shown, and the benchmark goes on.
    if not summary_file.is_file():
        raise StepFailed(f"`run {' '.join(only) or '(all)'}` failed:\n{done.output}")
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    recorded = {}
    for name, entry in summary["notebooks"].items():
        recorded[name] = {
            "status": entry["status"],
            "runner_seconds": entry["seconds"],
            **cell_times(folder / f"{name}.ipynb"),
        }
        if entry["status"] != "ok":
            recorded[name]["error"] = entry.get("error")
    return done, recorded


def cell_times(executed: Path, top: int = 3) -> dict[str, Any]:
    """Seconds spent running cells (papermill's per-cell durations) and the slowest cells."""
    if not executed.is_file():
        return {}
    nb = json.loads(executed.read_text(encoding="utf-8"))
    sources = {
        index: "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        for index, cell in enumerate(nb["cells"])
        if cell["cell_type"] == "code"
    }
    aliases = _package_aliases(sources.values())
    cells = []
    for index, source in sources.items():
        seconds = nb["cells"][index].get("metadata", {}).get("papermill", {}).get("duration")
        if seconds is not None:
            cells.append(
                {"cell": index, "seconds": round(seconds, 2), "code": _cell_label(source, aliases)}
            )
    slowest = sorted(cells, key=lambda c: c["seconds"], reverse=True)[:top]
    return {"kernel_seconds": round(sum(c["seconds"] for c in cells), 2), "slowest_cells": slowest}


# Package modules that only format or record: their calls do not say where a cell's time goes.
_PRESENTATION_MODULES = frozenset({"plots", "report", "config"})


def _package_aliases(sources: Iterable[str]) -> set[str]:
    """Names the notebook gives the package's analysis modules (``segmentation as seg``)."""
    aliases = set()
    for source in sources:
        with contextlib.suppress(SyntaxError):
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.ImportFrom) and node.module == MODULE:
                    aliases |= {
                        a.asname or a.name
                        for a in node.names
                        if a.name not in _PRESENTATION_MODULES
                    }
    return aliases


def _cell_label(source: str, aliases: set[str]) -> str:
    """What a cell calls in the package (``data.check, seg.customer_features``), in order.

    A cell without such calls is shown by its first line that is not an import.
    """
    calls: list[tuple[int, int, str]] = []
    with contextlib.suppress(SyntaxError):
        for node in ast.walk(ast.parse(source)):
            function = node.func if isinstance(node, ast.Call) else None
            if (
                isinstance(function, ast.Attribute)
                and isinstance(function.value, ast.Name)
                and function.value.id in aliases
            ):
                calls.append((node.lineno, node.col_offset, f"{function.value.id}.{function.attr}"))
    named = list(dict.fromkeys(name for *_, name in sorted(calls)))
    if named:
        return ", ".join(named[:4]) + (", …" if len(named) > 4 else "")
    lines = [line.strip() for line in source.splitlines()]
    code = [line for line in lines if line and not line.startswith("#")]
    doing = [line for line in code if not line.startswith(("import ", "from "))]
    imports = "imports; " if len(doing) < len(code) else ""
    return imports + (doing or code or [""])[0][:60]


def repeated(
    label: str, repeats: int, step: Callable[[int], tuple[Measurement, Any]]
) -> tuple[dict[str, Any], list[Any]]:
    """Run a step ``repeats`` times; its summary and each run's extra result."""
    measurements, extras = [], []
    for i in range(repeats):
        done, extra = step(i)
        say(
            f"{label} [{i + 1}/{repeats}]: {done.wall_s:.1f} s wall, {done.cpu_s:.1f} s CPU, "
            f"{done.peak_rss_mib:,.0f} MiB"
        )
        measurements.append(done)
        extras.append(extra)
    return summarise(measurements), extras


def median_recorded(extras: Sequence[Mapping[str, Any]], name: str) -> dict[str, Any]:
    """The runner's own figures for one notebook over the repeats (median run's cell times)."""
    entries = [extra[name] for extra in extras if name in extra]
    statuses = sorted({e["status"] for e in entries})
    ordered = sorted(entries, key=lambda e: e["runner_seconds"])
    middle = ordered[(len(ordered) - 1) // 2] if ordered else {}
    result = {
        "status": "ok" if statuses == ["ok"] else ",".join(statuses),
        "runner_seconds": stats([e["runner_seconds"] for e in entries]),
        "kernel_seconds": stats([e["kernel_seconds"] for e in entries if "kernel_seconds" in e]),
        "slowest_cells": middle.get("slowest_cells", []),
    }
    errors = [e["error"] for e in entries if e.get("error")]
    if errors:
        result["error"] = errors[0]
    return result


def bench_size(
    project: Project,
    size: str,
    work: Path,
    repeats: int,
    notebooks: Sequence[str],
    *,
    with_overhead: bool,
    with_engine: bool,
    engine_repeats: int,
    with_spark: bool = False,
) -> dict[str, Any]:
    """Everything measured at one data size; the sample data is removed afterwards."""
    customers = SIZES[size]
    data_dir = work / f"data-{size}"
    result: dict[str, Any] = {
        "customers": customers,
        "repeats": repeats,
        "load_average_at_start": _load(),
    }

    def sample(i: int) -> tuple[Measurement, None]:
        shutil.rmtree(data_dir, ignore_errors=True)
        command = ["-m", MODULE, "sample", "--customers", str(customers), "--out", str(data_dir)]
        return project.run(command, f"sample generation at {size.upper()}"), None

    result["sample"], _ = repeated(f"{size.upper()} sample", repeats, sample)
    truth = json.loads((data_dir / "truth.json").read_text(encoding="utf-8"))
    result["orders"] = truth["counts"]["orders"]
    result["rows"] = truth["counts"]
    say(f"{size.upper()}: {customers:,} customers, {result['orders']:,} orders")

    result["notebooks"] = {}
    for name in notebooks:
        summary, extras = repeated(
            f"{size.upper()} {name}",
            repeats,
            lambda i, name=name: report_run(
                project, data_dir, f"b-{size}-{name}-{i}", jobs=1, only=[name]
            ),
        )
        result["notebooks"][name] = summary | median_recorded(extras, name)

    result["suite"] = {}
    for jobs in (1, 2):
        summary, extras = repeated(
            f"{size.upper()} suite --jobs {jobs}",
            repeats,
            lambda i, jobs=jobs: report_run(
                project, data_dir, f"b-{size}-all{jobs}-{i}", jobs=jobs, only=notebooks
            ),
        )
        statuses = {extra[n]["status"] for extra in extras for n in extra}
        summary["status"] = "ok" if statuses == {"ok"} else ",".join(sorted(statuses))
        summary["per_notebook_runner_seconds"] = {
            n: stats([extra[n]["runner_seconds"] for extra in extras]) for n in notebooks
        }
        result["suite"][f"jobs{jobs}"] = summary
    if with_spark:
        result["spark"] = spark_suite(project, data_dir, size, notebooks)

    if with_overhead:
        result["overhead"] = overhead(project, data_dir, work, repeats, notebooks, result)
    if with_engine:  # seconds per run even at L, so as many runs as the small sizes get
        result["engine_vs_pandas"] = engine_vs_pandas(project, data_dir, work, engine_repeats)
    clear_reports(project)
    shutil.rmtree(data_dir, ignore_errors=True)
    result["load_average_at_end"] = _load()
    return result


def spark_suite(
    project: Project, data_dir: Path, size: str, notebooks: Sequence[str]
) -> dict[str, Any]:
    """(e) Every report on a local Spark (``spark://local[2]``) reading the same Parquet files.

    ``run --jobs 1`` as the DuckDB suite beside it: each notebook's kernel starts its own Spark
    (a JVM on the 2 cores), which the memory of the process tree includes; the largest Java
    process is recorded on its own.
    """
    url = f"{SPARK_URL}?parquet={data_dir}"
    jvm: list[Measurement] = []

    def one(i: int) -> tuple[Measurement, dict[str, Any]]:
        done, recorded = report_run(
            project, data_dir, f"b-{size}-spark-{i}", jobs=1, only=notebooks, data_url=url
        )
        jvm.append(done)
        return done, recorded

    label = f"{size.upper()} suite on Spark local[2] --jobs 1"
    summary, extras = repeated(label, SPARK_REPEATS, one)
    statuses = {extra[n]["status"] for extra in extras for n in extra}
    summary["status"] = "ok" if statuses == {"ok"} else ",".join(sorted(statuses))
    errors = [extra[n].get("error") for extra in extras for n in extra if extra[n].get("error")]
    if errors:
        summary["error"] = str(errors[0])[-2000:]
    summary["peak_jvm_rss_mib"] = stats([round(m.peak_jvm_rss_mib, 1) for m in jvm])
    # wait4 counts the Python processes only: the JVMs' own CPU, sampled, is added
    summary["jvm_cpu_s"] = stats([round(m.jvm_cpu_s, 1) for m in jvm])
    summary["cpu_with_jvm_s"] = stats([round(m.cpu_s + m.jvm_cpu_s, 1) for m in jvm])
    summary["per_notebook_runner_seconds"] = {
        n: stats([extra[n]["runner_seconds"] for extra in extras if n in extra]) for n in notebooks
    }
    summary["url"] = f"{SPARK_URL}?parquet=<the size's sample folder>"
    return summary


def overhead(
    project: Project,
    data_dir: Path,
    work: Path,
    repeats: int,
    notebooks: Sequence[str],
    measured: Mapping[str, Any],
) -> dict[str, Any]:
    """(a) The runner (papermill, a kernel per notebook, HTML) vs the same code in one process.

    The plain run executes each notebook's code cells, with the same layered parameters, in one
    IPython shell (no kernel, no papermill, no HTML): figures and tables are still rendered, as
    the kernel renders them, so the difference is the runner's own cost.
    """
    per_notebook: list[dict[str, float]] = []

    def plain(i: int) -> tuple[Measurement, dict[str, float]]:
        result_file = work / f"plain-{i}.json"
        command = [
            str(Path(__file__).resolve()),
            "_plain",
            str(data_dir),
            str(result_file),
            *notebooks,
        ]
        done = project.run(command, "the plain-Python run of the notebooks")
        return done, json.loads(result_file.read_text(encoding="utf-8"))

    summary, extras = repeated("plain Python, one process", repeats, plain)
    per_notebook = extras
    runner_wall = measured["suite"]["jobs1"]["wall_s"]["median"]
    plain_wall = summary["wall_s"]["median"]
    return {
        "plain": summary,
        "plain_import_seconds": stats([e["import_seconds"] for e in per_notebook]),
        "plain_per_notebook_seconds": {
            n: stats([e["notebooks"][n] for e in per_notebook]) for n in notebooks
        },
        "runner_suite_jobs1_wall_s": runner_wall,
        "ratio": round(runner_wall / plain_wall, 3),
    }


def experiment_at_scale(project: Project, work: Path, repeats: int) -> dict[str, Any]:
    """The post-launch review of an A/B test with a million visitors (issue 6's target).

    The sample generator sizes the test exactly (``--experiment-visitors``); the shop around it
    is a little larger than L so that enough customers were known before the test started.
    """
    data_dir = work / "data-experiment"
    command = ["-m", MODULE, "sample", "--customers", str(EXPERIMENT_CUSTOMERS)]
    command += ["--experiment-visitors", str(EXPERIMENT_VISITORS), "--out", str(data_dir)]
    project.run(command, "sample generation for the 1M-visitor experiment")
    counts = json.loads((data_dir / "truth.json").read_text(encoding="utf-8"))["counts"]
    summary, extras = repeated(
        f"{EXPERIMENT_NOTEBOOK} at {EXPERIMENT_VISITORS:,} visitors",
        repeats,
        lambda i: report_run(
            project, data_dir, f"b-experiment-{i}", jobs=1, only=[EXPERIMENT_NOTEBOOK]
        ),
    )
    clear_reports(project)
    shutil.rmtree(data_dir, ignore_errors=True)
    return {
        "customers": EXPERIMENT_CUSTOMERS,
        "visitors": counts["assignments"],
        "orders": counts["orders"],
        "sessions": counts["sessions"],
        **summary,
        **median_recorded(extras, EXPERIMENT_NOTEBOOK),
    }


def engine_vs_pandas(project: Project, data_dir: Path, work: Path, repeats: int) -> dict[str, Any]:
    """(b) Customer features from the orders table: Ibis/DuckDB (as the notebooks do) vs the
    same aggregation as hand-written DuckDB SQL, as Polars lazy, and as naive pandas.

    Each method runs in a fresh process per repeat, so its peak memory is its own; the timed part
    starts after the imports and ends with the same customer-level DataFrame.
    """
    out: dict[str, Any] = {}
    checks: dict[str, dict[str, Any]] = {}
    for method in AGGREGATE_METHODS:

        def one(i: int, method: str = method) -> tuple[Measurement, dict[str, Any]]:
            result_file = work / f"aggregate-{method}-{i}.json"
            command = [
                str(Path(__file__).resolve()),
                "_aggregate",
                method,
                str(data_dir),
                str(result_file),
            ]
            done = project.run(command, f"the {method} aggregation")
            return done, json.loads(result_file.read_text(encoding="utf-8"))

        summary, extras = repeated(f"customer features, {method}", repeats, one)
        summary["seconds"] = stats([e["seconds"] for e in extras])
        summary["phases"] = {
            phase: stats([e["phases"][phase] for e in extras]) for phase in extras[0]["phases"]
        }
        out[method] = summary
        checks[method] = extras[0]["check"]
    out["same_result"] = _same_check(checks["engine"], checks["pandas"])
    out["same_result_all"] = {m: _same_check(checks["engine"], checks[m]) for m in checks}
    out["check"] = checks["engine"]
    seconds = {m: out[m]["seconds"]["median"] for m in AGGREGATE_METHODS}
    out["speedup"] = round(seconds["pandas"] / seconds["engine"], 3)
    out["speedup_end_to_end"] = round(
        out["pandas"]["wall_s"]["median"] / out["engine"]["wall_s"]["median"], 3
    )
    out["ibis_overhead"] = round(seconds["engine"] / seconds["duckdb_sql"], 3)
    out["polars_ratio"] = round(seconds["polars"] / seconds["engine"], 3)
    return out


def _same_check(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if a.keys() != b.keys():
        return False
    for key, value in a.items():
        other = b[key]
        if isinstance(value, float) or isinstance(other, float):
            if not math.isclose(value, other, rel_tol=1e-9, abs_tol=1e-6):
                return False
        elif value != other:
            return False
    return True


def _load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


# ============================================================================ child commands


def child_bake(out: str, result: str) -> int:
    """``_bake OUT RESULT``: time importing cookiecutter, one in-process bake and its hooks."""
    started = time.perf_counter()
    from cookiecutter import hooks as cookiecutter_hooks
    from cookiecutter.main import cookiecutter

    imported = time.perf_counter()
    hook_seconds: list[float] = []
    run_script = cookiecutter_hooks.run_script

    def timed_run_script(*args: Any, **kwargs: Any) -> None:  # each hook is a new Python
        begin = time.perf_counter()
        try:
            run_script(*args, **kwargs)
        finally:
            hook_seconds.append(time.perf_counter() - begin)

    cookiecutter_hooks.run_script = timed_run_script
    cookiecutter(
        str(KIT),
        no_input=True,
        output_dir=str(Path(out) / "in-process"),
        extra_context={"init_git": False},
    )
    baked = time.perf_counter()
    timings = {
        "import_seconds": imported - started,
        "bake_seconds": baked - imported,
        "hook_seconds": sum(hook_seconds),
        "hooks": len(hook_seconds),
    }
    Path(result).write_text(json.dumps(timings))
    return 0


def child_plain(data_dir: str, result: str, notebooks: Sequence[str]) -> int:
    """``_plain DATA RESULT NAME...``: run the notebooks' code in one IPython shell, in order.

    Runs in the project (cwd = project root, PYTHONPATH = its src). Parameters come from the
    runner's own layering, with ``data_dir`` overridden as the runner is told with ``-p``.
    """
    started = time.perf_counter()
    import nbformat
    from IPython.core.interactiveshell import InteractiveShell

    runner = __import__(f"{MODULE}.runner", fromlist=["runner"])

    class Shell(InteractiveShell):
        def enable_gui(self, gui: str | None = None) -> None:  # no GUI event loop: inline only
            return None

    shell = Shell.instance()
    shell.enable_matplotlib("inline")  # as in a kernel: every figure rendered to PNG
    # a kernel computes every representation (HTML tables, Markdown, PNG), a terminal only text
    shell.display_formatter.active_types = list(shell.display_formatter.formatters)
    imported = time.perf_counter()
    root = Path.cwd()
    seconds: dict[str, float] = {}
    for name in notebooks:
        begin = time.perf_counter()
        plans, _ = runner.plan_notebooks([name], (), {"data_dir": data_dir})
        nb = nbformat.read(plans[0].path, as_version=4)
        shell.reset(new_session=False)
        os.chdir(root / "notebooks")  # the runner's working folder for notebooks
        injected = "\n".join(f"{k} = {v!r}" for k, v in plans[0].parameters.items())
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            _run_cell(shell, cell.source, name)
            if "parameters" in cell.metadata.get("tags", []):
                _run_cell(shell, injected, name)  # papermill's injected-parameters cell
        os.chdir(root)
        seconds[name] = time.perf_counter() - begin
    Path(result).write_text(
        json.dumps({"import_seconds": imported - started, "notebooks": seconds})
    )
    return 0


def _run_cell(shell: Any, source: str, notebook: str) -> None:
    outcome = shell.run_cell(source, store_history=False)
    if not outcome.success:
        error = outcome.error_in_exec or outcome.error_before_exec
        raise StepFailed(f"{notebook}: a cell failed in the plain run: {error!r}")


def child_aggregate(method: str, data_dir: str, result: str) -> int:
    """``_aggregate METHOD DATA RESULT``: customer features from the orders table, by one of
    AGGREGATE_METHODS (the engine as the notebooks call it, or one of its peers)."""
    import pandas as pd

    seg = __import__(f"{MODULE}.segmentation", fromlist=["segmentation"])
    orders_file = Path(data_dir) / "orders.parquet"
    if method == "engine":
        data = __import__(f"{MODULE}.data", fromlist=["data"])
        started = time.perf_counter()
        con = data.connect(data_dir)
        orders = data.table(con, "orders")
        cutoff = data.as_of(con)
        ready = time.perf_counter()
        features = seg.customer_features(orders, as_of=cutoff)
        phases = {"connect": ready - started, "aggregate": time.perf_counter() - ready}
    elif method in ("duckdb_sql", "polars"):
        # The same plan as the engine's (one small scan for the channel and category levels,
        # one GROUP BY with a count per level), written by hand; the levels and the pandas
        # step after the fetch are the package's own, so only the engine step differs.
        aggregate = duckdb_sql_aggregates if method == "duckdb_sql" else polars_aggregates
        started = time.perf_counter()
        raw, cutoff, channels, categories, ready = aggregate(orders_file, seg)
        raw["top_category"] = seg._favourite_from_counts(raw, categories)
        features = seg._derive_features(raw, cutoff, channels)
        phases = {"connect": ready - started, "aggregate": time.perf_counter() - ready}
    else:
        started = time.perf_counter()
        orders = pd.read_parquet(orders_file)
        ready = time.perf_counter()
        features = pandas_customer_features(orders)
        phases = {"read": ready - started, "aggregate": time.perf_counter() - ready}
    seconds = time.perf_counter() - started
    Path(result).write_text(
        json.dumps({"seconds": seconds, "phases": phases, "check": feature_check(features)})
    )
    return 0


def _naive_utc(moment: Any) -> Any:
    import pandas as pd

    moment = pd.Timestamp(moment)
    return moment.tz_convert("UTC").tz_localize(None) if moment.tz is not None else moment


def _sql_text(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def duckdb_sql_aggregates(orders_file: Path, seg: Any) -> tuple[Any, ...]:
    """Per-customer aggregates as an analyst would write them in DuckDB SQL (no Ibis)."""
    import duckdb

    con = duckdb.connect()
    cutoff = con.sql(f"SELECT max(ordered_at) FROM read_parquet({_sql_text(orders_file)})")
    cutoff = cutoff.fetchone()[0]
    con.sql(
        f"CREATE TEMP VIEW o AS SELECT *, coalesce(CAST(channel AS VARCHAR), 'unknown') AS ch, "
        f"coalesce(is_refunded, false) AS refunded FROM read_parquet({_sql_text(orders_file)}) "
        f"WHERE ordered_at <= CAST({_sql_text(cutoff)} AS TIMESTAMP)"
    )
    ready = time.perf_counter()
    mix = con.sql("SELECT ch AS channel, CAST(category AS VARCHAR) AS category, count(*) AS n "
                  "FROM o GROUP BY ALL").df()  # fmt: skip
    channels, categories = seg._channel_levels(mix), seg._category_levels(mix)
    named = ", ".join(_sql_text(v) for v in channels if v != "other") or "NULL"
    counts = [
        f"count(*) FILTER (WHERE ch NOT IN ({named})) AS {column}"
        if value == "other"
        else f"count(*) FILTER (WHERE ch = {_sql_text(value)}) AS {column}"
        for value, column in channels.items()
    ] + [
        f"count(*) FILTER (WHERE category = {_sql_text(name)}) AS category_orders_{i}"
        for i, name in enumerate(categories)
    ]
    raw = con.sql(
        "SELECT customer_id, min(ordered_at) AS first_order_at, max(ordered_at) AS "
        "last_order_at, count(*) AS frequency, count(*) FILTER (WHERE refunded) AS "
        "refunded_orders, sum(CASE WHEN refunded THEN 0.0 ELSE CAST(revenue AS DOUBLE) END) AS "
        "monetary, sum(CASE WHEN refunded THEN 0.0 ELSE coalesce(CAST(discount AS DOUBLE), 0.0) "
        "END) AS discount, " + ", ".join(counts) + " FROM o GROUP BY customer_id "
        "ORDER BY customer_id"
    ).df()
    return raw, _naive_utc(cutoff), channels, categories, ready


def polars_aggregates(orders_file: Path, seg: Any) -> tuple[Any, ...]:
    """Per-customer aggregates as Polars lazy frames (the peer an expert would pick)."""
    import polars as pl

    scan = pl.scan_parquet(orders_file)
    cutoff = scan.select(pl.col("ordered_at").max()).collect().item()
    orders = scan.filter(pl.col("ordered_at") <= cutoff).with_columns(
        ch=pl.col("channel").cast(pl.String).fill_null("unknown"),
        refunded=pl.col("is_refunded").fill_null(False),
        category=pl.col("category").cast(pl.String),
    )
    ready = time.perf_counter()
    mix = orders.group_by(channel="ch", category="category").agg(n=pl.len()).collect()
    mix = mix.to_pandas()
    channels, categories = seg._channel_levels(mix), seg._category_levels(mix)
    named = [v for v in channels if v != "other"]
    kept = ~pl.col("refunded")
    counts = [
        (~pl.col("ch").is_in(named) if value == "other" else pl.col("ch") == value)
        .sum()
        .alias(column)
        for value, column in channels.items()
    ] + [
        (pl.col("category") == name).sum().alias(f"category_orders_{i}")
        for i, name in enumerate(categories)
    ]
    raw = (
        orders.group_by("customer_id")
        .agg(
            pl.col("ordered_at").min().alias("first_order_at"),
            pl.col("ordered_at").max().alias("last_order_at"),
            pl.len().alias("frequency"),
            pl.col("refunded").sum().alias("refunded_orders"),
            pl.when(kept).then(pl.col("revenue").cast(pl.Float64)).otherwise(0.0).sum()
            .alias("monetary"),
            pl.when(kept).then(pl.col("discount").cast(pl.Float64).fill_null(0.0))
            .otherwise(0.0).sum().alias("discount"),
            *counts,
        )
        .sort("customer_id")
        .collect()
        .to_pandas()
    )  # fmt: skip
    return raw, _naive_utc(cutoff), channels, categories, ready


def pandas_customer_features(orders: Any) -> Any:
    """The naive pandas equivalent of ``segmentation.customer_features`` (whole history).

    What a pandas notebook would do with the whole table in memory: one groupby for the sums,
    one for the channel mix and one for the favourite category. Same definitions as the
    engine version (net revenue and AOV over orders not refunded, ties A-Z).
    """
    import pandas as pd

    cutoff = orders["ordered_at"].max()
    orders = orders[orders["ordered_at"] <= cutoff]
    kept = ~orders["is_refunded"].fillna(False).astype(bool)
    orders = orders.assign(
        net=orders["revenue"].where(kept, 0.0),
        kept_discount=orders["discount"].fillna(0.0).where(kept, 0.0),
        refunded=(~kept).astype("int64"),
        channel=orders["channel"].fillna("unknown"),
    )
    per_customer = orders.groupby("customer_id").agg(
        first_order_at=("ordered_at", "min"),
        last_order_at=("ordered_at", "max"),
        frequency=("ordered_at", "size"),
        refunded=("refunded", "sum"),
        monetary=("net", "sum"),
        discount=("kept_discount", "sum"),
    )
    channels = orders.groupby(["customer_id", "channel"]).size().unstack(fill_value=0)
    top = (
        orders.dropna(subset=["category"])
        .groupby(["customer_id", "category"])
        .size()
        .rename("n")
        .reset_index()
        .sort_values(["customer_id", "n", "category"], ascending=[True, False, True])
        .drop_duplicates("customer_id")
        .set_index("customer_id")["category"]
    )
    kept_orders = per_customer["frequency"] - per_customer["refunded"]
    gross = per_customer["monetary"] + per_customer["discount"]
    day = pd.Timedelta(days=1)
    features = pd.DataFrame(
        {
            "recency_days": (cutoff - per_customer["last_order_at"]) / day,
            "frequency": per_customer["frequency"],
            "monetary": per_customer["monetary"],
            "aov": (per_customer["monetary"] / kept_orders.where(kept_orders > 0)).fillna(0.0),
            "tenure_days": (cutoff - per_customer["first_order_at"]) / day,
            "refund_rate": per_customer["refunded"] / per_customer["frequency"],
            "discount_share": (per_customer["discount"] / gross.where(gross != 0)).fillna(0.0),
        }
    )
    shares = channels.div(per_customer["frequency"], axis=0)
    shares.columns = [f"channel_{c}" for c in shares.columns]
    features = features.join(shares).join(top.rename("top_category"))
    return features.reset_index().sort_values("customer_id", ignore_index=True)


def feature_check(features: Any) -> dict[str, Any]:
    """Totals that two correct implementations must share (rows, sums, category counts)."""
    check: dict[str, Any] = {"rows": len(features)}
    for column in (
        "recency_days",
        "frequency",
        "monetary",
        "aov",
        "tenure_days",
        "refund_rate",
        "discount_share",
    ):
        check[column] = float(features[column].astype("float64").sum())
    for column in sorted(c for c in features.columns if c.startswith("channel_")):
        check[column] = float(features[column].astype("float64").sum())
    counts = features["top_category"].astype("string").fillna("<none>").value_counts()
    check["top_category"] = {str(k): int(v) for k, v in sorted(counts.items())}
    return check


CHILD_COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "_bake": lambda a: child_bake(a[0], a[1]),
    "_plain": lambda a: child_plain(a[0], a[1], a[2:]),
    "_aggregate": lambda a: child_aggregate(a[0], a[1], a[2]),
}


# ============================================================================ the whole run


def run_benchmark(
    python: str,
    sizes: Sequence[str],
    repeats: int,
    large_repeats: int,
    only: Sequence[str],
    spark_sizes: Sequence[str] = (),
) -> dict[str, Any]:
    """Measure everything and return the content of results.json."""
    started_at = dt.datetime.now(dt.UTC)
    load_start = _load()
    results: dict[str, Any] = {
        "schema": 1,
        "started_at": started_at.isoformat(timespec="seconds"),
        "kit_commit": _git("rev-parse", "--short", "HEAD"),
        "kit_changes_uncommitted": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }
    with _scratch() as work:
        say(f"baking the default project (x{repeats}) with {python}")
        bakes = [bake_once(python, work / f"bake-{i}") for i in range(repeats)]
        project = Project(work / "bake-0" / PROJECT, python)
        spark_sizes = [size for size in sizes if size in spark_sizes]
        installed = ensure_dependencies(python, project.root, spark=bool(spark_sizes))
        notebooks = list(only) or project.notebooks()
        missing = sorted(set(notebooks) - set(project.notebooks()))
        if missing:
            raise StepFailed(f"no notebook named {', '.join(missing)} in the baked project")
        in_process = bake_in_process(python, work)
        results["machine"] = {
            "cpu_count": os.cpu_count(),
            "memory_gib": round(
                os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1
            ),
            "platform": platform.platform(),
            "python": python_version(python),
            "packages": package_versions(python),
            "load_average_start": load_start,
            "shared": "the machine was shared with other work during the run: see the load "
            "averages (1, 5, 15 minutes) at start and end, and per size",
        }
        results["method"] = {
            "sizes": list(sizes),
            "spark_sizes": spark_sizes,
            "repeats": repeats,
            "repeats_l": large_repeats,
            "notebooks": notebooks,
            "python": python,
            "dependencies_installed": installed,
            "wall": "time.perf_counter() around each child process",
            "cpu": "user + system seconds of the child and every descendant it waited for "
            "(os.wait4 rusage, the per-call equivalent of a RUSAGE_CHILDREN delta)",
            "rss": rss_method(),
            "notebook": "`python -m shop_insights run --only NAME --jobs 1` (a fresh runner, "
            "worker and kernel; executed notebook and HTML written)",
            "suite": "`python -m shop_insights run --jobs N` over every notebook",
            "plain": "the notebooks' code cells run in order in one IPython shell in one "
            "process, figures and tables rendered as in a kernel (no papermill, kernel or HTML)",
            "engine": "data.connect + data.table('orders') + segmentation.customer_features "
            "(Ibis on DuckDB, as the segmentation notebook does)",
            "pandas": "pd.read_parquet(orders.parquet) and groupby (bench/run.py "
            "pandas_customer_features), checked to give the same totals",
            "duckdb_sql": "the engine's two queries written by hand as DuckDB SQL on "
            "read_parquet (bench/run.py duckdb_sql_aggregates), the package's own levels and "
            "pandas step after the fetch",
            "polars": "the same two aggregations as Polars lazy frames on scan_parquet "
            "(bench/run.py polars_aggregates), collected and converted to pandas",
            "spark": f"`run --jobs 1` with SHOP_DATA_URL={SPARK_URL}?parquet=<sample folder>: "
            "each notebook's kernel starts a local Spark (a JVM on 2 cores)",
        }
        results["bake"] = {
            "cli": summarise(bakes),
            "in_process_import_s": round(in_process["import_seconds"], 3),
            "in_process_bake_s": round(in_process["bake_seconds"], 3),
            "in_process_hooks_s": round(in_process["hook_seconds"], 3),
            "hooks": in_process["hooks"],
            "python_start_s": round(interpreter_start(python, work), 3),
        }
        say(f"bake: median {results['bake']['cli']['wall_s']['median']} s")
        results["fixed_costs"] = fixed_costs(project, repeats)
        overhead_size = OVERHEAD_SIZE if OVERHEAD_SIZE in sizes else sizes[0]
        engine_size = ENGINE_SIZE if ENGINE_SIZE in sizes else sizes[-1]
        results["sizes"] = {}
        for size in sizes:
            results["sizes"][size] = bench_size(
                project,
                size,
                work,
                large_repeats if size == "l" else repeats,
                notebooks,
                with_overhead=size == overhead_size,
                with_engine=size == engine_size,
                engine_repeats=repeats,
                with_spark=size in spark_sizes,
            )
            _write_partial(results)
        if "l" in sizes and EXPERIMENT_NOTEBOOK in notebooks:
            results["experiment_at_scale"] = experiment_at_scale(project, work, large_repeats)
            _write_partial(results)
    results["overhead"] = {"size": overhead_size, **results["sizes"][overhead_size].pop("overhead")}
    results["engine_vs_pandas"] = {
        "size": engine_size,
        **results["sizes"][engine_size].pop("engine_vs_pandas"),
    }
    results["scaling"] = scaling(results["sizes"], notebooks)
    results["machine"]["load_average_end"] = _load()
    results["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    results["targets"] = targets(results)
    return results


def _write_partial(results: Mapping[str, Any]) -> None:
    """Keep what is measured so far (a long run can be inspected while it goes on)."""
    partial = Path(tempfile.gettempdir()) / "kit-bench-partial.json"
    partial.write_text(json.dumps(results, indent=1), encoding="utf-8")


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    work = Path(tempfile.mkdtemp(prefix="kit-bench-"))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _git(*args: str) -> str | None:
    done = subprocess.run(["git", "-C", str(KIT), *args], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def scaling(sizes: Mapping[str, Any], notebooks: Sequence[str]) -> dict[str, Any]:
    """(c) Exponents b in value ~ orders^b: fitted over S..L, and the local M->L slope."""
    used = [s for s in ("s", "m", "l") if s in sizes]
    series: dict[str, list[float]] = {}
    for size in used:
        at = sizes[size]
        entries = {
            "sample": at["sample"],
            **{f"notebook {n}": at["notebooks"][n] for n in notebooks},
            "suite --jobs 1": at["suite"]["jobs1"],
            "suite --jobs 2": at["suite"]["jobs2"],
        }
        for label, entry in entries.items():
            for key in ("wall_s", "peak_rss_mib"):
                series.setdefault(f"{label}|{key}", []).append(entry[key]["median"])
    orders = [sizes[s]["orders"] for s in used]
    rows = {}
    for key, values in series.items():
        label, measure_key = key.split("|")
        row = rows.setdefault(label, {})
        kind = "time" if measure_key == "wall_s" else "memory"
        row[f"{kind}_exponent"] = log_slope(orders, values)
        if {"m", "l"} <= set(used):
            row[f"{kind}_exponent_m_to_l"] = log_slope(orders[-2:], values[-2:])
    return {"sizes": used, "orders": orders, "exponents": rows}


# ============================================================================ targets


def targets(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each target of issue 9 with the measured value and whether it is met (None: not run)."""
    sizes = results["sizes"]

    def suite(size: str) -> Mapping[str, Any] | None:
        return sizes[size]["suite"] if size in sizes else None

    rows = []
    bake = results["bake"]["cli"]["wall_s"]["median"]
    rows.append(_target("bake", f"≤ {BAKE_MAX_S:g} s", bake, "s", bake <= BAKE_MAX_S))
    small = suite("s")
    rows.append(
        _suite_target(
            "S suite wall (`--jobs 2`)", f"≤ {SUITE_S_MAX_S:g} s", small, "wall_s", SUITE_S_MAX_S
        )
    )
    large = suite("l")
    rows.append(
        _suite_target(
            "L suite wall (`--jobs 2`)",
            f"≤ {SUITE_L_MAX_S / 60:g} min",
            large,
            "wall_s",
            SUITE_L_MAX_S,
        )
    )
    rows.append(
        _suite_target(
            "L suite peak memory (`--jobs 2`)",
            f"≤ {SUITE_L_MAX_MIB / 1024:g} GiB",
            large,
            "peak_rss_mib",
            SUITE_L_MAX_MIB,
        )
    )
    over = results["overhead"]
    at_m = over["size"] == OVERHEAD_SIZE
    rows.append(
        _target(
            f"papermill overhead at {over['size'].upper()}",
            f"≤ {OVERHEAD_MAX:g}× at M",
            over["ratio"],
            "×",
            over["ratio"] <= OVERHEAD_MAX if at_m else None,
        )
    )
    engine = results["engine_vs_pandas"]
    at_l = engine["size"] == ENGINE_SIZE
    met = engine["speedup"] >= ENGINE_MIN_SPEEDUP and engine["same_result"]
    rows.append(
        _target(
            f"engine vs pandas at {engine['size'].upper()}",
            f"≥ {ENGINE_MIN_SPEEDUP:g}× at L",
            engine["speedup"],
            "×",
            met if at_l else None,
        )
    )
    rows += _engine_limit_targets(engine, at_l)
    # The steepest of the S->L fit and the local M->L slope over every notebook and suite:
    # fixed costs flatten the fit, the M->L slope shows how the data-bound part grows.
    scale = results["scaling"]
    steepest = [
        (value, f"{label}, {'M→L' if key.endswith('m_to_l') else 'fit'}")
        for label, row in scale["exponents"].items()
        if label != "sample"
        for key, value in row.items()
        if key.startswith("time_exponent") and value is not None
    ]
    worst = max(steepest) if steepest and "l" in scale["sizes"] else None
    rows.append(
        _target(
            "time vs orders (steepest exponent to L)",
            f"roughly linear (≤ {LINEAR_MAX_EXPONENT:g})",
            worst[0] if worst else None,
            f" ({worst[1]})" if worst else "",
            worst[0] <= LINEAR_MAX_EXPONENT if worst else None,
        )
    )
    return rows + _analysis_targets(results)


def _engine_limit_targets(engine: Mapping[str, Any], at_l: bool) -> list[dict[str, Any]]:
    """Issue 16: the engine step against hand-written DuckDB SQL and against Polars lazy."""
    same = engine.get("same_result_all", {})
    overhead, polars = engine.get("ibis_overhead"), engine.get("polars_ratio")
    size = engine["size"].upper()
    return [
        _target(
            f"Ibis overhead vs hand-written DuckDB SQL at {size} (#16)",
            f"≤ {IBIS_OVERHEAD_MAX:g}× at L",
            overhead,
            "×",
            (overhead <= IBIS_OVERHEAD_MAX and same.get("duckdb_sql") is True)
            if at_l and overhead is not None
            else None,
        ),
        _target(
            f"Polars lazy time / engine time at {size} (#16)",
            f"≥ {POLARS_MIN_RATIO:g}× (engine faster) at L",
            polars,
            "×",
            (polars >= POLARS_MIN_RATIO and same.get("polars") is True)
            if at_l and polars is not None
            else None,
        ),
    ]


def _analysis_targets(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The targets of the generator and analysis issues (#3-#6, #15), at the sizes they are set."""
    at_l = results["sizes"].get("l", {})
    notebooks = at_l.get("notebooks", {})
    rows = []
    for name, entry, seconds, mib in (
        ("sample at L (#3)", at_l.get("sample"), SAMPLE_L_MAX_S, SAMPLE_L_MAX_MIB),
        (
            "segmentation at L (#4)",
            notebooks.get("segmentation"),
            SEGMENTATION_L_MAX_S,
            SEGMENTATION_L_MAX_MIB,
        ),
        ("churn at L (#5)", notebooks.get("churn"), CHURN_L_MAX_S, CHURN_L_MAX_MIB),
    ):
        rows.append(_step_target(f"{name}, wall", entry, "wall_s", seconds))
        rows.append(_step_target(f"{name}, peak memory", entry, "peak_rss_mib", mib))
    rows.append(
        _step_target(
            "weekly business review at L (#15), wall",
            notebooks.get("weekly_business_review"),
            "wall_s",
            WEEKLY_L_MAX_S,
        )
    )
    rows.append(
        _step_target(
            f"post-launch review, {EXPERIMENT_VISITORS / 1e6:g}M visitors in the test (#6), wall",
            results.get("experiment_at_scale"),
            "wall_s",
            EXPERIMENT_MAX_S,
        )
    )
    return rows


def _step_target(
    name: str, entry: Mapping[str, Any] | None, key: str, limit: float
) -> dict[str, Any]:
    """A time or memory limit on one measured step; not judged when the step did not run."""
    unit = "s" if key == "wall_s" else "MiB"
    goal = _limit_text(limit, unit)
    if entry is None:
        return _target(name, goal, None, unit, None)
    value = entry[key]["median"]
    return _target(name, goal, value, unit, entry.get("status", "ok") == "ok" and value <= limit)


def _limit_text(limit: float, unit: str) -> str:
    if unit == "MiB":
        return f"≤ {limit / 1024:g} GiB"
    return f"≤ {limit / 60:g} min" if limit >= 120 else f"≤ {limit:g} s"


def _target(name: str, goal: str, value: float | None, unit: str, met: bool | None) -> dict:
    return {"name": name, "target": goal, "measured": value, "unit": unit, "met": met}


def _suite_target(
    name: str, goal: str, suite: Mapping[str, Any] | None, key: str, limit: float
) -> dict:
    unit = "s" if key == "wall_s" else "MiB"
    if suite is None:
        return _target(name, goal, None, unit, None)
    value = suite["jobs2"][key]["median"]
    ok = suite["jobs2"]["status"] == "ok" and value <= limit
    return _target(name, goal, value, unit, ok)


# ============================================================================ BENCHMARKS.md


def markdown(results: Mapping[str, Any]) -> str:
    """BENCHMARKS.md, written only from the content of results.json."""
    machine, method = results["machine"], results["method"]
    lines = [
        "# Benchmarks",
        "",
        "Written by `bench/run.py` from `bench/results.json`; do not edit by hand. Re-run with "
        "`make bench` (see [bench/README.md](bench/README.md) for what is measured and how).",
        "",
        f"Measured {results['started_at']} – {results['finished_at']} on kit commit "
        f"`{results['kit_commit']}`"
        + (" (with uncommitted changes)" if results.get("kit_changes_uncommitted") else "")
        + f": {machine['cpu_count']} CPUs, {machine['memory_gib']} GiB, {machine['python']}, "
        f"{machine['platform']}.",
        "",
        _load_sentence(machine),
        "",
        f"Every figure is the median of {method['repeats']} runs"
        + (f" ({method['repeats_l']} at L)" if "l" in method["sizes"] else "")
        + "; results.json keeps every run.",
        "",
        "## Targets",
        "",
        "Issue 9's targets first (with issue 16's limits of the engine step beside the engine "
        "row), then those the generator and analysis issues set (#3-#6, #15).",
        "",
        "| target | goal | measured | |",
        "|---|---|---|---|",
    ]
    for row in results["targets"]:
        lines.append(
            f"| {row['name']} | {row['target']} | {_measured(row)} | {_mark(row['met'])} |"
        )
    lines += ["", "✅ met · ❌ missed · ➖ not measured in this run (size not included)", ""]
    misses = bounds_notes(results)
    if misses:
        lines += ["### What bounds the rest", "", *[f"- {note}" for note in misses], ""]
    lines += _bake_section(results) + _install_section(results)
    lines += _fixed_section(results) + _sample_section(results)
    lines += _notebook_section(results)
    lines += _suite_section(results) + _overhead_section(results) + _engine_section(results)
    lines += _experiment_section(results) + _spark_section(results)
    lines += _scaling_section(results) + _method_section(results)
    return "\n".join(lines).rstrip() + "\n"


def _load_sentence(machine: Mapping[str, Any]) -> str:
    start, end = machine["load_average_start"], machine["load_average_end"]
    cpus = machine["cpu_count"]
    loads = (
        f"load average {_load_text(start)} at the start and {_load_text(end)} at the end (1 / 5 "
        f"/ 15 min, {cpus} CPUs; the end includes the benchmark's own work)"
    )
    # Only the load before the first step tells of other work: later loads include our own.
    if start[0] < 0.5 * cpus:
        return f"The machine was otherwise idle when the run started: {loads}."
    return (
        f"**The machine was shared with other work during the run**: {loads}, so times are "
        "pessimistic and vary between repeats."
    )


def _experiment_section(results: Mapping[str, Any]) -> list[str]:
    entry = results.get("experiment_at_scale")
    if entry is None:
        return []
    slow = entry.get("slowest_cells") or []
    cell = f"{slow[0]['seconds']:.1f} s: `{slow[0]['code']}`".replace("|", "¦") if slow else ""
    kernel = entry["kernel_seconds"]["median"]
    return [
        f"## (d) Post-launch review with {entry['visitors']:,} visitors in the A/B test",
        "",
        f"The sample generator sized the test exactly (`sample --customers "
        f"{entry['customers']} --experiment-visitors {entry['visitors']}`: "
        f"{entry['orders']:,} orders, {entry['sessions']:,} sessions); then "
        f"`run --only {EXPERIMENT_NOTEBOOK} --jobs 1`.",
        "",
        "| status | wall | in cells | CPU | peak memory (tree) | slowest cell |",
        "|---|---|---|---|---|---|",
        f"| {entry['status']} | {_median(entry, 'wall_s'):.1f} s | "
        + (f"{kernel:.1f} s" if kernel is not None else "–")
        + f" | {_median(entry, 'cpu_s'):.1f} s | {_median(entry, 'peak_rss_mib'):,.0f} MiB | "
        f"{cell} |",
        "",
    ]


def _load_text(load: Sequence[float]) -> str:
    return " / ".join(f"{v:.1f}" for v in load)


def _mark(met: bool | None) -> str:
    return {True: "✅", False: "❌", None: "➖"}[met]


def _measured(row: Mapping[str, Any]) -> str:
    value, unit = row["measured"], row["unit"]
    if value is None:
        return "–"
    if unit == "MiB":
        return f"{value / 1024:.2f} GiB"
    if unit == "s" and value >= 120:
        return f"{value:,.0f} s ({value / 60:.1f} min)"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "×":
        return f"{value:.2f}×"
    return f"{value:.2f}{unit}"


def _median(entry: Mapping[str, Any], key: str) -> float:
    return entry[key]["median"]


def _sizes(results: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    return list(results["sizes"].items())


def _size_label(size: str, at: Mapping[str, Any]) -> str:
    return f"{size.upper()} ({at['customers']:,} customers, {at['orders']:,} orders)"


def _bake_section(results: Mapping[str, Any]) -> list[str]:
    bake = results["bake"]
    cli = bake["cli"]
    return [
        "## Bake",
        "",
        "| step | wall | CPU | peak memory |",
        "|---|---|---|---|",
        f"| `cookiecutter --no-input` (command line, {cli['repeats']} runs) | "
        f"{_median(cli, 'wall_s'):.2f} s | {_median(cli, 'cpu_s'):.2f} s | "
        f"{_median(cli, 'peak_rss_mib'):,.0f} MiB |",
        f"| of which: Python start | {bake['python_start_s']:.2f} s | | |",
        f"| of which: importing cookiecutter (in process) | {bake['in_process_import_s']:.2f} s "
        "| | |",
        f"| of which: `cookiecutter()` (in process) | {bake['in_process_bake_s']:.2f} s | | |",
        f"| of which, in `cookiecutter()`: the {bake['hooks']} hooks (a new Python each) | "
        f"{bake['in_process_hooks_s']:.2f} s | | |",
        "",
    ]


def _install_section(results: Mapping[str, Any]) -> list[str]:
    """Cold `make demo` per installer (bench/install.py), when it was measured."""
    install = results.get("install")
    if not install:
        return []
    median = install["median"]
    lines = [
        "## Cold install: `make demo` on a fresh machine",
        "",
        f"Measured {install['measured_at']} by `bench/install.py` (median of "
        f"{install['repeats']} run(s); load average {_load_text(install['load_average'])} at "
        "the end): a new kit virtualenv, a new demo folder and empty pip and uv caches (packages "
        "come from the index, or from local wheel folders where pip's configuration names "
        "them); the whole `make demo` includes the bake, the project's own `.venv`, the sample "
        "shop and every report.",
        "",
        "| installer | kit `.venv` | whole `make demo` | |",
        "|---|---|---|---|",
    ]
    for name, label in (("pip", "venv + pip (`INSTALLER=pip`)"), ("uv", "uv (on the PATH)")):
        if name in median:
            at = median[name]
            ratio = median["pip"]["total_s"] / at["total_s"] if "pip" in median else None
            faster = f"{ratio:.1f}× faster than pip" if name == "uv" and ratio else ""
            times = f"{at['kit_venv_s']:.0f} s | {at['total_s']:.0f} s"
            lines.append(f"| {label} | {times} | {faster} |")
    return lines + [""]


def _fixed_section(results: Mapping[str, Any]) -> list[str]:
    lines = [
        "## Fixed cost of a notebook run",
        "",
        "What a run pays whatever the data size, each step timed in a fresh Python (so each "
        "includes the Python start of the first row).",
        "",
        "| step | wall | CPU |",
        "|---|---|---|",
    ]
    for label, entry in results["fixed_costs"].items():
        wall, cpu = _median(entry, "wall_s"), _median(entry, "cpu_s")
        lines.append(f"| {label} | {wall:.2f} s | {cpu:.2f} s |")
    wall, cpu = _per_notebook_fixed(results)
    lines.append(
        f"| **per notebook** (worker, kernel, imports, HTML) | **{wall:.1f} s** | **{cpu:.1f} s** |"
    )
    return [*lines, ""]


def _per_notebook_fixed(results: Mapping[str, Any]) -> tuple[float, float]:
    """Wall and CPU every notebook pays before its first cell and for its page."""
    costs = results["fixed_costs"]
    steps = [costs[label] for label in PER_NOTEBOOK_STEPS if label in costs]
    return (
        sum(_median(step, "wall_s") for step in steps),
        sum(_median(step, "cpu_s") for step in steps),
    )


def _sample_section(results: Mapping[str, Any]) -> list[str]:
    lines = [
        "## Sample generation",
        "",
        "| size | wall | CPU | peak memory (tree) |",
        "|---|---|---|---|",
    ]
    for size, at in _sizes(results):
        sample = at["sample"]
        lines.append(
            f"| {_size_label(size, at)} | {_median(sample, 'wall_s'):.1f} s | "
            f"{_median(sample, 'cpu_s'):.1f} s | "
            f"{_median(sample, 'peak_rss_mib'):,.0f} MiB |"
        )
    return [*lines, ""]


def _notebook_section(results: Mapping[str, Any]) -> list[str]:
    lines = [
        "## Each notebook through the runner (`run --only NAME --jobs 1`)",
        "",
        "Wall and CPU of the whole command (runner, worker, kernel, HTML); *in cells* is the time "
        "papermill recorded for the notebook's cells, the rest is starting Python and the kernel, "
        "papermill and the HTML page.",
        "",
        "| size | notebook | wall | in cells | CPU | peak memory (tree) | slowest cell |",
        "|---|---|---|---|---|---|---|",
    ]
    for size, at in _sizes(results):
        for name, entry in at["notebooks"].items():
            slow = entry.get("slowest_cells") or []
            cell = f"{slow[0]['seconds']:.1f} s: `{slow[0]['code']}`" if slow else ""
            status = "" if entry["status"] == "ok" else f" ({entry['status']})"
            kernel = entry["kernel_seconds"]["median"]
            lines.append(
                f"| {size.upper()} | {name}{status} | {_median(entry, 'wall_s'):.1f} s | "
                f"{kernel:.1f} s | {_median(entry, 'cpu_s'):.1f} s | "
                f"{_median(entry, 'peak_rss_mib'):,.0f} MiB | {cell.replace('|', '¦')} |"
                if kernel is not None
                else f"| {size.upper()} | {name}{status} | {_median(entry, 'wall_s'):.1f} s | – |"
                f" {_median(entry, 'cpu_s'):.1f} s | {_median(entry, 'peak_rss_mib'):,.0f} MiB | |"
            )
    return [*lines, ""]


def _suite_section(results: Mapping[str, Any]) -> list[str]:
    lines = [
        "## The whole suite (`run --jobs N`)",
        "",
        "| size | jobs | wall | CPU | peak memory (tree) | status |",
        "|---|---|---|---|---|---|",
    ]
    for size, at in _sizes(results):
        for jobs, entry in at["suite"].items():
            lines.append(
                f"| {size.upper()} | {jobs.removeprefix('jobs')} | "
                f"{_median(entry, 'wall_s'):.1f} s | {_median(entry, 'cpu_s'):.1f} s | "
                f"{_median(entry, 'peak_rss_mib'):,.0f} MiB | {entry['status']} |"
            )
    return [*lines, ""]


def _overhead_section(results: Mapping[str, Any]) -> list[str]:
    over = results["overhead"]
    plain = over["plain"]
    runner = results["sizes"][over["size"]]["suite"]["jobs1"]
    lines = [
        f"## (a) Runner overhead at {over['size'].upper()}",
        "",
        "The same notebook code run as one plain Python process (every notebook's cells in one "
        "IPython shell, figures and tables rendered as a kernel renders them) against the runner "
        "(`run --jobs 1`: papermill, a kernel per notebook, the HTML pages).",
        "",
        "| | wall | CPU | peak memory |",
        "|---|---|---|---|",
        f"| runner, `--jobs 1` | {over['runner_suite_jobs1_wall_s']:.1f} s | "
        f"{_median(runner, 'cpu_s'):.1f} s | {_median(runner, 'peak_rss_mib'):,.0f} MiB |",
        f"| plain Python, one process | {_median(plain, 'wall_s'):.1f} s | "
        f"{_median(plain, 'cpu_s'):.1f} s | {_median(plain, 'peak_rss_mib'):,.0f} MiB |",
        f"| **ratio** | **{over['ratio']:.2f}×** | | |",
        "",
        f"Plain run per notebook (imports {over['plain_import_seconds']['median']:.1f} s once): "
        + ", ".join(
            f"{n} {v['median']:.1f} s" for n, v in over["plain_per_notebook_seconds"].items()
        )
        + ".",
        "",
    ]
    return lines


METHOD_LABELS = {
    "engine": "engine (Ibis on DuckDB, as the notebooks)",
    "duckdb_sql": "hand-written DuckDB SQL",
    "polars": "Polars lazy",
    "pandas": "naive pandas",
}


def _engine_section(results: Mapping[str, Any]) -> list[str]:
    engine = results["engine_vs_pandas"]
    rows = results["sizes"][engine["size"]]
    methods = [m for m in AGGREGATE_METHODS if m in engine]
    lines = [
        f"## (b) The engine step at {engine['size'].upper()} ({rows['orders']:,} orders): Ibis on "
        "DuckDB vs hand-written SQL, Polars and pandas",
        "",
        "Customer features from the orders table (what the segmentation notebook aggregates): "
        "Ibis on DuckDB as the package runs it; the same two queries written by hand in DuckDB "
        "SQL (the limit: what Ibis costs on top); the same aggregation as Polars lazy frames (the "
        "peer an expert would pick); and reading the Parquet file into pandas and grouping. Timed "
        "from opening the data to the customer-level DataFrame (imports excluded); memory is the "
        f"process's peak. Median of {engine['engine']['repeats']} runs of each, each in a fresh "
        "process.",
        "",
        "| method | time | vs engine | phases | CPU (process) | peak memory |",
        "|---|---|---|---|---|---|",
    ]
    base = engine["engine"]["seconds"]["median"]
    for method in methods:
        entry = engine[method]
        phases = ", ".join(f"{k} {v['median']:.1f} s" for k, v in entry["phases"].items())
        seconds = entry["seconds"]["median"]
        lines.append(
            f"| {METHOD_LABELS[method]} | {seconds:.2f} s | {seconds / base:.2f}× | {phases} | "
            f"{_median(entry, 'cpu_s'):.1f} s | {_median(entry, 'peak_rss_mib'):,.0f} MiB |"
        )
    same_all = engine.get("same_result_all", {"pandas": engine["same_result"]})
    differ = [METHOD_LABELS[m] for m, same in same_all.items() if not same]
    lines += [
        "",
        f"Speed-up over pandas **{engine['speedup']:.1f}×**"
        + (
            f"; Ibis's overhead over hand-written SQL **{engine['ibis_overhead']:.2f}×**; "
            f"Polars takes **{engine['polars_ratio']:.2f}×** the engine's time"
            if "ibis_overhead" in engine
            else ""
        )
        + f". Every method gives {'the same' if not differ else 'a **different**'} result "
        + (f"({', '.join(differ)} differ) " if differ else "")
        + f"({engine['check']['rows']:,} customers; row count, sums of every feature and the "
        "favourite-category counts compared). End to end, with Python start and imports, the "
        f"speed-up over pandas is {engine['speedup_end_to_end']:.1f}×.",
        "",
    ]
    return lines


def _spark_section(results: Mapping[str, Any]) -> list[str]:
    measured = [(size, at) for size, at in _sizes(results) if "spark" in at]
    if not measured:
        return []
    lines = [
        "## (e) The suite on a local Spark beside DuckDB",
        "",
        f"`run --jobs 1` over every report, on DuckDB and with `SHOP_DATA_URL={SPARK_URL}"
        "?parquet=<the sample folder>`: each notebook's kernel starts its own local Spark (a JVM "
        "on the 2 cores) and reads the same Parquet files. *Ratio* is Spark's wall over "
        "DuckDB's; memory is the whole process tree, the JVM included, and the largest Java "
        "process on its own; Spark's CPU includes its JVMs' (sampled). One run per size.",
        "",
        "| size | DuckDB | Spark | ratio | CPU DuckDB / Spark | peak memory DuckDB / Spark "
        "| JVM peak | status |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size, at in measured:
        duck, spark = at["suite"]["jobs1"], at["spark"]
        lines.append(
            f"| {_size_label(size, at)} | {_median(duck, 'wall_s'):.1f} s | "
            f"{_median(spark, 'wall_s'):.1f} s | "
            f"{_median(spark, 'wall_s') / _median(duck, 'wall_s'):.1f}× | "
            f"{_median(duck, 'cpu_s'):.0f} s / {_median(spark, 'cpu_with_jvm_s'):.0f} s | "
            f"{_median(duck, 'peak_rss_mib'):,.0f} / {_median(spark, 'peak_rss_mib'):,.0f} MiB | "
            f"{_median(spark, 'peak_jvm_rss_mib'):,.0f} MiB | {spark['status']} |"
        )
    lines += ["", "Per report (runner seconds, DuckDB → Spark):", ""]
    for size, at in measured:
        duck = at["suite"]["jobs1"]["per_notebook_runner_seconds"]
        spark = at["spark"]["per_notebook_runner_seconds"]
        lines.append(
            f"- {size.upper()}: "
            + ", ".join(
                f"{name} {duck[name]['median']:.1f} → {spark[name]['median']:.1f} s"
                for name in spark
                if name in duck and spark[name]["median"] is not None
            )
        )
    ratios = [_median(at["spark"], "wall_s") / _median(at["suite"]["jobs1"], "wall_s")
              for _, at in measured]  # fmt: skip
    lines += ["", _spark_on_a_cluster(min(ratios), max(ratios)), ""]
    return lines


def _ratio_range(low: float, high: float) -> str:
    return f"{low:.1f}×" if f"{low:.1f}" == f"{high:.1f}" else f"{low:.1f}–{high:.1f}×"


def _spark_on_a_cluster(fastest: float, slowest: float) -> str:
    """What the local measurement cannot show (see docs/design-decisions.md, Spark)."""
    here = (
        f"On one machine Spark takes {_ratio_range(fastest, slowest)} DuckDB's time"
        if slowest >= 1
        else f"On one machine Spark already takes {slowest:.2f}× DuckDB's time or less"
    )
    return (
        f"**What a cluster changes.** {here}: every notebook pays a JVM start and a Spark "
        "session, and every query is planned for distribution. On a cluster (Spark Connect, "
        "`sc://…`) the kernel is a thin client and the session is already running. What scales "
        "out are the engine steps: the scans, filters, joins and group-bys over orders, "
        "sessions, events and assignments (customer features, the weekly KPI and funnel "
        "aggregates, cohorts, the experiment's metric sums), whose inputs can be any size. What "
        "stays on the driver are the steps on results of at most one row per customer: the "
        "BG/NBD and Gamma-Gamma fits (SciPy), k-means and the churn model (scikit-learn), the "
        "bootstrap and Monte Carlo draws, the charts and the pages; those results travel to the "
        "driver through Arrow, so the driver's memory must hold them."
    )


def _scaling_section(results: Mapping[str, Any]) -> list[str]:
    scale = results["scaling"]
    if len(scale["sizes"]) < 2:
        return ["## (c) Scaling", "", "Needs at least two of S, M, L in one run.", ""]
    has_local = {"m", "l"} <= set(scale["sizes"])
    header = "| step | time exponent | memory exponent |"
    rule = "|---|---|---|"
    if has_local:
        header += " time M→L | memory M→L |"
        rule += "---|---|"
    lines = [
        "## (c) Scaling with orders",
        "",
        "Exponent b in value ∝ orders^b, fitted on the medians at "
        + ", ".join(s.upper() for s in scale["sizes"])
        + f" ({', '.join(f'{o:,}' for o in scale['orders'])} orders); 1 is linear. Fixed costs "
        "(starting Python and a kernel) flatten the fit at small sizes, so the local M→L slope "
        "is shown too.",
        "",
        header,
        rule,
    ]
    for label, row in scale["exponents"].items():
        line = f"| {label} | {_num(row['time_exponent'])} | {_num(row['memory_exponent'])} |"
        if has_local:
            line += (
                f" {_num(row.get('time_exponent_m_to_l'))} |"
                f" {_num(row.get('memory_exponent_m_to_l'))} |"
            )
        lines.append(line)
    return [*lines, ""]


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _method_section(results: Mapping[str, Any]) -> list[str]:
    method, machine = results["method"], results["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in machine["packages"].items() if v)
    lines = [
        "## How it was measured",
        "",
        f"- Wall: {method['wall']}.",
        f"- CPU: {method['cpu']}.",
        f"- Memory: {method['rss']}.",
        f"- Notebook: {method['notebook']}.",
        f"- Suite: {method['suite']}.",
        f"- Plain: {method['plain']}.",
        f"- Engine: {method['engine']}; pandas: {method['pandas']}"
        + (
            f"; DuckDB SQL: {method['duckdb_sql']}; Polars: {method['polars']}"
            if "polars" in method
            else ""
        )
        + ".",
        *([f"- Spark: {method['spark']}."] if method.get("spark_sizes") else []),
        "- Load average at the start of each size: "
        + "; ".join(
            f"{s.upper()} {_load_text(at['load_average_at_start'])}" for s, at in _sizes(results)
        )
        + ".",
        f"- Versions: {versions}.",
        "",
    ]
    return lines


def bounds_notes(results: Mapping[str, Any]) -> list[str]:
    """For each missed target, what the measurements say bounds it."""
    notes = []
    missed = {
        row["name"].split(" (")[0].split(" at ")[0]: row
        for row in results["targets"]
        if row["met"] is False
    }
    bake = results["bake"]
    if "bake" in missed:
        cli = bake["cli"]["wall_s"]["median"]
        rendering = bake["in_process_bake_s"] - bake["in_process_hooks_s"]
        notes.append(
            f"**Bake**: of {cli:.2f} s, starting Python takes {bake['python_start_s']:.2f} s, "
            f"importing cookiecutter {bake['in_process_import_s']:.2f} s, the "
            f"{bake['hooks']} hooks {bake['in_process_hooks_s']:.2f} s (each a new Python; the "
            "post-gen hook imports nbformat to write the notebooks) and rendering the template "
            f"{rendering:.2f} s. See bench/README.md, *Profiles*."
        )
    for size, key in (("S", "S suite wall"), ("L", "L suite wall")):
        if key in missed:
            notes.append(_suite_note(results, size.lower()))
    if "L suite peak memory" in missed:
        at = results["sizes"]["l"]
        heavy = max(at["notebooks"].items(), key=lambda kv: kv[1]["peak_rss_mib"]["median"])
        notes.append(
            f"**L memory**: with `--jobs 2` two kernels are resident together; the largest "
            f"notebook alone peaks at {heavy[1]['peak_rss_mib']['median'] / 1024:.1f} GiB "
            f"({heavy[0]})."
        )
    if "papermill overhead" in missed:
        over = results["overhead"]
        size = results["sizes"][over["size"]]
        outside = {
            n: e["wall_s"]["median"] - (e["kernel_seconds"]["median"] or 0)
            for n, e in size["notebooks"].items()
        }
        runner_cpu = size["suite"]["jobs1"]["cpu_s"]["median"]
        plain_cpu = over["plain"]["cpu_s"]["median"]
        notes.append(
            f"**Overhead** ({over['ratio']:.2f}×): the runner uses {runner_cpu:.0f} s of CPU "
            f"where one plain process uses {plain_cpu:.0f} s. Per notebook it spends "
            + ", ".join(f"{v:.1f} s ({n})" for n, v in outside.items())
            + " outside the notebook's cells: a fresh worker and kernel that import everything "
            "again (see *Fixed cost*), papermill saving the notebook after each cell, and the "
            "HTML page; the plain run pays its imports once "
            f"({over['plain_import_seconds']['median']:.1f} s). Isolation (a kernel per "
            "notebook, killable on a time limit) is the price of that ratio."
        )
    for label, notebook in NOTEBOOK_TARGETS.items():
        if label in missed:
            notes.append(_notebook_note(results, label, notebook))
    if "engine vs pandas" in missed:
        notes.append(_engine_note(results))
    if {"Ibis overhead vs hand-written DuckDB SQL", "Polars lazy time / engine time"} & set(missed):
        notes.append(_engine_limit_note(results))
    if "time vs orders" in missed:
        rows = results["scaling"]["exponents"]
        steep = sorted(
            (
                (r["time_exponent"], n)
                for n, r in rows.items()
                if r.get("time_exponent") is not None
            ),
            reverse=True,
        )[:3]
        notes.append("**Scaling**: steepest " + ", ".join(f"{n} {b:.2f}" for b, n in steep) + ".")
    return notes


def _engine_note(results: Mapping[str, Any]) -> str:
    engine = results["engine_vs_pandas"]
    methods = ("engine", "pandas")
    cores = {m: _median(engine[m], "cpu_s") / _median(engine[m], "wall_s") for m in methods}
    memory = _median(engine["engine"], "peak_rss_mib") / _median(engine["pandas"], "peak_rss_mib")
    phases = "; ".join(
        f"{m}: " + ", ".join(f"{k} {v['median']:.1f} s" for k, v in engine[m]["phases"].items())
        for m in methods
    )
    return (
        f"**Engine** ({engine['speedup']:.1f}×): its process keeps about {cores['engine']:.1f} "
        f"of the {results['machine']['cpu_count']} shared cores busy, pandas "
        f"{cores['pandas']:.1f}, so the margin grows with cores; the engine needs {memory:.0%} "
        f"of pandas' peak memory. Phases: {phases}"
        + ("." if engine["same_result"] else "; the results differ, see results.json.")
        + " See bench/README.md, *Profiles*."
    )


# The analysis targets set on one notebook at L: the target's label and the notebook.
NOTEBOOK_TARGETS = {
    "segmentation": "segmentation",
    "churn": "churn",
    "weekly business review": "weekly_business_review",
}


def _notebook_note(results: Mapping[str, Any], label: str, notebook: str) -> str:
    entry = results["sizes"]["l"]["notebooks"][notebook]
    wall, kernel = _median(entry, "wall_s"), entry["kernel_seconds"]["median"] or 0.0
    cells = "; ".join(
        f"`{c['code']}` {c['seconds']:.1f} s".replace("|", "¦")
        for c in entry.get("slowest_cells", [])
    )
    return (
        f"**{label.capitalize()} at L** ({wall:.1f} s, {_median(entry, 'peak_rss_mib'):,.0f} MiB): "
        f"{kernel:.1f} s in its cells, the rest ({wall - kernel:.1f} s) starting the worker and "
        f"kernel, imports and the HTML page (see *Fixed cost*). Slowest cells: {cells}."
    )


def _engine_limit_note(results: Mapping[str, Any]) -> str:
    engine = results["engine_vs_pandas"]
    methods = [m for m in ("engine", "duckdb_sql", "polars") if m in engine]
    phases = "; ".join(
        f"{METHOD_LABELS[m]}: "
        + ", ".join(f"{k} {v['median']:.2f} s" for k, v in engine[m]["phases"].items())
        + f", {_median(engine[m], 'cpu_s') / _median(engine[m], 'wall_s'):.1f} cores busy"
        for m in methods
    )
    return (
        f"**Engine step limits** (Ibis {engine['ibis_overhead']:.2f}× hand-written SQL, Polars "
        f"{engine['polars_ratio']:.2f}× the engine): the three share the levels query and the "
        f"pandas step after the fetch, so the difference is in opening the data and the two "
        f"queries. Phases: {phases}."
    )


def _suite_note(results: Mapping[str, Any], size: str) -> str:
    at = results["sizes"][size]
    jobs2, jobs1 = at["suite"]["jobs2"], at["suite"]["jobs1"]
    cells = sorted(
        (
            (c["seconds"], name, c["code"])
            for name, e in at["notebooks"].items()
            for c in e.get("slowest_cells", [])
        ),
        reverse=True,
    )[:3]
    _, fixed_cpu = _per_notebook_fixed(results)
    n, cpus = len(at["notebooks"]), results["machine"]["cpu_count"]
    cpu = jobs2["cpu_s"]["median"]
    loads = [at["load_average_at_start"][0], at["load_average_at_end"][0]]
    return (
        f"**{size.upper()} suite** ({jobs2['wall_s']['median']:.0f} s with `--jobs 2`, "
        f"{jobs1['wall_s']['median']:.0f} s with `--jobs 1`) needs {cpu:.0f} s of CPU: at "
        f"least {cpu / cpus:.0f} s of wall on {cpus} idle cores, before any wait for the other "
        f"work on the machine (1-minute load {min(loads):.1f}-{max(loads):.1f} at this size). "
        f"{n * fixed_cpu:.0f} s of that CPU ({n} notebooks × {fixed_cpu:.1f} s) is paid whatever "
        "the data: worker, kernel start, analysis imports, HTML page (see *Fixed cost*). "
        "Slowest cells: "
        + "; ".join(f"{name} `{code}` {sec:.1f} s" for sec, name, code in cells)
        + ". See bench/README.md, *Profiles*."
    )


# ============================================================================ entry point


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--python",
        default=os.environ.get("BENCH_PYTHON", sys.executable),
        help="Python of the virtualenv to measure with (default: this one)",
    )
    parser.add_argument(
        "--sizes",
        default=os.environ.get("BENCH_SIZES") or DEFAULT_SIZES,
        help=f"sizes to run, of {', '.join(SIZES)} (default {DEFAULT_SIZES!r}; env BENCH_SIZES)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=int(os.environ.get("BENCH_REPEATS") or DEFAULT_REPEATS),
        help="runs per figure; the median is reported (env BENCH_REPEATS)",
    )
    parser.add_argument(
        "--repeats-l",
        type=int,
        default=None,
        help="runs per figure at L (default 1, or --repeats if smaller)",
    )
    parser.add_argument(
        "--notebooks",
        default=os.environ.get("BENCH_NOTEBOOKS", ""),
        help="only these notebooks (default: every notebook of the bake)",
    )
    parser.add_argument(
        "--out",
        default=os.environ.get("BENCH_OUT", ""),
        help="folder for results.json and BENCHMARKS.md (default: bench/ and "
        "the kit root; env BENCH_OUT)",
    )
    parser.add_argument(
        "--spark-sizes",
        default=os.environ.get("BENCH_SPARK_SIZES", DEFAULT_SPARK_SIZES),
        help="sizes (of --sizes) at which the suite also runs on a local Spark (default "
        f"{DEFAULT_SPARK_SIZES!r}; '' for none; env BENCH_SPARK_SIZES)",
    )
    parser.add_argument(
        "--markdown-only",
        action="store_true",
        help="only re-write BENCHMARKS.md from an existing results.json",
    )
    return parser


def output_paths(out: str) -> tuple[Path, Path]:
    if out:
        folder = Path(out).absolute()
        return folder / "results.json", folder / "BENCHMARKS.md"
    return KIT / "bench" / "results.json", KIT / "BENCHMARKS.md"


def main(argv: Sequence[str]) -> int:
    if argv and argv[0] in CHILD_COMMANDS:
        return CHILD_COMMANDS[argv[0]](list(argv[1:]))
    args = _parser().parse_args(argv)
    json_path, md_path = output_paths(args.out)
    if not args.markdown_only:
        sizes = args.sizes.replace(",", " ").lower().split()
        unknown = [s for s in sizes if s not in SIZES]
        if unknown or not sizes:
            print(
                f"ERROR: unknown size {unknown[0] if unknown else '(none)'!r}; use some of "
                f"{', '.join(SIZES)}, e.g. BENCH_SIZES='s m l'.",
                file=sys.stderr,
            )
            return 2
        if args.repeats < 1:
            print("ERROR: BENCH_REPEATS must be 1 or more.", file=sys.stderr)
            return 2
        large = args.repeats_l or 1
        python = os.path.abspath(args.python)  # not resolve(): a venv's python is a symlink
        only = args.notebooks.replace(",", " ").split()
        try:
            spark_sizes = args.spark_sizes.replace(",", " ").lower().split()
            results = run_benchmark(python, sizes, args.repeats, large, only, spark_sizes)
        except StepFailed as error:
            print(f"ERROR: {error}", file=sys.stderr)
            return 1
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(
            json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    results = json.loads(json_path.read_text(encoding="utf-8"))
    install = json_path.with_name("install.json")  # bench/install.py: cold installs, measured apart
    if install.exists():
        results = {**results, "install": json.loads(install.read_text(encoding="utf-8"))}
    md_path.parent.mkdir(parents=True, exist_ok=True)
    md_path.write_text(markdown(results), encoding="utf-8")
    say(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
