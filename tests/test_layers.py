"""The import contracts of `.importlinter` hold, and break on a new upward import, a cycle,
core importing a module, or one module reaching into another's private parts."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    # The copy comes first on the path, before the installed (editable) package.
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    return subprocess.run(  # noqa: S603 - our own tool, on our own copy
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the package, the contracts and their custom contract type."""
    tree = tmp_path_factory.mktemp("layers")
    shutil.copytree(
        ROOT / "src" / "iwm", tree / "src" / "iwm", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(ROOT / "tools", tree / "tools", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tree / ".importlinter")
    return tree


@pytest.fixture
def tree(pristine: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "tree"
    shutil.copytree(pristine, copy)
    return copy


def add_import(tree: Path, module: str, line: str) -> None:
    path = tree / "src" / Path(*module.split(".")).with_suffix(".py")
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")


def test_the_contracts_hold_on_the_code_as_it_is(tree: Path) -> None:
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # A lower domain importing a higher one.
        (
            "iwm.modules.users.service",
            "from iwm.modules.kiosks.models import Kiosk",
            "domain layers",
        ),
        # Two modules of one layer importing each other.
        (
            "iwm.modules.ledger.service",
            "from iwm.modules.products.models import Product",
            "domain layers",
        ),
        # A cycle inside one module.
        (
            "iwm.modules.kiosks.models",
            "import iwm.modules.kiosks.service",
            "no package cycles",
        ),
        ("iwm.core.money", "import iwm.modules.users.models", "core imports no module"),
        # Another module's repository, a non-public part, a private name.
        (
            "iwm.modules.scheduler.jobs",
            "from iwm.modules.admin_views.repository import UserFilters",
            "public surface",
        ),
        (
            "iwm.modules.payouts.service",
            "from iwm.modules.network.router import router",
            "public surface",
        ),
        (
            "iwm.modules.payouts.service",
            "from iwm.modules.network.service import _Stmt",
            "public surface",
        ),
    ],
)
def test_a_bad_import_breaks_a_contract(tree: Path, module: str, line: str, broken: str) -> None:
    add_import(tree, module, line)
    result = lint_imports(tree)
    assert result.returncode != 0
    report = result.stdout.split("Broken contracts", 1)[-1]
    assert broken in report, result.stdout
