"""Execute one notebook with papermill, in a process of its own (started by ``runner``).

Usage: ``python -m <module>._worker SPEC.json``. The spec names the input and output notebooks,
the parameters, the working folder, the per-cell timeout, where to write the kernel's process id
and where to write the result. A notebook started ahead of its turn also has a ``go_file``: its
kernel starts, imports ``warm_imports`` (see ``_warmup``) and waits for that file to exist before
the first cell runs. The result is JSON: ``{"status": "ok"}`` or
``{"status": "failed" | "timeout", "error": {"kind": ..., "exception": "Name: message",
"ename": ..., "message": the whole message, "traceback": text}}``.

The worker never outlives the run: it ends itself (kernel included, its unredacted notebook
deleted) when the runner is gone (``PR_SET_PDEATHSIG`` on Linux, and a poll of the parent
process everywhere), on SIGTERM, and past its own time limit (``timeout`` in the spec, counted
from its turn, plus a grace period: the runner normally stops it first). A notebook started
ahead of its turn waits at most ``go_timeout`` seconds for it.

One process per notebook because papermill's ``cwd`` handling is not thread-safe and because the
runner must be able to kill a hung notebook (this process group and the kernel's) without
taking the others down. The kernel runs in a session of its own (jupyter_client starts it so),
hence the pid file: the runner kills the kernel's process group too.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import re
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from . import config

KERNEL_NAME = "python3"  # pinned: a notebook's stored kernelspec may name a kernel not installed
GRACE_SECONDS = 10.0  # the worker's own limit is the runner's plus this
EXIT_ORPHANED = 3  # the runner went away; nothing was written
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_turn_started: float | None = time.monotonic()  # None while a notebook waits for its turn


def main(argv: list[str]) -> int:
    """Run the spec given on the command line; always exits 0 once a result is written."""
    if len(argv) != 1:
        print("usage: python -m <module>._worker SPEC.json", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(message)s")
    # nbformat imports jsonschema, which compiles an IRI grammar at import time when the optional
    # rfc3987-syntax package is installed (JupyterLab brings it): ~1.5 s of CPU in every worker.
    # nbformat's schema uses no IRI format, so this short-lived process goes without it.
    sys.modules.setdefault("rfc3987_syntax", None)
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    global _turn_started
    if spec.get("go_file"):
        _turn_started = None  # its time limit counts from its turn
    _watch_over(spec, os.getppid())
    result = execute(spec)
    config.write_text_atomically(spec["result"], json.dumps(result))
    return 0


def execute(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the notebook once, or twice when the kernel failed before any cell ran.

    A second try covers kernels that die at start-up, typically ``ZMQError: Address already in
    use`` when several kernels pick the same free port at the same moment.
    """
    outcome = _execute_once(spec)
    if outcome.get("error", {}).get("kind") == "kernel_start":
        pause = random.uniform(1.0, 3.0)
        logging.warning(
            "The kernel did not start (%s); trying once more in %.1f s.",
            outcome["error"]["exception"],
            pause,
        )
        time.sleep(pause)
        outcome = _execute_once(spec)
    return outcome


def _execute_once(spec: dict[str, Any]) -> dict[str, Any]:
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    go_file = Path(spec["go_file"]) if spec.get("go_file") else None
    ahead: dict[str, Any] = {}
    if go_file is not None and spec.get("warm_imports"):
        # IPython runs exec_lines at kernel start-up, before the kernel answers any request.
        line = f"import {__package__}._warmup as _w; _w.warm({spec['warm_imports']!r}); del _w"
        ahead["extra_arguments"] = [f"--IPKernelApp.exec_lines={line}"]
    try:
        papermill.execute_notebook(
            spec["input"],
            spec["output"],
            parameters=spec["parameters"],
            kernel_name=KERNEL_NAME,
            language="python",  # for papermill's parameter cell; some notebooks do not say
            cwd=spec["cwd"],
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=True,  # the runner reads the last started cell on a kill
            # The notebook is complete once its last cell ran: kill the kernel rather than wait
            # for a graceful shutdown, which costs ~0.7 s per notebook and saves nothing.
            shutdown_kernel="immediate",
            start_timeout=spec.get("start_timeout", 120),
            execution_timeout=spec["cell_timeout"],
            kernel_manager_class=_pid_recording_kernel_manager(
                Path(spec["kernel_pid_file"]), go_file, float(spec.get("go_timeout") or 86_400)
            ),
            **ahead,
        )
    except papermill.PapermillExecutionError as error:
        return _failure("failed", "error", f"{error.ename}: {error.evalue}", error)
    except CellTimeoutError as error:
        return _failure("timeout", "cell_timeout", f"CellTimeoutError: {error}")
    except DeadKernelError as error:
        return _failure("failed", "dead_kernel", f"DeadKernelError: {error}")
    except Exception as error:  # noqa: BLE001 - any other failure is reported, not raised
        kind = "crash" if _any_cell_started(Path(spec["output"])) else "kernel_start"
        return _failure("failed", kind, f"{type(error).__name__}: {error}")
    return {"status": "ok"}


