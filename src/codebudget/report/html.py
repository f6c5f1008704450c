"""One self-contained HTML page from the report's markdown.

Why self-contained: a report gets mailed, attached to issues and opened on a laptop on a train,
months after the run. A page that needs its ``plots/`` folder beside it, a font CDN or a script
breaks in every one of those places, so each image becomes a data URI, the CSS is inline and there
is no JavaScript at all. A remote image cannot be made to work offline, so it is an error rather
than a silently broken picture.

Why so strict about markup: the markdown is ours, but the model names in it are user input. Raw
HTML in the markdown is escaped, never passed through, links with script-capable schemes lose
their ``href``, and SVGs are embedded as base64 ``<img>`` sources (an SVG drawn by ``<img>`` never
runs its scripts). Behind all that, a Content-Security-Policy forbids scripts and every load that
is not a data URI, so a mistake here still cannot run code or reach the network; the browser
reports any such attempt as a console error, which is what the browser test watches for.
"""

from __future__ import annotations

import base64
import html
import re
import xml.etree.ElementTree as etree
from pathlib import Path
from urllib.parse import unquote, urlsplit

import markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

__all__ = ["render_html"]

_INLINE_IMAGES = ("image/png", "image/jpeg", "image/svg+xml")
_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}
# Links may leave the page (a click is the reader's choice); they may not run anything.
_LINK_SCHEMES = frozenset({"", "http", "https", "mailto"})
_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'"
)
# A table cell that reads as a number: 0.452, 1,234, -3.1e12, 45.2%, 7B, 12.5 ± 1.3,
# 0.45 [0.41, 0.49].
_NUMBER = re.compile(
    r"[-+−~≈<>]?\s*\$?\d[\d,_]*(?:\.\d+)?(?:[eE][-+]?\d+)?\s*(?:%|×|x|s|ms|[kMGTB])?"
    r"(?:\s*(?:±|\+/-)\s*\d[\d,]*(?:\.\d+)?%?)?"
    r"(?:\s*[\[(][^\])]*[\])])?"
)
_BLANK = frozenset({"", "-", "–", "—", "n/a", "na", "nan", "none", "?"})

_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #eef0f3; color: #1f2328;
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
    "Noto Sans", "Liberation Sans", sans-serif; }
