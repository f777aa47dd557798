"""Code-free, self-contained HTML of an executed notebook, safe to mail to stakeholders.

nbconvert's ``lab`` template does the layout; this module decides what a stakeholder sees:

- no code: inputs and prompts are excluded, and the ``parameters`` / ``injected-parameters`` /
  ``remove-cell`` tagged cells are dropped (nbconvert's TagRemovePreprocessor);
- inert data: every piece of HTML a notebook produces (Markdown cells, ``text/html`` and
  ``text/markdown`` outputs) goes through :func:`sanitize_html`, so a product called
  ``<script>alert(1)</script>`` is shown as text, never run. nbconvert's own ``sanitize_html``
  option escapes headings, paragraphs and table heads as well, which makes reports unreadable,
  so we register a cleaner with a reading-friendly allow-list in its place;
- offline: the page needs no JavaScript. The lab template always links require.js, MathJax and
  mermaid from a CDN, so every ``<script>`` element of the rendered page is removed (notebook
  content cannot contain one any more: it was sanitized first). CSS is inlined by nbconvert;
  figures are embedded as data URIs; images pointing at the web are dropped;
- a banner when the notebook failed or timed out (with a marker where it stopped), saying in
  plain words what happened; the error output itself (a traceback: code and paths) is never
  shown, it is in run.log;
- a footer with the run id, the data as-of date and the non-secret parameters.
"""

from __future__ import annotations

import copy
import html
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import bleach
import nbformat
from bleach.css_sanitizer import ALLOWED_CSS_PROPERTIES, CSSSanitizer
from nbconvert import HTMLExporter
from traitlets.config import Config

from . import _project

HIDDEN_TAGS = frozenset({"parameters", "injected-parameters", "remove-cell"})
PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"  # papermill's own banner cells, replaced by ours
STOP_MARKER_ID = "stopped-here"

# What reports need to read well: text, lists, headings, tables, embedded images.
_ALLOWED_TAGS = frozenset().union(
    {"blockquote", "details", "div", "figcaption", "figure", "hr", "p", "pre", "summary"},
    {"h1", "h2", "h3", "h4", "h5", "h6", "dd", "dl", "dt", "li", "ol", "ul"},
    {"caption", "col", "colgroup", "table", "tbody", "td", "tfoot", "th", "thead", "tr"},
    {"a", "abbr", "b", "br", "cite", "code", "del", "em", "i", "img", "ins", "kbd", "mark"},
    {"q", "s", "samp", "small", "span", "strong", "sub", "sup", "u"},
)
_GLOBAL_ATTRIBUTES = frozenset({"class", "id", "title", "style", "align", "lang", "dir"})
_TAG_ATTRIBUTES = {
    "a": {"href", "name"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "valign"},
    "th": {"colspan", "rowspan", "valign", "scope"},
    "table": {"border", "cellpadding", "cellspacing"},
    "col": {"span", "width"},
    "colgroup": {"span"},
    "ol": {"start", "type"},
    "li": {"value"},
    "details": {"open"},
}
_CSS_PROPERTIES = frozenset(ALLOWED_CSS_PROPERTIES).union(
    {"border", "border-bottom", "border-left", "border-right", "border-top", "border-width"},
    {"border-style", "margin", "margin-bottom", "margin-left", "margin-right", "margin-top"},
    {"padding", "padding-bottom", "padding-left", "padding-right", "padding-top"},
    {"max-width", "min-width", "text-transform"},
)  # no background / background-image: they take url(...), which would fetch from the web
# Image data only: a web address in src would be fetched when the page opens (not offline, and a
# tracking pixel). SVG inside <img> cannot run script.
_DATA_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|webp|svg\+xml);base64,", re.I)
_STYLE_BLOCK = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.S | re.I)
# CSS that could fetch from the web, run script in old browsers, or break out of the element.
_UNSAFE_CSS = re.compile(
    r"url\s*\(|@import|expression\s*\(|javascript:|behavior\s*:|-moz-binding|<", re.I
)
# nbconvert warns about figures without alt text on every chart; nothing a reader can act on.
_QUIET = logging.getLogger(__name__)
_QUIET.setLevel(logging.ERROR)
_SCRIPT_ELEMENT = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.S | re.I)


def _allow_attribute(tag: str, name: str, value: str) -> bool:
    if name in _GLOBAL_ATTRIBUTES:
        return True
    if name not in _TAG_ATTRIBUTES.get(tag, ()):
        return False
    if tag == "img" and name == "src":
        return bool(_DATA_IMAGE.match(value))
    if tag == "a" and name == "href":
        return value.startswith(("#", "http://", "https://", "mailto:"))
    return True


_CLEANER = bleach.Cleaner(
    tags=_ALLOWED_TAGS,
    attributes=_allow_attribute,
    protocols={"http", "https", "mailto", "data"},
    strip=False,  # escape, do not delete: a product name with <b> in it is shown as typed
    strip_comments=True,
    css_sanitizer=CSSSanitizer(allowed_css_properties=_CSS_PROPERTIES),
)


