"""Refresh the baked project's uv.lock after a dependency change in its pyproject.toml.

Bakes the default project, runs `uv lock` in it, and stores the lock in the template with the
project's name templated back in (the lock names the project once). A kit test fails when the
stored lock no longer matches the template's pyproject.toml.

    python scripts/lock.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cookiecutter.main import cookiecutter

KIT = Path(__file__).resolve().parents[1]
LOCK = KIT / "{{cookiecutter.project}}" / "uv.lock"
NAME_LINE = 'name = "shop-insights"'


def main() -> int:
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    out = Path(tempfile.mkdtemp(prefix="kit-lock-"))
    try:
        project = Path(cookiecutter(str(KIT), no_input=True, output_dir=str(out),
                                    extra_context={"init_git": False}))  # fmt: skip
        subprocess.run([uv, "lock", "--quiet"], cwd=project, check=True)
        text = (project / "uv.lock").read_text(encoding="utf-8")
        if text.count(NAME_LINE) != 1:
            raise SystemExit(f"expected the project named once in uv.lock ({NAME_LINE})")
        LOCK.write_text(text.replace(NAME_LINE, 'name = "{{ cookiecutter.project }}"'), "utf-8")
    finally:
        shutil.rmtree(out, ignore_errors=True)
    print(f"wrote {LOCK.relative_to(KIT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
