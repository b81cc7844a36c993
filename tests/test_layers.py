"""The package's layers are checked, not hoped for: `lint-imports` keeps pyproject.toml's contract
(lac_gan/__init__.py and README's "Layout" draw the layers), and fails when a lower layer imports a
higher one."""
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    command = [str(LINT_IMPORTS)] if LINT_IMPORTS.exists() else [shutil.which("lint-imports")]
    return subprocess.run(command + ["--no-cache"], cwd=root, capture_output=True, text=True, timeout=120)


def test_the_import_contract_holds():
    result = lint_imports(REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    """The contract has teeth: the same tree with the data layer importing the trainer is refused."""
    for name in ("lac_gan", "tfrecords_tools"):
        shutil.copytree(REPO_ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "resources"))
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path)
    au_table = tmp_path / "lac_gan" / "data" / "au_table.py"
    au_table.write_text(au_table.read_text() + "\nfrom lac_gan.training import loop  # noqa: E402\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "lac_gan.data is not allowed to import lac_gan.training" in result.stdout


def test_lac_gan_top_level_holds_only_subpackages_the_face_and_the_cli():
    package = REPO_ROOT / "lac_gan"
    modules = {p.name for p in package.glob("*.py")}
    assert modules == {"__init__.py", "__main__.py", "cli.py"}
    subpackages = {p.parent.name for p in package.glob("*/__init__.py")}
    assert subpackages == {"common", "data", "nets", "training", "evaluation", "jaanet", "product", "commands"}


def test_the_readme_python_names_keep_working():
    import lac_gan
    import lac_gan.training
    from lac_gan.data import dataset
    from lac_gan.nets import synthesis
    from lac_gan.training import loop
    assert lac_gan.synthesis.load_synthesizer is synthesis.load_synthesizer
    assert lac_gan.dataset.fold_files is dataset.fold_files
    assert lac_gan.dataset.make_dataset is dataset.make_dataset
    assert lac_gan.training.validate_checkpoint is loop.validate_checkpoint
