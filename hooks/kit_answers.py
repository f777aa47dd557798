"""The answers to the kit's questions: made canonical where their meaning is clear, then
checked, before anything is written.

Loaded by cookiecutter as a Jinja extension (``_extensions`` in cookiecutter.json): the filter
``kit_answers`` is rendered right after the last question, so a bad answer stops the bake before
any folder exists, with one line per problem and a way to replay the other answers, never a
traceback. ``pre_gen_project.py`` runs the same checks for bakes that skip the questions
(``--replay``). Values are data, never pasted into code.
"""

from __future__ import annotations

import keyword
import re
import sys
from pathlib import Path

from jinja2.ext import Extension

ANALYSES = (
    "weekly_business_review",
    "market_research",
    "segmentation",
    "churn",
    "post_launch_review",
    "prioritisation",
)

# Modules the baked project imports: a package with one of these names would shadow it.
DEPENDENCY_MODULES = {
    "cookiecutter",
    "cruft",
    "duckdb",
    "ibis",
    "ipykernel",
    "IPython",
    "jinja2",
    "jupyter",
    "jupyterlab",
    "matplotlib",
    "nbclient",
    "nbconvert",
    "nbformat",
    "nbval",
    "numpy",
    "pandas",
    "papermill",
    "pyarrow",
    "pytest",
    "scipy",
    "seaborn",
    "sklearn",
    "statsmodels",
    "tqdm",
    "yaml",
    "psycopg",
    "pyspark",
    "requests",
    "notebook",
    "test",
    "tests",
    "src",
}

# ISO 4217 active codes (2024). Kept inline: hooks cannot import helpers or third-party packages.
ISO_4217 = set(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
    GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF
    KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR
    MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG
    SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD
    UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL""".split()  # noqa: SIM905 (one readable block of codes)
)

SLUG = re.compile(r"^[a-z][a-z0-9]*([-_][a-z0-9]+)*$")
MODULE = re.compile(r"^[a-z_][a-z0-9_]*$")


def problems(answers: dict) -> list[str]:
    found = []
    project = str(answers["project"])
    if not SLUG.match(project) or len(project) > 60:
        found.append(
            f"The folder name {project!r} is not usable: use lowercase letters, digits and single "
            "dashes, starting with a letter (for example: shop-insights)."
        )
    module = str(answers["module_name"])
    derived = project.lower().replace("-", "_").replace(" ", "_").replace(".", "_")
    if found and module == derived:
        pass  # the package name was derived from the bad folder name: one message is enough
    elif not MODULE.match(module) or not module.isidentifier() or keyword.iskeyword(module):
        found.append(
            f"The package name {module!r} is not a valid Python name: use lowercase letters, "
            "digits and underscores, starting with a letter (for example: shop_insights)."
        )
    elif module in sys.stdlib_module_names or module in DEPENDENCY_MODULES:
        found.append(
            f"The package name {module!r} would hide the Python module of the same name: "
            f"pick another one (for example: {module}_reports)."
        )
    currency = str(answers["currency"])
    if currency not in ISO_4217:
        hint = f" Did you mean {currency.upper()!r}?" if currency.upper() in ISO_4217 else ""
        found.append(
            f"The currency {currency!r} is not a 3-letter ISO 4217 code such as USD, EUR or GBP."
            + hint
        )
    return found + missing_report(answers)


def missing_report(answers: dict) -> list[str]:
    if any(answers[name] is True for name in ANALYSES):
        return []
    return ["No report selected: answer yes to at least one of " + ", ".join(ANALYSES) + "."]


def canonical(answers: dict) -> None:
    """Spellings whose meaning is clear, made canonical in place: ``eur`` -> ``EUR``,
    ``Acme-Insights`` -> ``acme-insights`` (yes/no answers are read by cookiecutter itself)."""
    if isinstance(answers.get("currency"), str):
        answers["currency"] = answers["currency"].strip().upper()
    project = answers.get("project")
    if isinstance(project, str) and SLUG.match(project.strip().lower()):
        answers["project"] = project.strip().lower()


def replay_tip(answers: dict) -> str:
    """Where the answers given were kept, and the command that bakes with them once fixed."""
    kit = Path(__file__).resolve().parents[1]
    try:
        from cookiecutter.config import get_user_config
        from cookiecutter.replay import dump, get_file_name

        replay_dir = get_user_config()["replay_dir"]
        kept = {k: v for k, v in answers.items() if not k.startswith("__")}
        dump(replay_dir, kit.name, {"cookiecutter": kept})
        path = Path(get_file_name(replay_dir, kit.name))
    except Exception:  # noqa: BLE001 (no replay is no reason to hide the real message)
        return f"Nothing was created. Run cookiecutter {kit} again with a corrected answer."
    return (
        f"Nothing was created. Your answers are kept in {path}: correct the answer named above "
        f"there, then run: cookiecutter --replay-file {path} {kit}"
    )


def check(answers: dict) -> str:
    """The Jinja filter: canonical answers, or a stop with one line per problem."""
    from cookiecutter.exceptions import FailedHookException

    canonical(answers)
    if not all(name in answers for name in ("project", "module_name", "currency", *ANALYSES)):
        return "ok"  # a replay asks only for what it lacks; pre_gen_project checks the whole
    found = problems(answers)
    if found:
        for reason in found:
            print(f"ERROR: {reason}", file=sys.stderr)
        raise FailedHookException(replay_tip(answers))
    return "ok"


class AnswerChecks(Extension):
    """``{{ cookiecutter | kit_answers }}``: see :func:`check`."""

    def __init__(self, environment):  # noqa: ANN001 (jinja2's signature)
        super().__init__(environment)
        environment.filters["kit_answers"] = check
