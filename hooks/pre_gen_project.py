"""Check the answers before anything is written, when the questions were skipped.

A normal bake checks them as soon as the last question is answered (``kit_answers.py``); a
replayed bake (``cookiecutter --replay``) asks nothing, so the same checks run here. Exiting
non-zero makes cookiecutter delete the half-made folder. Values are decoded as JSON data,
never pasted into code.
"""

import importlib.util
import json
import sys
from pathlib import Path

ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")


def checks():
    """The kit's answer checks, from the template folder (None when it is not known here)."""
    repo = ANSWERS.get("_repo_dir")
    path = Path(repo) / "hooks" / "kit_answers.py" if repo else None
    if path is None or not path.is_file():
        return None  # cruft: its bakes always went through the questions' check
    spec = importlib.util.spec_from_file_location("kit_answers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    module = checks()
    reasons = module.problems(ANSWERS) if module is not None else []
    for reason in reasons:
        print(f"ERROR: {reason}", file=sys.stderr)
    if reasons:
        sys.exit(1)
