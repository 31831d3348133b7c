"""The release build holds the whole package: ``python -m build`` gives an sdist and, built from it, a wheel with every
module and every bundled scenario, posterior and targets file.

.ci/run goes further: it installs that wheel into a fresh virtual environment outside the checkout and runs
``twinsim run`` and ``twinsim compare`` of the bundled scenarios there.
"""

import subprocess
import sys
import tarfile
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

pytest.importorskip("build")

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "twinsim"


def _package_files() -> set[str]:
    """Every file of the package in the checkout, relative to ``src/`` (``twinsim/scenarios/rwanda_tpn.toml``)."""
    return {
        p.relative_to(PACKAGE.parent).as_posix()
        for p in PACKAGE.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # Without --sdist/--wheel, build makes the sdist and then the wheel from the unpacked sdist, as a release does.
    done = subprocess.run(
        [sys.executable, "-m", "build", "-o", str(out), str(ROOT)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def test_the_package_has_bundled_files_to_check():
    files = _package_files()
    assert "twinsim/scenarios/rwanda_tpn.toml" in files
    assert "twinsim/scenarios/targets/rwanda_tpn.toml" in files
    assert "twinsim/scenarios/posteriors/rwanda_tpn/posterior.csv" in files
    assert "twinsim/scenarios/posteriors/rwanda_tpn/posterior_predictive.png" in files


def test_the_sdist_holds_every_package_file(dist):
    (sdist,) = dist.glob("twinsim-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
    top = names[0].split("/")[0]
    held = {n.removeprefix(f"{top}/src/") for n in names if n.startswith(f"{top}/src/")}
    assert _package_files() <= held, sorted(_package_files() - held)
    # the top-level `scenarios` link is left out: the files are held once, where the package finds them
    assert not [n for n in names if n.startswith(f"{top}/scenarios/")]


def test_the_wheel_built_from_the_sdist_holds_every_package_file(dist):
    (wheel,) = dist.glob("twinsim-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        held = set(archive.namelist())
    assert _package_files() <= held, sorted(_package_files() - held)


def test_declared_python_versions_are_the_tested_ones(dist):
    """The classifiers name the Python versions CI runs: the one running these tests, and no other."""
    (wheel,) = dist.glob("twinsim-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        message = Parser().parsestr(archive.read(metadata).decode())
    prefix = "Programming Language :: Python :: "
    declared = {c.removeprefix(prefix) for c in message.get_all("Classifier") if c.startswith(prefix)}
    declared = {v for v in declared if v[:1].isdigit() and "." in v}
    assert declared == {f"{sys.version_info.major}.{sys.version_info.minor}"}
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == f">={min(declared)}"
