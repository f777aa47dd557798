"""Where things are and which parameters apply.

Paths are resolved from the project root, so code behaves the same from a notebook, the
runner, the tests or a scheduler, whatever the current directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

from .errors import UserError

ROOT_ENV = "SHOP_PROJECT_ROOT"
DATA_URL_ENV = "SHOP_DATA_URL"  # a connection URL; may hold a password, so never a parameter
# Set by the runner for its workers: the run's own folder for exports (``data/exports/...``),
# published into data/exports only when the whole run is. Unset (JupyterLab, tests): direct.
EXPORTS_STAGING_ENV = "SHOP_EXPORTS_STAGING"
EXPORTS_DIR = "data/exports"


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


def exports_dir() -> Path:
    """``data/exports/``: the customer lists campaign tools pick up."""
    return project_root() / EXPORTS_DIR


def staged_path(path: str | Path) -> Path:
    """Where a file meant for ``data/exports/`` goes now: under the runner, the run's staging
    folder (``SHOP_EXPORTS_STAGING``), published only with the run; otherwise ``path`` itself."""
    path = Path(path)
    staging = os.environ.get(EXPORTS_STAGING_ENV)
    if not staging:
        return path
    try:
        inside = path.resolve().relative_to(exports_dir().resolve())
    except ValueError:
        return path  # not an export (e.g. the decision log): written where asked
    return Path(staging) / inside


def write_atomically(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Create ``path`` (and its folders) with ``write(temporary_path)``, then rename it into place.

    For files other tools pick up (segment lists, at-risk lists): a run that fails or is killed
    halfway leaves the previous file whole, never half a list. Under the runner a path in
    ``data/exports/`` is written to the run's staging folder instead (see :func:`staged_path`):
    the runner moves it into ``data/exports/`` only when the whole run is published, so a
    failed, killed or partial run replaces no list. Returns the path written.
    """
    path = staged_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # same folder (a rename within one file system is atomic) and same suffix (writers read it)
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.partial{path.suffix}")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def write_text_atomically(path: str | Path, text: str) -> Path:
    """:func:`write_atomically` for a UTF-8 text file (run summaries, pages, worker results)."""
    return write_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def reports_dir() -> Path:
    return project_root() / "reports"


