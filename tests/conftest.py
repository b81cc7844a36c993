"""Shared test fixtures: paths to ../shared (skipped with a reason when absent) and real face images."""
import ast
import functools
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


# ---- pytest-xdist (the README's `-n 2`) ---------------------------------------------------------
# Module fixtures that train or build a model once for several tests, by module. The scheduler below
# sends the tests that use one (as an argument, or through another fixture of their module) to the
# same worker, so that it is made once, not once on each worker; `--dist loadgroup` would do this
# with markers, but xdist 3.8 cannot group under pytest 9 (it renames items, which pytest 9 ignores).
SHARED_FIXTURES = {"test_training": "default_run", "test_regressor_validation": "trained_run",
                   "test_jaanet_training": "trained", "test_label_control": "trained",
                   "test_jaanet_model": "paper_sized"}
# Started first (after the groups above), so that no test of a minute is left for the end.
SLOW_MODULES = ("test_training", "test_region_editor", "test_regressor_validation", "test_demo")


@functools.lru_cache
def _fixture_users(path: Path, fixture: str) -> frozenset[str]:
    """The module's functions that take `fixture`, directly or through the module's other fixtures."""
    arguments = {node.name: {arg.arg for arg in node.args.args}
                 for node in ast.parse(path.read_text()).body if isinstance(node, ast.FunctionDef)}
    users = {fixture}
    while more := {name for name, args in arguments.items() if args & users} - users:
        users |= more
    return frozenset(users)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getoption("dist") != "load":  # an explicit --dist other than load is the user's choice
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedFixtureScheduling(LoadScopeScheduling):
        """Load balancing test by test, except that the tests of a SHARED_FIXTURES fixture are one unit;
        the units go out largest group first, then those of SLOW_MODULES, then the rest in order."""

        def _split_scope(self, nodeid: str) -> str:
            path, _, name = nodeid.partition("::")
            fixture = SHARED_FIXTURES.get(Path(path).stem)
            if fixture and name.split("[")[0] in _fixture_users(config.rootpath / path, fixture):
                return f"{path}::{fixture}"
            return nodeid

        def _assign_work_unit(self, node):
            if not getattr(self, "_ordered", False):  # once, before the first unit goes out
                def rank(unit):
                    scope, tests = unit
                    return (-len(tests), Path(scope.partition("::")[0]).stem not in SLOW_MODULES)
                self.workqueue = type(self.workqueue)(sorted(self.workqueue.items(), key=rank))
                self._ordered = True
            super()._assign_work_unit(node)

    return SharedFixtureScheduling(config, log)
