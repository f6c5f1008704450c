"""The HTML report: self-contained, escaped, and actually readable in a real browser.

The unit tests check the page's promises on its markup. The browser test opens the page in
Debian's Chromium, because "opens offline and renders" is only proven by rendering it: it takes a
screenshot (plots and text must be visible) and watches the browser's console (no errors, and the
Content-Security-Policy reports any blocked script or remote load there). A deliberately broken
page first proves that the console watch and the screenshot checks can fail at all.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import os
import signal
import struct
import subprocess
import zlib
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from codebudget.report.html import render_html

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_TIMEOUT_S = 60
REQUIRE_BROWSER = os.environ.get("CODEBUDGET_REQUIRE_BROWSER") == "1"
XSS_MODEL = '<script>console.error("xss")</script>'
PNG_BAR = (214, 39, 40)  # matplotlib's tab:red
SVG_BAR = (44, 160, 44)  # matplotlib's tab:green


def _png(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A valid PNG without any imaging library, so the unit tests need nothing but markdown."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10">'
    '<script>alert("svg")</script><rect width="20" height="10" fill="green"/></svg>'
)


class _Tags(HTMLParser):
    """Every start tag with its attributes, as a browser's tokenizer would see them."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def named(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.tags if tag == name]


@pytest.fixture
def report_dir(tmp_path: Path) -> Path:
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "pass.png").write_bytes(_png())
    (tmp_path / "plots" / "frontier.svg").write_text(SVG)
    return tmp_path


REPORT_MD = f"""# Run report

Scores for **two models** ([benchmark](https://github.com/openai/human-eval)), see `codebudget`.

- one bullet
- another bullet

| model | pass@1 | tokens |
|---|---|---|
| {XSS_MODEL} | 0.452 [0.41, 0.49] | 1,234 |
| tiny-coder | - | 87 |

![pass@1](plots/pass.png)

![frontier](plots/frontier.svg)
"""


def test_images_become_data_uris(report_dir: Path) -> None:
    out = render_html(REPORT_MD, report_dir, "Run report")
    assert 'src="plots/' not in out
    srcs = [img["src"] or "" for img in _Tags(out).named("img")]
    assert len(srcs) == 2
    png, svg = srcs
    assert png.startswith("data:image/png;base64,")
    assert base64.b64decode(png.split(",", 1)[1]) == _png()
    assert svg.startswith("data:image/svg+xml;base64,")
    assert base64.b64decode(svg.split(",", 1)[1]).decode() == SVG


def test_svg_script_is_inert(report_dir: Path) -> None:
    # Base64 inside <img>: the SVG's <script> is neither markup of the page nor ever run.
    out = render_html(REPORT_MD, report_dir, "Run report")
    assert "<script" not in out.lower()
    assert 'alert("svg")' not in out


def test_nothing_loads_from_the_network(report_dir: Path) -> None:
    out = render_html(REPORT_MD, report_dir, "Run report")
    tags = _Tags(out)
    assert tags.named("script") == [] and tags.named("link") == []
    for name in ("img", "script", "link", "iframe", "source", "object", "embed"):
        for attrs in tags.named(name):
            for key in ("src", "href", "srcset", "data"):
                value = (attrs.get(key) or "").lower()
                assert not value.startswith(("http://", "https://", "//")), (name, key, value)
    assert 'href="https://github.com/openai/human-eval"' in out  # a plain link is fine
    assert all(not key.startswith("on") for _, attrs in tags.tags for key in attrs)


def test_missing_image_names_the_file(report_dir: Path) -> None:
    with pytest.raises(ValueError, match=r"not found: .*plots[/\\]missing\.png"):
        render_html("![x](plots/missing.png)", report_dir, "r")


@pytest.mark.parametrize(
    "src", ["https://cdn.example.com/p.png", "http://example.com/p.svg", "//cdn.example.com/p.png"]
)
def test_remote_image_is_rejected(report_dir: Path, src: str) -> None:
    with pytest.raises(ValueError, match="remote image"):
        render_html(f"![x]({src})", report_dir, "r")


