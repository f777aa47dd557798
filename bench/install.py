"""Cold `make demo` with each installer: venv + pip against uv, as on a fresh machine.

Each run starts from nothing the run could reuse: a new kit virtualenv, a new demo folder and
empty package caches (PIP_NO_CACHE_DIR, a new UV_CACHE_DIR): packages come from the index, or
from local wheel folders where pip's configuration names them. The kit's virtualenv is timed
apart from the whole `make demo` (bake, the project's own .venv, sample data, every report).
Figures go to bench/install.json; `bench/run.py` shows them in BENCHMARKS.md.

    .venv/bin/python bench/install.py --repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

KIT = Path(__file__).resolve().parents[1]
OUT = KIT / "bench" / "install.json"
INSTALLERS = ("pip", "uv")


def timed_make(*args: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        ["make", "--no-print-directory", "-C", str(KIT), *args],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def cold_demo(installer: str, uv: str) -> dict[str, float]:
    """One cold `make demo`; uv on the PATH only for the uv run."""
    work = Path(tempfile.mkdtemp(prefix=f"kit-install-{installer}-"))
    try:
        env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
        env |= {"PIP_NO_CACHE_DIR": "1", "UV_CACHE_DIR": str(work / "uv-cache")}
        if installer == "uv":
            (work / "bin").mkdir()
            (work / "bin" / "uv").symlink_to(uv)
            env["PATH"] = f"{work / 'bin'}{os.pathsep}{env['PATH']}"
        else:  # no uv anywhere on the PATH: the kit falls back to venv + pip
            env["PATH"] = os.pathsep.join(
                p for p in env["PATH"].split(os.pathsep) if not (Path(p) / "uv").exists()
            )
        mode = "pip" if installer == "pip" else "auto"  # auto: uv, found on the PATH
        variables = [f"VENV={work / 'venv'}", f"INSTALLER={mode}"]
        kit_venv = timed_make("venv", *variables, env=env)
        demo = timed_make("demo", *variables, f"DEMO={work / 'demo'}", env=env)
        return {"kit_venv_s": kit_venv, "demo_s": demo, "total_s": kit_venv + demo}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="cold runs per installer")
    args = parser.parse_args(argv)
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    runs = {name: [cold_demo(name, uv) for _ in range(args.repeats)] for name in INSTALLERS}
    medians = {
        name: {key: statistics.median(run[key] for run in done) for key in done[0]}
        for name, done in runs.items()
    }
    results = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average": list(os.getloadavg()),
        "repeats": args.repeats,
        "median": medians,
        "runs": runs,
    }
    OUT.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(medians, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
