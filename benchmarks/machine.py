"""What every benchmark prints beside its figures: the CPU (model name and the flags that pick
TensorFlow's kernels) and whether oneDNN is in effect."""
from __future__ import annotations

import os
from pathlib import Path


def cpu_description() -> str:
    model, flag_set = "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model == "unknown":
                model = value.strip()
            elif key.strip() == "flags" and not flag_set:
                flag_set = set(value.split())
    except OSError:
        pass
    marks = ", ".join(f"{f} {'yes' if f in flag_set else 'no'}" for f in ("avx512f", "avx2", "avx512_bf16", "amx_tile"))
    return f'"{model}" ({marks})'


def onednn_description() -> str:
    env = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    try:
        from tensorflow.python.util import _pywrap_util_port
        effective = "on" if _pywrap_util_port.IsMklEnabled() else "off"
    except (ImportError, AttributeError):
        effective = "unknown (no _pywrap_util_port.IsMklEnabled)"
    return f"TF_ENABLE_ONEDNN_OPTS={'unset' if env is None else env!r}, oneDNN {effective} (IsMklEnabled())"


def machine() -> str:
    """CPU count (nproc), model and kernel-picking flags, for benchmark JSON."""
    return f"{os.cpu_count()} CPUs (nproc), {cpu_description()}"
