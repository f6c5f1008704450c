"""Where a benchmark's data file comes from, and proof that it is the right file.

Resolution order for each pinned `DataFile`:

1. a data folder the user names (`data_dir` argument, else `$CODEBUDGET_DATA`), laid out
   like shared/data (`humaneval/HumanEval.jsonl.gz`, ...);
2. the user cache: `$CODEBUDGET_CACHE`, else `$XDG_CACHE_HOME/codebudget`, else
   `~/.cache/codebudget`; files live under its `data/` folder in the same layout;
3. a one-time download from the official source into the cache, unless
   `$CODEBUDGET_OFFLINE` is set. `$CODEBUDGET_DOWNLOAD_BASE` replaces the official URL with
   `<base>/<relpath>` (a mirror, or a local server in tests).

Every file is checked against its pinned sha256 before use; a download is checked before it
is renamed into the cache, so the cache never holds a partial or wrong file. Hashes of files
already checked are remembered in-process by (path, size, mtime), so loading stays fast.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from codebudget.benchmarks.catalog import DataFile
from codebudget.errors import UserError
from codebudget.paths import ENV_OFFLINE, cache_dir, downloads_disabled

ENV_DATA = "CODEBUDGET_DATA"
ENV_CACHE = "CODEBUDGET_CACHE"
ENV_DOWNLOAD_BASE = "CODEBUDGET_DOWNLOAD_BASE"
DOWNLOAD_TIMEOUT_S = 60.0
_CHUNK = 1 << 16

Origin = Literal["data-dir", "cache", "downloaded"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Location:
    """Where one data file was found; `path` and `origin` are None when it was not."""

    file: DataFile
    path: Path | None
    origin: Origin | None

    @property
    def found(self) -> bool:
        return self.path is not None


def user_data_dir(data_dir: Path | None = None) -> Path | None:
    """The folder the user named: the argument, else `$CODEBUDGET_DATA`, else none."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get(ENV_DATA)
    return Path(env).expanduser() if env else None


def cache_data_dir() -> Path:
    """The `data/` folder of the user cache (it may not exist yet)."""
    return cache_dir("data")


def download_url(file: DataFile) -> str:
    """The official URL, or `<$CODEBUDGET_DOWNLOAD_BASE>/<relpath>` when a mirror is set."""
    base = os.environ.get(ENV_DOWNLOAD_BASE)
    return f"{base.rstrip('/')}/{file.relpath}" if base else file.url


def find(file: DataFile, data_dir: Path | None = None) -> Location:
    """Look in the data folder, then the cache; verify what is found. Never downloads."""
    user_dir = user_data_dir(data_dir)
    if user_dir is not None:
        candidate = user_dir / file.relpath
        if candidate.is_file():
            verify(candidate, file, in_cache=False)
            return Location(file, candidate, "data-dir")
    cached = cache_data_dir() / file.relpath
    if cached.is_file():
        verify(cached, file, in_cache=True)
        return Location(file, cached, "cache")
    return Location(file, None, None)


def fetch(file: DataFile, data_dir: Path | None = None, timeout: float = DOWNLOAD_TIMEOUT_S) -> Location:
    """Find the file, downloading it into the cache once if needed; UserError if impossible."""
    found = find(file, data_dir)
    if found.found:
        return found
    if downloads_disabled():
        raise _missing_error(file, data_dir, f"downloads are off ({ENV_OFFLINE} is set)")
    target = cache_data_dir() / file.relpath
    download(file, target, download_url(file), timeout)
    return Location(file, target, "downloaded")


def download(file: DataFile, target: Path, url: str, timeout: float = DOWNLOAD_TIMEOUT_S) -> None:
    """Stream `url` to a temporary file beside `target`, check its sha256, then rename it."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".partial", dir=target.parent)
    except OSError as exc:
        raise UserError(
            f"cannot write to the data cache {target.parent}: {exc}",
            f"set {ENV_CACHE} to a writable folder, or pass --data-dir with the files",
        ) from exc
    log.info("downloading %s from %s", file.relpath, url)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _copy_hashing(url, out, timeout, limit=file.size)
        if digest != file.sha256:
            raise _mismatch_error(file, url, digest, in_cache=False)
        os.replace(tmp, target)
    except (urllib.error.URLError, OSError) as exc:
        raise _missing_error(file, None, f"downloading {url} failed: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def _copy_hashing(url: str, out: BinaryIO, timeout: float, limit: int) -> str:
    """Copy the response body to `out`; stop past `limit` bytes (the hash then cannot match)."""
    sha = hashlib.sha256()
    written = 0
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (pinned https or test URL)
        while written <= limit:
            chunk = response.read(_CHUNK)
            if not chunk:
                break
            sha.update(chunk)
            out.write(chunk)
            written += len(chunk)
    return sha.hexdigest()


def verify(path: Path, file: DataFile, in_cache: bool) -> None:
    """Raise UserError unless `path` has the pinned sha256 of `file`."""
    actual = sha256_of(path)
    if actual != file.sha256:
        raise _mismatch_error(file, str(path), actual, in_cache=in_cache)


def sha256_of(path: Path) -> str:
    """sha256 of a file, computed once per (path, size, mtime) in this process."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    return _sha256_cached(str(resolved), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


def _mismatch_error(file: DataFile, where: str, actual: str, in_cache: bool) -> UserError:
    message = (
        f"{where}: sha256 mismatch for data file {file.relpath}\n"
        f"  expected {file.sha256}\n  actual   {actual}"
    )
    if in_cache:
        hint = f"delete {where}; codebudget will download the pinned file ({file.source}) again"
    else:
        hint = f"use the original bytes of {file.source}, downloadable from {file.url}"
    return UserError(message, hint)


def _missing_error(file: DataFile, data_dir: Path | None, why: str) -> UserError:
    user_dir = user_data_dir(data_dir)
    looked = [str(user_dir / file.relpath)] if user_dir is not None else []
    looked.append(str(cache_data_dir() / file.relpath))
    message = f"data file {file.relpath} is missing ({why}); looked in: {', '.join(looked)}"
    hint = (
        f"download {file.url} (sha256 {file.sha256}) to <dir>/{file.relpath} and pass "
        f"--data-dir <dir> or set {ENV_DATA}=<dir>; or, online, unset {ENV_OFFLINE} so "
        f"codebudget downloads it into {cache_data_dir()}"
    )
    return UserError(message, hint)