main { max-width: 1100px; min-height: 100vh; margin: 0 auto; padding: 2rem 2rem 4rem;
  background: #fff; }
h1, h2, h3, h4 { line-height: 1.25; margin: 1.8em 0 .6em; }
h1 { font-size: 2rem; margin-top: .2em; padding-bottom: .3em; border-bottom: 1px solid #d0d7de; }
h2 { font-size: 1.45rem; padding-bottom: .25em; border-bottom: 1px solid #e5e9ed; }
h3 { font-size: 1.15rem; }
p, ul, ol, blockquote { margin: 0 0 1em; }
li + li { margin-top: .2em; }
a { color: #0969da; }
blockquote { padding: .1em 1em; color: #57606a; border-left: 4px solid #d0d7de; }
code, pre { font-family: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas,
  "Liberation Mono", monospace; font-size: .88em; }
code { background: #eff1f3; padding: .1em .35em; border-radius: 4px; }
pre { background: #f6f8fa; padding: .8em 1em; overflow-x: auto; border: 1px solid #d0d7de;
  border-radius: 6px; }
pre code { background: none; padding: 0; }
.table-wrap { overflow-x: auto; margin: 0 0 1.4em; }
table { border-collapse: collapse; font-size: .92rem; }
th, td { padding: .4em .75em; border: 1px solid #d0d7de; text-align: left; vertical-align: top; }
thead th { background: #eaeef2; font-weight: 600; }
tbody tr:nth-child(even) { background: #f6f8fa; }
tbody tr:hover { background: #ddf4ff; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
img { display: block; max-width: 100%; height: auto; margin: .5em 0 1.4em; }
@media print {
  body { background: #fff; }
  main { max-width: none; padding: 0; }
  tr, img, pre { break-inside: avoid; }
}
"""


def render_html(markdown_text: str, base_dir: Path, title: str) -> str:
    """Return a complete HTML document; images are resolved against ``base_dir``.

    Raises ValueError for an image that is missing, remote, outside ``base_dir`` or not a
    PNG/JPEG/SVG, because a report that renders with a hole in it is worse than no report.
    """
    md = markdown.Markdown(
        extensions=["tables", "fenced_code", "toc", _ReportExtension(Path(base_dir))],
        output_format="html",
    )
    body = md.convert(markdown_text)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n'
        '<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title, quote=True)}</title>\n"
        f"<style>{_CSS}</style>\n"
        "</head>\n<body>\n<main>\n"
        f"{body}\n"
        "</main>\n</body>\n</html>\n"
    )


class _ReportExtension(Extension):
    """Escape raw HTML and post-process the parsed tree (images, links, tables)."""

    def __init__(self, base_dir: Path) -> None:
        super().__init__()
        self.base_dir = base_dir

    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 (markdown's API)
        # Without these two, "<script>" in a model name would pass through as markup; without
        # them it is plain text, which the serializer escapes.
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        # Below 'unescape' (0), so attributes and cell text are final when we read them.
        md.treeprocessors.register(
            _ReportTreeprocessor(md, self.base_dir), "codebudget_report", -10
        )


class _ReportTreeprocessor(Treeprocessor):
    def __init__(self, md: markdown.Markdown, base_dir: Path) -> None:
        super().__init__(md)
        self.base_dir = base_dir

    def run(self, root: etree.Element) -> None:
        for img in root.iter("img"):
            img.set("src", _embed_image(img.get("src", ""), self.base_dir))
        for a in root.iter("a"):
            href = a.get("href")
            if href is not None and not _safe_link(href):
                del a.attrib["href"]
        for parent in list(root.iter()):
            for i, child in enumerate(list(parent)):
                if child.tag == "table":
                    _mark_numeric_columns(child)
                    _wrap(parent, i, child)


def _embed_image(src: str, base_dir: Path) -> str:
    try:
        parts = urlsplit(src)
    except ValueError as e:
        raise ValueError(f"image {src!r} in the report is not a valid URL: {e}") from None
    scheme = parts.scheme.lower()
    if scheme == "data" and src[5:].lower().startswith(_INLINE_IMAGES):
        return src  # already self-contained
    if scheme in ("http", "https") or parts.netloc:
        raise ValueError(
            f"remote image {src!r} in the report: it must open offline, "
            f"so images must be files under {base_dir}"
        )
    if scheme:
        raise ValueError(f"image {src!r}: only paths relative to {base_dir} can be embedded")
    root = base_dir.resolve()
    path = (root / unquote(parts.path)).resolve()
    if not path.is_relative_to(root):
        raise ValueError(f"image {src!r} lies outside the report folder {root}")
    mime = _MIME.get(path.suffix.lower())
    if mime is None:
        raise ValueError(f"image {path}: unsupported type (expected .png, .jpg, .jpeg or .svg)")
    if not path.is_file():
        raise ValueError(f"image not found: {path} (referenced as {src!r} in the report)")
    data = path.read_bytes()
    if not _looks_like(mime, data):
        raise ValueError(f"image {path} is not a valid {mime} file")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _looks_like(mime: str, data: bytes) -> bool:
    """A cheap check, so a truncated or mislabelled plot fails here and not as a broken icon."""
    if mime == "image/png":
        return data.startswith(b"\x89PNG\r\n\x1a\n")
    if mime == "image/jpeg":
        return data.startswith(b"\xff\xd8\xff")
    return b"<svg" in data


def _safe_link(href: str) -> bool:
    try:
        return urlsplit(href).scheme.lower() in _LINK_SCHEMES
    except ValueError:
        return False


def _mark_numeric_columns(table: etree.Element) -> None:
    """Right-align columns whose body cells are all numbers, so digits line up for comparison.

    A column the markdown aligned explicitly (``---:``) keeps its own alignment.
    """
    rows = [list(tr) for tr in table.iter("tr")]
    body = [r for r in rows if r and all(c.tag == "td" for c in r)]
    for j in range(max((len(r) for r in rows), default=0)):
        texts = ["".join(r[j].itertext()).strip() for r in body if j < len(r)]
        numeric = [bool(_NUMBER.fullmatch(t)) for t in texts]
        if any(numeric) and all(n or t.lower() in _BLANK for n, t in zip(numeric, texts)):
            for r in rows:
                if j < len(r) and r[j].get("style") is None:
                    r[j].set("class", (r[j].get("class", "") + " num").strip())


def _wrap(parent: etree.Element, index: int, table: etree.Element) -> None:
    """Put a wide table in a scrolling box, so it scrolls instead of widening the page."""
    box = etree.Element("div", {"class": "table-wrap"})
    box.tail, table.tail = table.tail, None
    parent.remove(table)
    box.append(table)
    parent.insert(index, box)