def sanitize_html(fragment: str) -> str:
    """HTML that displays the same but cannot run anything or fetch anything.

    Unknown tags (``<script>``, ``<iframe>``, ``<form>``...) are escaped and shown as text,
    event-handler attributes and ``javascript:`` links are removed, and images must be embedded
    data. ``<style>`` blocks (pandas ``Styler`` tables) are kept when their CSS cannot fetch or
    break out.

    Parameters
    ----------
    fragment : str
        HTML from a notebook: a rendered Markdown cell or a ``text/html`` output.

    Returns
    -------
    str
        The cleaned HTML.
    """
    fragment = fragment.decode() if isinstance(fragment, bytes) else str(fragment)
    # Style blocks are set aside under a random token (unguessable, so data cannot forge one)
    # because bleach either drops them or lets their text through unchecked.
    token = f"shopstyle{secrets.token_hex(8)}n"
    kept: list[str] = []

    def set_aside(match: re.Match[str]) -> str:
        css = match.group(1)
        if _UNSAFE_CSS.search(css):
            return ""
        kept.append(f"<style>{css}</style>")
        return f"{token}{len(kept) - 1}{token}"

    cleaned = _CLEANER.clean(_STYLE_BLOCK.sub(set_aside, fragment))
    return re.sub(rf"{token}(\d+){token}", lambda m: kept[int(m.group(1))], cleaned)


class StakeholderHTMLExporter(HTMLExporter):
    """The lab HTML exporter with a readable sanitizer in place of nbconvert's strict one."""

    def default_filters(self):  # noqa: D102 - nbconvert hook
        yield from super().default_filters()
        # Later registrations win: the lab template pipes Markdown and HTML through clean_html
        # when sanitize_html is on.
        yield ("clean_html", sanitize_html)


def _exporter() -> StakeholderHTMLExporter:
    config = Config()
    config.TemplateExporter.exclude_input = True
    config.TemplateExporter.exclude_input_prompt = True
    config.TemplateExporter.exclude_output_prompt = True
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = set(HIDDEN_TAGS)
    config.HTMLExporter.sanitize_html = True
    return StakeholderHTMLExporter(config=config, template_name="lab", log=_QUIET)


@dataclass(frozen=True)
class Page:
    """What the banner and footer of one notebook page say.

    Parameters
    ----------
    notebook : str
        The notebook name (file name without ``.ipynb``).
    run_id : str
        The run the page belongs to.
    status : str
        ``ok``, ``failed`` or ``timeout``.
    problem : str, optional
        One sentence on what went wrong, shown in the banner (failed / timeout only).
    stopped_cell : int, optional
        Index of the cell where the run stopped (marked in the page).
    data_as_of : str, optional
        The data as-of date the notebook recorded.
    params : Mapping
        The non-secret parameters the notebook ran with.
    generated_at : str, optional
        When the page was made (ISO timestamp, UTC).
    """

    notebook: str
    run_id: str
    status: str = "ok"
    problem: str | None = None
    stopped_cell: int | None = None
    data_as_of: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    generated_at: str | None = None


def notebook_html(nb: nbformat.NotebookNode, page: Page) -> str:
    """The stakeholder page of an executed notebook.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The executed notebook (not modified).
    page : Page
        Run details for the banner and footer.

    Returns
    -------
    str
        A complete, self-contained HTML document without any script.
    """
    prepared = _prepare(nb, page)
    resources = {"metadata": {"name": page.notebook}}
    body, _ = _exporter().from_notebook_node(prepared, resources=resources)
    body = _SCRIPT_ELEMENT.sub("", body)
    body = body.replace("</head>", f"<style>{PAGE_CSS}</style>\n</head>", 1)
    body = _insert_after_main(body, _banner(page))
    end = "</main>" if "</main>" in body else "</body>"
    return body.replace(end, f"{_footer(page)}\n{end}", 1)


def _prepare(nb: nbformat.NotebookNode, page: Page) -> nbformat.NotebookNode:
    prepared = copy.deepcopy(nb)
    stopped = prepared.cells[page.stopped_cell] if page.stopped_cell is not None else None
    prepared.cells = [c for c in prepared.cells if PAPERMILL_ERROR_TAG not in _tags(c)]
    if stopped is not None and page.status != "ok":
        index = next(i for i, cell in enumerate(prepared.cells) if cell is stopped)
        marker = nbformat.v4.new_markdown_cell(
            f'<p id="{STOP_MARKER_ID}" class="shop-stopped">The report stopped here.</p>'
        )
        prepared.cells.insert(index, marker)
    for cell in prepared.cells:
        if cell.cell_type == "code":  # a traceback shows code and paths: run.log has it
            kept = [o for o in cell.outputs if o.get("output_type") != "error"]
            cell.outputs = [_without_active_content(o) for o in kept]
    prepared.metadata.pop("widgets", None)  # would pull the widget manager from a CDN
    prepared.metadata["title"] = _title(prepared) or page.notebook
    return prepared


