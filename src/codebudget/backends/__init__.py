"""Inference engines behind one protocol (see base.py), loaded lazily by name.

Heavy engines are optional extras; asking for one that is not installed is a UserError
naming the extra to install, never an ImportError traceback.
"""

from __future__ import annotations

import importlib
from typing import Any

from codebudget.backends.base import Backend, Decoding, Generation, Request
from codebudget.errors import UserError

# name -> (module, class, pip extra, import that proves the engine is installed)
_ENGINES: dict[str, tuple[str, str, str, str]] = {
    "llamacpp": ("codebudget.backends.llamacpp", "LlamaCppBackend", "llamacpp", "llama_cpp"),
    "transformers": ("codebudget.backends.hf_transformers", "TransformersBackend", "transformers", "transformers"),
    "vllm": ("codebudget.backends.vllm_engine", "VLLMBackend", "vllm", "vllm"),
    "openai": ("codebudget.backends.openai_api", "OpenAIBackend", "openai", "openai"),
}

__all__ = ["Backend", "Decoding", "Generation", "Request", "backend_names", "load_backend"]


def backend_names() -> list[str]:
    return list(_ENGINES)


def load_backend(name: str, **options: Any) -> Backend:
    """Instantiate a backend by name with engine options (model path, device, ...)."""
    if name not in _ENGINES:
        raise UserError(f"unknown backend {name!r}", f"choose one of: {', '.join(_ENGINES)}")
    module, cls, extra, probe = _ENGINES[name]
    try:
        importlib.import_module(probe)
    except ImportError as exc:
        raise UserError(f"the {name} backend needs {probe!r}, which is not installed ({exc})",
                        f"pip install 'codebudget[{extra}]'") from None
    return getattr(importlib.import_module(module), cls)(**options)  # type: ignore[no-any-return]
