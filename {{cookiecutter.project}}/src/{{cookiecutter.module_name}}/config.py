"""Where things are and which parameters apply.

Paths are resolved from the project root, so code behaves the same from a notebook, the
runner, the tests or a scheduler, whatever the current directory.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT_ENV = "SHOP_PROJECT_ROOT"
DATA_URL_ENV = "SHOP_DATA_URL"  # a connection URL; may hold a password, so never a parameter


def _find_root() -> Path:
    if os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV]).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "params" / "defaults.yaml").is_file():
            return folder
    return Path(__file__).resolve().parents[2]


def project_root() -> Path:
    """The folder holding ``params/``, ``notebooks/``, ``data/`` and ``reports/``."""
    return _find_root()


def resolve(path: str | Path) -> Path:
    """An absolute path; relative paths are taken from the project root."""
    path = Path(path)
    return path if path.is_absolute() else project_root() / path


def write_atomically(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Create ``path`` (and its folders) with ``write(temporary_path)``, then rename it into place.

    For files other tools pick up (segment lists, at-risk lists): a run that fails or is killed
    halfway leaves the previous file whole, never half a list. Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # same folder (a rename within one file system is atomic) and same suffix (writers read it)
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.partial{path.suffix}")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def reports_dir() -> Path:
    return project_root() / "reports"


def params_dir() -> Path:
    return project_root() / "params"


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping; an empty file is an empty mapping."""
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, ValueError) as error:  # ValueError: a date such as 2026-13-45
        raise ValueError(f"The parameter file {path} is not valid YAML: {error}") from error
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ValueError(f"The parameter file {path} must hold 'name: value' lines.")
    return loaded


def layered_params(
    notebook: str,
    extra_files: list[Path] | tuple[Path, ...] = (),
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Parameters for one notebook, later layers winning.

    notebook defaults (in the notebook itself) < ``params/defaults.yaml`` <
    ``params/<notebook>.yaml`` < each ``--params`` file (its top level, then its
    ``<notebook>:`` section) < command-line values.
    """
    merged: dict[str, Any] = {}
    for path in (params_dir() / "defaults.yaml", params_dir() / f"{notebook}.yaml"):
        if path.is_file():
            merged.update(read_yaml(path))
    for path in extra_files:
        layer = read_yaml(Path(path))
        sections = {k for k, v in layer.items() if isinstance(v, dict) and k in _notebook_names()}
        merged.update({k: v for k, v in layer.items() if k not in sections})
        merged.update(layer.get(notebook, {}) or {})
    merged.update(overrides or {})
    return merged


def _notebook_names() -> set[str]:
    return {p.stem for p in notebooks_dir().glob("*.ipynb")}