def params_dir() -> Path:
    return project_root() / "params"


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load that refuses a key given twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise _DuplicateKey(key, seen[key], line)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: Any, first: int, again: int) -> None:
        super().__init__(f"{key!r} is set twice (lines {first} and {again})")
        self.key, self.first, self.again = key, first, again


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` that refuses duplicate keys (raises ``yaml.YAMLError``)."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping; an empty file is an empty mapping; a key given twice is refused."""
    try:
        loaded = load_yaml(path.read_text(encoding="utf-8"))
    except _DuplicateKey as twice:
        raise UserError(
            f"The parameter file {path} sets {twice.key!r} twice (lines {twice.first} and "
            f"{twice.again}); only one would count. Keep one of them."
        ) from None
    except (yaml.YAMLError, ValueError) as error:  # ValueError: a date such as 2026-13-45
        raise UserError(f"The parameter file {path} is not valid YAML: {error}") from error
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise UserError(f"The parameter file {path} must hold 'name: value' lines.")
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


# --------------------------------------------------------------------------- credentials

_ENCODINGS = "@ as %40, / as %2F, : as %3A, # as %23, ? as %3F, % as %25"


@dataclass(frozen=True)
class UrlCredentials:
    """The parts of a connection URL that are secret, parsed unambiguously."""

    url: str
    userinfo: str  # "user:password" as written (percent-encoded), "" when none
    password: str  # as written; "" when none
    password_decoded: str  # what the driver receives
    tokens: tuple[str, ...] = ()  # Spark Connect: ;token=... and SHOP_SPARK_TOKEN

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every spelling of the secret parts, longest first."""
        found = {self.url, self.userinfo, self.password, self.password_decoded, *self.tokens}
        found |= {unquote(token) for token in self.tokens}
        if self.userinfo and not self.password:  # a token as user name (user@host)
            found.add(unquote(self.userinfo))
        return tuple(sorted(filter(None, found), key=len, reverse=True))


def mask_url(url: str) -> str:
    """The URL with everything between ``scheme://`` and the last ``@`` shown as ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "***"
    authority_end = rest.rfind("@")
    return f"{scheme}://***@{rest[authority_end + 1 :]}" if authority_end >= 0 else url


def parse_credentials(url: str, name: str = DATA_URL_ENV) -> UrlCredentials:
    """Split a connection URL into its secret parts, or refuse it when it is ambiguous.

    A password with a raw ``@``, ``/``, ``#`` or ``?`` makes URL parsers split it in the wrong
    place (the part after an ``@`` is then taken for the host and echoed in error messages).

    Raises
    ------
    UserError
        When the URL does not parse one way only; the message shows it masked and says how to
        percent-encode the password.
    """
    url = url.strip()
    scheme_of = url.partition("://")[0].lower()
    spark_url = scheme_of in ("spark", "sc")
    try:
        # spark://local[2]: the brackets are Spark's core count, not an IPv6 address
        parts = urlsplit(re.sub(r"^(spark://local)\[([0-9]+|\*)\]", r"\1", url, flags=re.I))
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        parts = None
    scheme, sep, rest = url.partition("://")
    ambiguous = (
        parts is None
        or not sep
        or rest.count("@") > 1
        or ("@" in rest and "@" not in parts.netloc)
        or bool(parts.fragment)
    )
    if ambiguous:
        raise UserError(
            f"The environment variable {name} does not hold a connection URL that reads one "
            f"way only ({mask_url(url)}): a password with @, /, :, # or ? in it must be "
            f"percent-encoded ({_ENCODINGS}), e.g. postgresql://user:p%40ss%2Fword@host:5432/"
            "shop. In Python: urllib.parse.quote(password, safe='')."
        )
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    password = userinfo.partition(":")[2] if ":" in userinfo else ""
    tokens = _spark_tokens(url) if spark_url else ()
    return UrlCredentials(url, userinfo, password, unquote(password), tokens)


SPARK_TOKEN_ENV = "SHOP_SPARK_TOKEN"  # a Spark Connect token kept out of the URL


def _spark_tokens(url: str) -> tuple[str, ...]:
    """Secret parameters of a Spark Connect URL (``sc://host/;token=...``), and the token in
    ``SHOP_SPARK_TOKEN``: masked like a password."""
    found = []
    rest = url.partition("://")[2]
    for part in re.split(r"[;?&]", rest):
        key, sep, value = part.partition("=")
        if sep and value and re.search(r"token|secret|password|key", key, re.IGNORECASE):
            found.append(value)
    if os.environ.get(SPARK_TOKEN_ENV, "").strip():
        found.append(os.environ[SPARK_TOKEN_ENV].strip())
    return tuple(found)


_WORDLIKE = re.compile(r"^[A-Za-z]+$")


def is_strong_secret(value: str) -> bool:
    """Whether a secret is distinctive enough to be masked wherever it appears.

    A secret that is a plain word (``customers``) would also mask the word on every page, so it
    is masked only where it stands as a credential (see ``runner.Redactor``).
    """
    return len(value) >= 8 and (not _WORDLIKE.match(value) or len(value) >= 20)


# --------------------------------------------------------------------------- personal data

_PII_IN_TEXT = re.compile(
    r"[^@\s'\"<>(),;=:/\[\]]+@[^@\s'\"<>(),;=:/\[\]]+[.][A-Za-z]{2,}|[+][0-9][0-9 ().-]{6,18}[0-9]"
)


def mask_identifier(value: Any) -> str:
    """An id shown without its value: ``c0***42`` (first and last two characters)."""
    text = str(value)
    return "***" if len(text) <= 6 else f"{text[:2]}***{text[-2:]}"


def mask_pii(text: str) -> str:
    """Text with every email address and +phone number in it masked (for logs and pages)."""
    return _PII_IN_TEXT.sub(lambda m: mask_identifier(m.group(0)), text)