def _without_active_content(output: nbformat.NotebookNode) -> nbformat.NotebookNode:
    # Widgets and JavaScript need a live kernel or a CDN; the text/plain or image fallback of the
    # same output is shown instead.
    data = output.get("data")
    if data:
        for mime in ("application/javascript", "application/vnd.jupyter.widget-view+json"):
            if mime in data and len(data) > 1:
                del data[mime]
    return output


def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _title(nb: nbformat.NotebookNode) -> str | None:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if match:
                return match.group(1).strip()
    return None


def _insert_after_main(body: str, fragment: str) -> str:
    if not fragment:
        return body
    match = re.search(r"<main[^>]*>", body)
    if match is None:  # a template without <main>: put it first in the body
        match = re.search(r"<body[^>]*>", body)
    if match is None:
        raise RuntimeError("nbconvert produced a page without a <body>; cannot add the banner.")
    return f"{body[: match.end()]}\n{fragment}{body[match.end() :]}"


def _banner(page: Page) -> str:
    if page.status == "ok":
        return ""
    headline = (
        "This report did not finish: it ran out of time."
        if page.status == "timeout"
        else "This report did not finish: a step failed."
    )
    where = (
        f' <a href="#{STOP_MARKER_ID}">Go to the step where it stopped.</a>'
        if page.stopped_cell is not None
        else ""
    )
    detail = f"<p>{html.escape(page.problem)}</p>" if page.problem else ""
    return (
        f'<div class="shop-banner" role="alert"><p><strong>{html.escape(headline)}</strong>'
        f"{where}</p>{detail}<p>The results below are incomplete; the analytics team has the "
        "details in run.log.</p></div>"
    )


def _footer(page: Page) -> str:
    facts = [f"Run {html.escape(page.run_id)}"]
    if page.data_as_of:
        facts.append(f"data as of {html.escape(str(page.data_as_of))}")
    if page.generated_at:
        facts.append(f"generated {html.escape(page.generated_at)}")
    facts.append(f"{html.escape(_project.PROJECT_NAME)} · {html.escape(_project.TEAM)}")
    rows = "".join(
        f"<tr><th>{html.escape(str(name))}</th><td>{html.escape(format_value(value))}</td></tr>"
        for name, value in sorted(page.params.items())
    )
    params = (
        f'<details><summary>Parameters of this run</summary><table class="shop-params">'
        f"{rows}</table></details>"
        if rows
        else ""
    )
    return f'<footer class="shop-footer"><p>{" · ".join(facts)}</p>{params}</footer>'


def format_value(value: Any) -> str:
    """A parameter or headline value as a short, readable string."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 1:
            return f"{value:,.2f}"
        return f"{value:.3g}"
    return str(value)


PAGE_CSS = """
body { max-width: 1100px; margin: 0 auto; padding: 0 1.5rem;
  font-family: var(--jp-ui-font-family, system-ui, -apple-system, "Segoe UI", sans-serif); }
.shop-banner { border: 2px solid #b3261e; background: #fdecea; color: #410e0b;
  padding: 0.75rem 1rem; margin: 1rem 0; border-radius: 6px; font-size: 1rem; }
.shop-banner a { color: #8c1d18; font-weight: bold; }
.shop-stopped { border-left: 4px solid #b3261e; padding-left: 0.5rem; color: #8c1d18;
  font-weight: bold; }
.celltag_executive-summary { border-left: 4px solid #1e6fd9; background: #f3f7fd;
  padding: 0.25rem 1rem; margin: 0.5rem 0 1.5rem; border-radius: 4px; }
.shop-footer { border-top: 1px solid #ccc; margin: 2rem 0 1rem; padding-top: 0.5rem;
  color: #555; font-size: 0.85rem; }
.shop-footer table { border-collapse: collapse; margin-top: 0.5rem; }
.shop-footer th, .shop-footer td { text-align: left; padding: 0.1rem 1rem 0.1rem 0; }
@media print { .shop-footer details { display: block; } }
"""


def error_page(notebook: str, run_id: str, problem: str) -> str:
    """A minimal page for a notebook whose HTML could not be made."""
    page = Page(notebook=notebook, run_id=run_id, status="failed")
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(notebook)}</title><style>{PAGE_CSS}</style></head><body><main>"
        f'<div class="shop-banner" role="alert"><p><strong>The page of this report could not be '
        f"made.</strong></p><p>{html.escape(problem)}</p><p>The executed notebook "
        f"{html.escape(notebook)}.ipynb in the same folder has the results.</p></div>"
        f"{_footer(page)}</main></body></html>\n"
    )
