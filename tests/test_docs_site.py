"""The documentation site builds (slow), its copied figures are current, and the tutorial's commands run."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from twinsim.cli import app

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = (ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8")


def test_posterior_predictive_figure_in_docs_is_the_bundled_one():
    bundled = ROOT / "src" / "twinsim" / "scenarios" / "posteriors" / "rwanda_tpn" / "posterior_predictive.png"
    copy = ROOT / "docs" / "figures" / "calibration_posterior_predictive.png"
    assert copy.read_bytes() == bundled.read_bytes(), f"refresh: cp {bundled} {copy}"


def test_tutorial_variant_file_and_commands_run(tmp_path, monkeypatch):
    toml = re.search(r"```toml\n(.*?)```", TUTORIAL, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "two_twins.toml").write_text(toml)
    runner = CliRunner()
    commands = [
        ["validate", "two_twins.toml"],
        ["compare", "rwanda_no_program", "rwanda_tpn", "two_twins", "-r", "2", "-q", "--out", "out/two_twins"],
        ["run", "rwanda_tpn", "-r", "2", "-q", "--set", "programme.matching=most_similar"],
    ]
    for args in commands:
        res = runner.invoke(app, args)
        assert res.exit_code == 0, (args, res.output)
    assert (tmp_path / "out" / "two_twins" / "ce_plane.png").is_file()
    typo = runner.invoke(app, ["run", "rwanda_tpn", "--set", "programme.twin_per_topic=2"])
    assert typo.exit_code == 2


@pytest.mark.slow
def test_documentation_site_builds_strictly(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent))
    assert mkdocs, "install the docs extra: pip install -e '.[docs]'"
    site = tmp_path / "site"
    res = subprocess.run(
        [mkdocs, "build", "--strict", "-f", str(ROOT / "mkdocs.yml"), "-d", str(site)],
        capture_output=True,
        text=True,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": str(Path(sys.executable).parent)},
        check=False,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "twin_per_topic" in (site / "tutorial" / "index.html").read_text()
    api = (site / "api" / "index.html").read_text()
    for text in ("Draw the partnership network of a run", "plain Python arguments", "ci95_low"):
        assert text in api
