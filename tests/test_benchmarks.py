"""Every benchmark script still runs against the current API (its --help imports everything it uses)."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parent.parent / "benchmarks"
SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("*.py") if p.name not in {"common.py", "reference_model.py"})


def test_there_are_benchmarks():
    assert {"bench_rwanda.py", "bench_scaling.py", "bench_engine.py", "bench_sweep.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_script_imports_and_parses_its_options(script):
    result = subprocess.run(
        [sys.executable, script, "--help"], check=False, cwd=BENCHMARKS, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage" in result.stdout
