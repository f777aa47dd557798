"""Regenerate the gallery: the default project's notebooks executed on its sample data.

Bakes the default project into build/gallery, runs its reports in the project's own .venv (as a
PM's project does: `uv sync`, with the uv of the kit's virtualenv; nothing is installed into the
kit's virtualenv) and copies the executed notebooks into the kit's top-level notebooks/ folder,
where the repository page shows them. tests/test_gallery.py fails when their code drifts from
the template's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from pathlib import Path

KIT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--venv", default=str(KIT / ".venv"), help="the kit's virtualenv (bakes, lends uv)"
    )
    parser.add_argument("--out", default=str(KIT / "notebooks"), help="where the gallery goes")
    parser.add_argument("--build", default=str(KIT / "build" / "gallery"), help="scratch folder")
    args = parser.parse_args()
    build = Path(args.build).absolute()
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir(parents=True)
    venv = Path(args.venv).absolute()
    python = venv / "bin" / "python"
    subprocess.run(
        [
            str(python),
            "-m",
            "cookiecutter",
            "--no-input",
            "--output-dir",
            str(build),
            str(KIT),
            "init_git=no",
        ],
        check=True,
    )
    project = build / "shop-insights"
    uv = venv / "bin" / "uv"
    own = ["VENV=.venv", *([f"UV={uv}"] if uv.exists() else [])]  # else the project's pip path
    subprocess.run(["make", "-C", str(project), "reports", *own], check=True)
    gallery = Path(args.out).absolute()
    gallery.mkdir(exist_ok=True)
    for old in gallery.glob("*.ipynb"):
        old.unlink()
    for executed in sorted((project / "reports" / "latest").glob("*.ipynb")):
        nb = json.loads(executed.read_text(encoding="utf-8"))
        # papermill records absolute paths of the machine that ran it: keep them out of the repo
        for key in ("input_path", "output_path"):
            if key in nb["metadata"].get("papermill", {}):
                nb["metadata"]["papermill"][key] = f"notebooks/{executed.name}"
        text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
        (gallery / executed.name).write_text(text, encoding="utf-8")
        print(f"gallery: {executed.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