@pytest.mark.parametrize("src", ["../outside.png", "file:///etc/hostname.png"])
def test_image_outside_the_report_folder_is_rejected(report_dir: Path, src: str) -> None:
    (report_dir.parent / "outside.png").write_bytes(_png())
    with pytest.raises(ValueError, match="outside the report folder|only paths relative"):
        render_html(f"![x]({src})", report_dir, "r")


def test_mislabelled_image_is_rejected(report_dir: Path) -> None:
    (report_dir / "plots" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"broken\.png is not a valid image/png"):
        render_html("![x](plots/broken.png)", report_dir, "r")


def test_model_names_are_escaped_everywhere(report_dir: Path) -> None:
    md = (
        f"# Model {XSS_MODEL}\n\n{XSS_MODEL} scored best.\n\n"
        f"<div onclick=\"boom()\">{XSS_MODEL}</div>\n\n"
        f"| model | pass@1 |\n|---|---|\n| {XSS_MODEL} | 0.5 |\n"
    )
    out = render_html(md, report_dir, XSS_MODEL)
    tags = _Tags(out)
    assert tags.named("script") == [] and tags.named("div") == [{"class": "table-wrap"}]
    assert "<script" not in out.lower()
    assert out.count("&lt;script&gt;") == 5  # title, heading, paragraph, raw div, table cell
    assert "<title>&lt;script&gt;console.error(&quot;xss&quot;)&lt;/script&gt;</title>" in out


def test_script_links_lose_their_href(report_dir: Path) -> None:
    md = "[a](javascript:alert(1)) [b](https://example.com) [c](#run)"
    out = render_html(md, report_dir, "r")
    assert [a.get("href") for a in _Tags(out).named("a")] == [None, "https://example.com", "#run"]


def test_tables_and_page_skeleton(report_dir: Path) -> None:
    out = render_html(REPORT_MD, report_dir, "Run <report>")
    tags = _Tags(out)
    assert len(tags.named("table")) == 1
    assert [attrs.get("class") for attrs in tags.named("th")] == [None, "num", "num"]
    assert {"charset": "utf-8"} in tags.named("meta")
    assert any(m.get("name") == "viewport" for m in tags.named("meta"))
    assert any(m.get("http-equiv") == "Content-Security-Policy" for m in tags.named("meta"))
    assert "<title>Run &lt;report&gt;</title>" in out
    assert len(tags.named("li")) == 2 and tags.named("strong") and tags.named("code")


# ------------------------------------------------------------------------------------------------
# The real browser


def _need(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError:
        if REQUIRE_BROWSER:
            pytest.fail(f"CODEBUDGET_REQUIRE_BROWSER=1 but {module} is not installed")
        pytest.skip(f"{module} not installed")


def _need_chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    if REQUIRE_BROWSER:
        pytest.fail(
            f"CODEBUDGET_REQUIRE_BROWSER=1 but {CHROMIUM} is missing: "
            "apt-get install -y --no-install-recommends chromium"
        )
    pytest.skip("Debian chromium not installed (apt-get install chromium)")


@dataclass(frozen=True)
class _Rendered:
    screenshot: Path
    dom: str
    console: list[str]


def _chromium(page: Path, work: Path, *mode: str) -> tuple[str, str]:
    """Run headless Chromium once on ``page``; stdout, and stderr where console messages go."""
    work.mkdir(parents=True)
    cmd = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-dev-shm-usage",  # CI containers have a tiny /dev/shm
        f"--user-data-dir={work / 'profile'}", "--window-size=1200,1600",
        "--enable-logging=stderr", "--v=0", *mode, page.as_uri(),
    ]  # fmt: skip
    env = {**os.environ, "HOME": str(work)}  # nothing of the user's profile is read or written
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=work,
        encoding="utf-8", errors="replace", start_new_session=True,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=CHROMIUM_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"chromium took over {CHROMIUM_TIMEOUT_S} s on {page}; stderr:\n{err[-4000:]}")
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # helpers a crashed browser left behind
    if proc.returncode != 0:
        pytest.fail(f"chromium exited {proc.returncode} on {page}; stderr:\n{err[-4000:]}")
    return out, err


