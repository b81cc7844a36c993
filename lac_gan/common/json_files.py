"""The one way JSON and small text outputs are written (manifests, sidecars, results.json, a logdir's
config.json, the labeller's CSVs): whole or not at all, in strict UTF-8."""
from __future__ import annotations

import json
import os
from pathlib import Path

from lac_gan.common.errors import naming_path


def _json_default(value):
    if hasattr(value, "item"):  # NumPy scalars
        return value.item()
    if isinstance(value, Path):
        return valid_unicode(str(value))
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def valid_unicode(content):
    """`content` with every string writable as strict JSON: a file name whose bytes are not UTF-8
    reaches Python with lone surrogates, which JSON would carry as escapes (`\\udcff`) that strict
    readers reject; they are written as that text instead (a backslash, then `udcff`)."""
    if isinstance(content, str):
        return content.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(content, dict):
        return {valid_unicode(key): valid_unicode(value) for key, value in content.items()}
    if isinstance(content, (list, tuple)):
        return [valid_unicode(value) for value in content]
    return content


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Readers see the old file or the complete new one, never half of it: written to a temporary
    file beside it (named per process, so two writers do not share one), then renamed over it; a
    write error names `path`."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with naming_path(path):
            temporary.write_text(text)
            os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def write_json_atomic(path: str | Path, content) -> Path:
    """`content` as JSON by write_text_atomic; strict JSON even for names that are not UTF-8 (see
    valid_unicode)."""
    return write_text_atomic(path, json.dumps(valid_unicode(content), indent=1, default=_json_default) + "\n")
