"""Data sources: data folder, user cache, one verified download; never a wrong file.

Downloads are served by a local http.server on 127.0.0.1; caches live in tmp_path.
"""

from __future__ import annotations

import functools
import http.server
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from codebudget.benchmarks import catalog, get_benchmark
from codebudget.benchmarks.catalog import DataFile
from codebudget.benchmarks.sources import (
    ENV_CACHE,
    ENV_DATA,
    ENV_DOWNLOAD_BASE,
    ENV_OFFLINE,
    cache_data_dir,
    fetch,
    find,
    sha256_of,
)
from codebudget.errors import UserError

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("CODEBUDGET_DATA") or REPO.parent / "shared" / "data")
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"no data folder at {DATA}")

HUMANEVAL = catalog.HUMANEVAL  # the smallest real file (45 kB)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty user cache; no data folder, no mirror, downloads allowed."""
    cache = tmp_path / "cache"
    monkeypatch.setenv(ENV_CACHE, str(cache))
    for name in (ENV_DATA, ENV_OFFLINE, ENV_DOWNLOAD_BASE):
        monkeypatch.delenv(name, raising=False)
    return cache


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Iterator[functools.partial[None]]:
    """`serve(folder)` makes CODEBUDGET_DOWNLOAD_BASE point at an HTTP server of `folder`."""
    servers: list[http.server.ThreadingHTTPServer] = []

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    def start(folder: Path) -> None:
        handler = functools.partial(Quiet, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        monkeypatch.setenv(ENV_DOWNLOAD_BASE, f"http://127.0.0.1:{server.server_port}")

    yield functools.partial(start)
    for server in servers:
        server.shutdown()
        server.server_close()


def _write(root: Path, file: DataFile, content: bytes) -> Path:
    path = root / file.relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


# --- where files are found ------------------------------------------------------------


@needs_data
def test_data_dir_file_is_verified_and_preferred_over_cache(tmp_path: Path) -> None:
    _write(cache_data_dir(), HUMANEVAL, b"stale")  # would fail verification if looked at
    location = find(HUMANEVAL, DATA)
    assert location.origin == "data-dir" and location.path == DATA / HUMANEVAL.relpath


@needs_data
def test_env_data_dir_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_DATA, str(DATA))
    assert find(HUMANEVAL).origin == "data-dir"


@needs_data
def test_cache_is_used_when_no_data_dir(tmp_path: Path) -> None:
    _write(cache_data_dir(), HUMANEVAL, (DATA / HUMANEVAL.relpath).read_bytes())
    location = find(HUMANEVAL, tmp_path / "empty")
    assert location.origin == "cache" and location.path == cache_data_dir() / HUMANEVAL.relpath


def test_cache_location_follows_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cache_data_dir() == tmp_path / "cache" / "data"
    monkeypatch.delenv(ENV_CACHE)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_data_dir() == tmp_path / "xdg" / "codebudget" / "data"


def test_not_found_without_download() -> None:
    location = find(HUMANEVAL)
    assert not location.found and location.origin is None


# --- checksums ------------------------------------------------------------------------


def test_checksum_mismatch_in_data_dir_is_a_user_error(tmp_path: Path) -> None:
    bad = _write(tmp_path / "data", HUMANEVAL, b"not the HumanEval file")
    with pytest.raises(UserError) as error:
        find(HUMANEVAL, tmp_path / "data")
    text = str(error.value)
    assert str(bad) in text and HUMANEVAL.sha256 in text and sha256_of(bad) in text
    assert HUMANEVAL.url in text  # the fix: where the right bytes are


def test_checksum_mismatch_in_cache_is_a_user_error() -> None:
    bad = _write(cache_data_dir(), HUMANEVAL, b"tampered")
    with pytest.raises(UserError, match="sha256 mismatch") as error:
        fetch(HUMANEVAL)
    assert f"delete {bad}" in str(error.value)


def test_sha256_is_recomputed_when_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"one")
    first = sha256_of(path)
    assert sha256_of(path) == first
    path.write_bytes(b"two!")
    assert sha256_of(path) != first


# --- missing files ----------------------------------------------------------------------


def test_missing_file_offline_names_file_places_and_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_OFFLINE, "1")
    with pytest.raises(UserError) as error:
        fetch(HUMANEVAL, tmp_path / "data")
    text = str(error.value)
    assert HUMANEVAL.relpath in text and ENV_OFFLINE in text
    assert str(tmp_path / "data" / HUMANEVAL.relpath) in text
    assert str(cache_data_dir() / HUMANEVAL.relpath) in text
    assert HUMANEVAL.url in text and "--data-dir" in text and ENV_DATA in text


def test_missing_benchmark_file_offline_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_OFFLINE, "1")
    with pytest.raises(UserError, match="mbpp_pro.json"):
        get_benchmark("mbpp-pro").load()


def test_unreachable_server_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv(ENV_DOWNLOAD_BASE, f"http://127.0.0.1:{port}")
    with pytest.raises(UserError, match="HumanEval.jsonl.gz"):
        fetch(HUMANEVAL, timeout=5)
    assert not [p for p in cache_data_dir().rglob("*") if p.is_file()]


# --- downloads --------------------------------------------------------------------------


@needs_data
def test_download_lands_in_cache_with_the_right_hash(serve: functools.partial[None]) -> None:
    serve(DATA)
    location = fetch(HUMANEVAL)
    assert location.origin == "downloaded"
    assert location.path == cache_data_dir() / HUMANEVAL.relpath
    assert sha256_of(location.path) == HUMANEVAL.sha256
    assert [p.name for p in location.path.parent.iterdir()] == [HUMANEVAL.name]  # no temp left
    assert find(HUMANEVAL).origin == "cache"  # and is found there next time


def test_download_with_wrong_hash_leaves_nothing(
    tmp_path: Path, serve: functools.partial[None]
) -> None:
    _write(tmp_path / "mirror", HUMANEVAL, b"a corrupted mirror copy")
    serve(tmp_path / "mirror")
    with pytest.raises(UserError, match="sha256 mismatch"):
        fetch(HUMANEVAL)
    assert not [p for p in cache_data_dir().rglob("*") if p.is_file()]


def test_download_http_error_is_a_user_error(tmp_path: Path, serve: functools.partial[None]) -> None:
    (tmp_path / "empty").mkdir()
    serve(tmp_path / "empty")
    with pytest.raises(UserError, match="404"):
        fetch(HUMANEVAL)


@needs_data
def test_benchmark_load_downloads_once_then_uses_cache(serve: functools.partial[None]) -> None:
    serve(DATA)
    benchmark = get_benchmark("humaneval")
    assert [loc.found for loc in benchmark.locate()] == [False]
    tasks = benchmark.load()
    assert len(tasks) == 164
    assert [loc.origin for loc in benchmark.locate()] == ["cache"]