def _render(page: Path, work: Path) -> _Rendered:
    shot = work / "screenshot.png"
    _, err_shot = _chromium(page, work / "shot", f"--screenshot={shot}")
    dom, err_dom = _chromium(page, work / "dom", "--dump-dom")
    assert shot.is_file(), f"chromium wrote no screenshot; stderr:\n{err_shot[-4000:]}"
    # Chromium logs each console message as "[...:INFO:CONSOLE:1] "text", source: url (line)"
    # (older builds: "CONSOLE(1)"); that covers console.*, uncaught errors and CSP violations.
    console = [line for line in (err_shot + err_dom).splitlines() if ":CONSOLE" in line]
    return _Rendered(shot, dom, console)


def _pixels(shot: Path) -> np.ndarray:
    image = _need("PIL.Image")
    with image.open(shot) as im:
        return np.asarray(im.convert("RGB"), dtype=np.int16)


def _near(px: np.ndarray, rgb: tuple[int, int, int], tol: int = 30) -> int:
    return int((np.abs(px - np.array(rgb, dtype=np.int16)).max(axis=2) <= tol).sum())


def _plots(tmp_path: Path) -> Path:
    matplotlib = _need("matplotlib")
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    out = tmp_path / "report"
    (out / "plots").mkdir(parents=True)
    for name, colour in (("pass.png", PNG_BAR), ("frontier.svg", SVG_BAR)):
        fig = Figure(figsize=(6, 2.6), dpi=100)
        ax = fig.subplots()
        ax.bar(["a", "b", "c"], [0.45, 0.62, 0.30], width=0.8, color=[c / 255 for c in colour])
        ax.set_ylabel("pass@1")
        fig.savefig(out / "plots" / name)
    return out


@pytest.mark.slow
def test_report_renders_in_chromium(tmp_path: Path) -> None:
    _need_chromium()
    out = _plots(tmp_path)

    # Positive control: the same pipeline must see a console error and no plots on a broken page,
    # or the assertions on the real report below would prove nothing.
    broken = tmp_path / "broken.html"
    broken.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>broken</title></head>'
        '<body><p>hello</p><script>console.error("boom")</script></body></html>'
    )
    control = _render(broken, tmp_path / "control")
    assert any('"boom"' in line for line in control.console), control.console
    control_px = _pixels(control.screenshot)
    assert _near(control_px, PNG_BAR) == 0 and _near(control_px, SVG_BAR) == 0

    page = out / "report.html"
    md = REPORT_MD.replace("(https://github.com/openai/human-eval)", "(#run-report)")
    page.write_text(render_html(md, out, "Run report"), encoding="utf-8")
    rendered = _render(page, tmp_path / "report")

    assert rendered.console == [], "\n".join(rendered.console)

    px = _pixels(rendered.screenshot)
    assert px.shape[1] >= 1000 and px.shape[0] >= 1000, px.shape
    assert px.std() > 20, "screenshot is (nearly) blank"
    assert len(np.unique(px.reshape(-1, 3), axis=0)) > 100, "screenshot has too few colours"
    assert int((px.max(axis=2) < 90).sum()) > 500, "no dark text pixels in the screenshot"
    assert _near(px, PNG_BAR) > 5000, "the PNG plot's bars are not visible"
    assert _near(px, SVG_BAR) > 5000, "the SVG plot's bars are not visible"

    dom = rendered.dom
    assert "<table>" in dom and "tiny-coder" in dom and "0.452 [0.41, 0.49]" in dom
    assert "&lt;script&gt;console.error" in dom  # the hostile model name is text, not markup
    assert "<script" not in dom.lower()
    assert dom.count('src="data:image/png;base64,') == 1
    assert dom.count('src="data:image/svg+xml;base64,') == 1
