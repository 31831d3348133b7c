"""The package type-checks: mypy is configured in pyproject.toml, installed by the test extra and run by CI."""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_is_configured_installed_and_run_by_ci():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    config = project["tool"]["mypy"]
    assert config["python_version"] == "3.11" and config["packages"] == ["twinsim"]
    assert config["check_untyped_defs"] and config["warn_unused_ignores"]
    assert any(req.startswith("mypy") for req in project["project"]["optional-dependencies"]["test"])
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    pytest_line = next(i for i, line in enumerate(lines) if line.endswith("-m pytest"))
    assert lines[pytest_line + 1 :].index(".venv/bin/mypy") < 3  # right after the tests


@pytest.mark.slow
def test_mypy_reports_no_errors_on_src():
    if shutil.which("mypy", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("mypy is not installed (pip install -e '.[test]')")
    res = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert res.returncode == 0, res.stdout[-3000:]
    assert "Success: no issues found" in res.stdout
