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
        return _valid_unicode(str(value))
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _valid_unicode(content):
    """`content` with every string writable as strict JSON: a file name whose bytes are not UTF-8
    reaches Python with lone surrogates, which JSON would carry as escapes (`\\udcff`) that strict
    readers reject; they are written as that text instead (a backslash, then `udcff`)."""
    if isinstance(content, str):
        return content.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(content, dict):
        return {_valid_unicode(key): _valid_unicode(value) for key, value in content.items()}
    if isinstance(content, (list, tuple)):
        return [_valid_unicode(value) for value in content]
    return content


def write_json_atomic(path: str | Path, content) -> Path:
    """Readers see the old file or the complete new one, never half of it: written to a temporary
    file beside it (named per process, so two writers do not share one), then renamed over it.
    Strict JSON even for names that are not UTF-8 (see _valid_unicode)."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with naming_path(path):
            temporary.write_text(json.dumps(_valid_unicode(content), indent=1, default=_json_default) + "\n")
            os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path
