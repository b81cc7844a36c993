"""The one way JSON outputs are written (manifests, sidecars, results.json, a logdir's config.json)."""
from __future__ import annotations

import json
import os
from pathlib import Path

from lac_gan.errors import naming_path


def _json_default(value):
    if hasattr(value, "item"):  # NumPy scalars
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def write_json_atomic(path: str | Path, content) -> Path:
    """Readers see the old file or the complete new one, never half of it: written to a temporary
    file beside it (named per process, so two writers do not share one), then renamed over it."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with naming_path(path):
            temporary.write_text(json.dumps(content, indent=1, default=_json_default) + "\n")
            os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path
