"""GGUF files for the transformers backend: dequantized once, then kept as safetensors.

transformers reads a GGUF file only by dequantizing every tensor to float32, which takes
tens of seconds, so the result (model and tokenizer) is saved with `save_pretrained` under
`<root>/<key>/` and loaded from there afterwards (a few seconds). The key is the preset's
pinned sha256 when a preset vouches for the file (`resolve_model` checked it), else the
file's name, size and mtime. A folder counts only once its marker file, written last, says
it was made by this conversion format; it is written to a temporary folder and renamed.

The conversion also checks transformers against the file's own header, because transformers
4.x misreads some GGUF tokenizers (SmolLM2: EOS = <|im_start|>, a BOS added to every prompt;
the file says EOS = <|im_end|>, no BOS) and 4.45 leaves a tied output matrix random. What
was corrected is returned, so the backend can record it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codebudget.errors import UserError
from codebudget.models.presets import ModelPreset

FORMAT = 1  # bump when the conversion changes, so older converted folders are redone
MARKER = "codebudget-conversion.json"

log = logging.getLogger(__name__)


@dataclass
class Conversion:
    tokenizer: Any
    model: Any  # float32, on the CPU
    fixes: list[str]  # where the tokenizer or model transformers read disagreed with the file
    saved: bool  # False: could not be written to the cache (it is converted again next time)


def dtype_kwarg(transformers: Any) -> str:
    """`dtype` since transformers 4.56; `torch_dtype` before."""
    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"


def converted_folder(root: Path, path: Path, preset: ModelPreset | None) -> Path:
    stat = path.stat()
    if preset is not None and preset.sha256 and preset.filename == path.name and preset.size_bytes == stat.st_size:
        return root / f"sha256-{preset.sha256[:24]}"
    return root / f"{path.stem}-{stat.st_size}-{stat.st_mtime_ns}"


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The marker of a finished conversion of the current format, else None."""
    try:
        marker = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) and marker.get("format") == FORMAT else None


def convert(transformers: Any, torch: Any, path: Path, target: Path, preset: ModelPreset | None) -> Conversion:
    """Load the GGUF file dequantized to float32, check it against its header, save it under `target`."""
    options: dict[str, Any] = {dtype_kwarg(transformers): torch.float32}
    if hasattr(transformers, "GgufConfig"):  # transformers 5 may keep the blocks packed: ask for plain weights
        options["quantization_config"] = transformers.GgufConfig(dequantize=True)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        model = transformers.AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, **options)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise UserError(f"transformers could not load {path}: {exc}",
                        "check that the file is a complete GGUF model of an architecture transformers "
                        "supports, or use the llamacpp backend") from None
    header = GgufHeader.read(path)
    fixes = header.align(tokenizer)
    if header.ties_output and not getattr(model.config, "tie_word_embeddings", False):
        model.config.tie_word_embeddings = True
        model.tie_weights()
        fixes.append("tie_word_embeddings = True")
    stat = path.stat()
    marker = {"format": FORMAT, "source": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
              "sha256": preset.sha256 if preset else None, "dtype": "float32", "fixes": fixes,
              "transformers": transformers.__version__, "torch": torch.__version__}
    return Conversion(tokenizer, model, fixes, _save(model, tokenizer, target, marker))


@dataclass(frozen=True)
class GgufHeader:
    special: dict[str, int]  # bos_token / eos_token / pad_token -> id
    add_bos: bool | None
    ties_output: bool  # no output.weight: the token embeddings are reused

    @classmethod
    def read(cls, path: Path) -> GgufHeader:
        import gguf

        reader = gguf.GGUFReader(str(path))

        def scalar(key: str) -> Any:
            field = reader.fields.get(key)
            return field.parts[field.data[0]][0].item() if field is not None else None

        ids = {name: scalar(f"tokenizer.ggml.{key}_token_id")
               for name, key in (("bos_token", "bos"), ("eos_token", "eos"), ("pad_token", "padding"))}
        add_bos = scalar("tokenizer.ggml.add_bos_token")
        return cls({k: int(v) for k, v in ids.items() if v is not None},
                   None if add_bos is None else bool(add_bos),
                   not any(t.name == "output.weight" for t in reader.tensors))

    def align(self, tokenizer: Any) -> list[str]:
        """Make the tokenizer agree with the file; returns the fixes (UserError where it cannot)."""
        fixes = []
        for name, token_id in self.special.items():
            if getattr(tokenizer, f"{name}_id") != token_id:
                setattr(tokenizer, name, tokenizer.convert_ids_to_tokens(token_id))
                fixes.append(f"{name} = {getattr(tokenizer, name)!r}")
        if self.add_bos is not None and self._adds_bos(tokenizer) != self.add_bos:
            tokenizer.add_bos_token = self.add_bos
            fixes.append(f"add_bos_token = {self.add_bos}")
            if self._adds_bos(tokenizer) != self.add_bos:
                raise UserError(f"this transformers version reads the GGUF tokenizer wrongly (BOS added: "
                                f"{not self.add_bos}; the file says {self.add_bos})", "pip install -U transformers")
        return fixes

    def _adds_bos(self, tokenizer: Any) -> bool:
        bos = self.special.get("bos_token")
        return bos is not None and tokenizer("a").input_ids[:1] == [bos]


def _save(model: Any, tokenizer: Any, target: Path, marker: dict[str, Any]) -> bool:
    """Save into a temporary folder, then rename it to `target`; False if that failed."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        tmp.parent.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
        if target.exists() and read_marker(target) is None:
            shutil.rmtree(target)  # an older format, or an incomplete folder
        try:
            os.replace(tmp, target)
        except OSError:
            if read_marker(target) is None:  # not a concurrent conversion that got there first
                raise
        return True
    except (OSError, ValueError, RuntimeError) as exc:
        log.warning("could not save the converted model to %s (%s); the GGUF file will be converted "
                    "again next time", target, exc)
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
