"""Where codebudget keeps its cache (one root for data, models, reference timings) and
whether it may download into it.

`$CODEBUDGET_CACHE` if set, else `$XDG_CACHE_HOME/codebudget`, else `~/.cache/codebudget`.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_CACHE = "CODEBUDGET_CACHE"
ENV_OFFLINE = "CODEBUDGET_OFFLINE"


def cache_root() -> Path:
    root = os.environ.get(ENV_CACHE)
    if root:
        return Path(root).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "codebudget"


def cache_dir(kind: str) -> Path:
    """A subfolder of the cache root ("data", "models", "references", ...); may not exist yet."""
    return cache_root() / kind


def downloads_disabled() -> bool:
    """`$CODEBUDGET_OFFLINE` set to anything but empty/0/false/no forbids every download."""
    return os.environ.get(ENV_OFFLINE, "").strip().lower() not in ("", "0", "false", "no")
