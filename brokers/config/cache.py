"""Where derived data is cached (``$XDG_CACHE_HOME/broker-scaffolder``), and how it is written.

The compiled schema validator, ccxt's metadata answers and compiled templates live there; all
of it can be rebuilt, so a cache that cannot be written only costs time.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/broker-scaffolder`` (``~/.cache/broker-scaffolder``): derived data only."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "broker-scaffolder"


def write_cache_file(path: Path, text: str) -> bool:
    """Write derived data under :func:`cache_dir` atomically; False (nothing left behind) when
    the cache cannot be written: a read-only home still works, just without the cache."""
    import tempfile

    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp"
        ) as handle:
            tmp = handle.name
            handle.write(text)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        return False
    return True
