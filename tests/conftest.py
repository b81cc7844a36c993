"""Shared test fixtures: paths to ../shared (skipped with a reason when absent) and real face images."""
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: the shared fixtures live beside the repository")
    return SHARED


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """A real public-domain face photo bundled with scikit-image (512x512 RGB uint8)."""
    from skimage import data
    return data.astronaut()