def _failure(status: str, kind: str, exception: str, error: Any = None) -> dict[str, Any]:
    details: dict[str, Any] = {"kind": kind, "exception": exception}
    if error is not None and hasattr(error, "ename"):  # a cell's exception (papermill)
        details["ename"] = error.ename
        details["message"] = str(error.evalue)
        details["traceback"] = _ANSI.sub("", "\n".join(error.traceback or []))
    return {"status": status, "error": details}


# ------------------------------------------------------------------ never outlive the run


def _watch_over(spec: dict[str, Any], parent: int) -> None:
    """End this worker and its kernel when the runner is gone or the time limit is past."""
    signal.signal(signal.SIGTERM, lambda signum, frame: _end(spec, "stopped (SIGTERM)"))
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            pr_set_pdeathsig = 1
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the runner died before the request took effect
        _end(spec, "the runner is gone")
    limit = float(spec.get("timeout") or 0)
    grace = float(spec.get("grace", GRACE_SECONDS))

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                _end(spec, "the runner is gone")
            turn = _turn_started
            if limit and turn is not None and time.monotonic() - turn > limit + grace:
                _end(spec, f"past its time limit of {limit:g} s")
            time.sleep(0.25)

    threading.Thread(target=watch, name="shop-watchdog", daemon=True).start()


def _end(spec: dict[str, Any], why: str) -> None:
    """Kill the kernel, delete what this worker wrote (unredacted), exit at once."""
    with contextlib.suppress(OSError, ValueError):
        pid = int(Path(spec["kernel_pid_file"]).read_text(encoding="utf-8"))
        os.killpg(os.getpgid(pid), signal.SIGKILL)
    for key in ("output", "metrics", "kernel_pid_file"):
        if spec.get(key):
            with contextlib.suppress(OSError):
                Path(spec[key]).unlink()
    with contextlib.suppress(OSError):
        print(f"worker ended: {why}", file=sys.stderr, flush=True)
    os._exit(EXIT_ORPHANED)


def _any_cell_started(output: Path) -> bool:
    try:
        nb = json.loads(output.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return any(
        cell.get("metadata", {}).get("papermill", {}).get("start_time") for cell in nb["cells"]
    )


def _pid_recording_kernel_manager(
    pid_file: Path, go_file: Path | None = None, go_timeout: float = 86_400.0
) -> type:
    import asyncio

    from jupyter_client.manager import AsyncKernelManager

    class PidRecordingKernelManager(AsyncKernelManager):
        """Writes the kernel's process id, so the runner can kill a hung kernel; with a
        ``go_file``, returns only once it exists (the kernel warms up meanwhile)."""

        async def start_kernel(self, **kwargs: Any) -> None:
            await super().start_kernel(**kwargs)
            global _turn_started
            pid = getattr(self.provisioner, "pid", None)
            if pid:
                pid_file.write_text(str(pid), encoding="utf-8")
            waited = time.monotonic()
            while go_file is not None and not go_file.exists():
                if time.monotonic() - waited > go_timeout:
                    raise TimeoutError(
                        f"this notebook waited {go_timeout:g} s for its turn; the run is over"
                    )
                await asyncio.sleep(0.05)
            _turn_started = time.monotonic()

    return PidRecordingKernelManager


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
