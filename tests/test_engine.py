"""One experiment engine under every analysis: same tables on any executor, resumable stores, clear failures."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pytest
from typer.testing import CliRunner

import twinsim
from twinsim.analysis.compare import compare
from twinsim.analysis.decomposition import decompose
from twinsim.cli import app
from twinsim.errors import TwinsimError
from twinsim.experiments.engine import run
from twinsim.experiments.executors import check_address
from twinsim.experiments.experiment import Arm, Experiment
from twinsim.experiments.outputs import long_layout
from twinsim.experiments.store import load_results

RWANDA = twinsim.load_scenario("rwanda_tpn", {"simulation.followup_months": 2})
MODELS = ["rwanda_no_program", "rwanda_tpn", "rwanda_pairs"]


def _short(name: str):
    return twinsim.load_scenario(name, {"simulation.followup_months": 2})


def test_compare_and_decompose_give_the_same_tables_on_one_and_two_processes():
    scenarios = [_short(m) for m in MODELS]
    serial = compare(scenarios, replicates=6, seed=3)
    parallel = compare(scenarios, replicates=6, seed=3, executor=2)
    pd.testing.assert_frame_equal(serial.table(), parallel.table())
    pd.testing.assert_frame_equal(serial.replicate_table(), parallel.replicate_table())
    one = decompose(RWANDA, 6, seed=5)
    two = decompose(RWANDA, 6, seed=5, executor=2)
    pd.testing.assert_frame_equal(one.replicates, two.replicates)


def test_a_store_with_a_failed_run_is_one_table_for_pyarrow_and_duckdb(tmp_path, monkeypatch):
    from twinsim.experiments import engine

    real = engine.simulate_many

    def flaky(scenario, *args, seeds=(), **kwargs):
        if any(seq.spawn_key[-1] == 0 for seq in seeds):
            raise FloatingPointError("boom")
        return real(scenario, *args, seeds=seeds, **kwargs)

    monkeypatch.setattr(engine, "simulate_many", flaky)
    experiment = Experiment((Arm(RWANDA),), 4, 1, outputs=("summary", "trajectory"))
    table = run(experiment, store=tmp_path, errors="record", chunk_size=1)
    assert table["error"].notna().sum() == 1
    dataset = ds.dataset(tmp_path / "parts", format="parquet").to_table().to_pandas()
    assert len(dataset) == 4 and set(table.columns) <= set(dataset.columns)  # every declared column
    assert dataset.loc[dataset["error"].notna(), "mean_gain"].isna().all()
    duckdb = pytest.importorskip("duckdb")
    query = f"select count(*), count(mean_gain) from read_parquet('{tmp_path}/parts/*.parquet')"
    count = duckdb.connect().execute(query).fetchone()
    assert count == (4, 3)


def test_long_layout_has_one_row_per_run_and_output():
    experiment = Experiment((Arm(RWANDA),), 2, 1, outputs=("summary",))
    table = run(experiment)
    long = long_layout(table)
    assert list(long.columns) == ["point", "replicate", "output", "topic", "value"]
    row = long[(long["output"] == "selected_vs_not") & (long["topic"] == "accreditation")]
    assert row["value"].tolist() == table["selected_vs_not.accreditation"].tolist()
    assert long[long["output"] == "mean_gain"]["topic"].eq("").all()


@pytest.mark.parametrize(
    "address",
    ["", "garbage", "tcp://", "tcp://127.0.0.1", "tcp://127.0.0.1:0", "tcp://127.0.0.1:99999", "http://x:1",
     "udp://127.0.0.1:8786", "tcp://[::1:8786", "tcp://127.0.0.1:8786/path"],
)  # fmt: skip
def test_a_bad_scheduler_address_is_one_line_before_anything_is_written(tmp_path, address):
    with pytest.raises(TwinsimError, match="--scheduler"):
        check_address(address)
    store = tmp_path / "store"
    result = CliRunner().invoke(app, ["compare", *MODELS, "-r", "2", "--scheduler", address, "--store", str(store)])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and "--scheduler" in result.output
    assert not store.exists()


@pytest.mark.slow
def test_an_unreachable_scheduler_is_one_line_and_leaves_nothing(tmp_path):
    store = tmp_path / "store"
    start = time.monotonic()
    result = CliRunner().invoke(app, ["run", "rwanda_tpn", "-r", "2", "--scheduler", "tcp://127.0.0.1:9", "--store",
                                      str(store)])  # fmt: skip
    assert result.exit_code == 2 and "cannot connect" in result.output and result.output.count("\n") == 1
    assert not store.exists() and time.monotonic() - start < 30


def test_resume_needs_a_store():
    result = CliRunner().invoke(app, ["decompose", "rwanda_tpn", "-r", "2", "--resume"])
    assert result.exit_code == 2 and "--resume: needs --store" in result.output


def _kill_part_way(cmd: list[str], parts: Path, at_least: int) -> None:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while len(list(parts.rglob("part-*.parquet"))) < at_least and time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.parametrize(
    "command",
    [
        ["compare", *MODELS, "-r", "24", "--set", "simulation.followup_months=2"],
        ["decompose", "rwanda_tpn", "-r", "40", "--set", "simulation.followup_months=2"],
    ],
    ids=["compare", "decompose"],
)
def test_a_killed_analysis_resumes_to_the_uninterrupted_result(tmp_path, command):
    store = tmp_path / "store"
    base = [sys.executable, "-m", "twinsim", *command, "--seed", "4", "--json", "--quiet"]
    _kill_part_way([*base, "--store", str(store)], store, at_least=2)
    done = sum(len(load_results(m.parent)) for m in store.rglob("manifest.json"))
    resumed = subprocess.run([*base, "--store", str(store), "--resume"], capture_output=True, text=True, check=True)
    whole = subprocess.run(base, capture_output=True, text=True, check=True)
    assert json.loads(resumed.stdout) == json.loads(whole.stdout)
    total = sum(len(load_results(m.parent)) for m in store.rglob("manifest.json"))
    runs = 24 * 3 if command[0] == "compare" else 80
    assert 0 < done < runs and total == runs  # killed part-way; resumed without computing a run twice
    for manifest in store.rglob("manifest.json"):
        keys = load_results(manifest.parent)[["point", "replicate"]]
        assert not keys.duplicated().any()


BLOCK_TWINSIM = """
import sys
class _NoTwinsim:
    def find_spec(self, name, path=None, target=None):
        if name == "twinsim" or name.startswith("twinsim."):
            raise ModuleNotFoundError(f"No module named {name!r}")
sys.meta_path.insert(0, _NoTwinsim())
"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_worker_without_twinsim_is_one_line_and_exit_2_within_30_s(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(textwrap.dedent(BLOCK_TWINSIM))
    port = _free_port()
    bin_dir = Path(sys.executable).parent
    scheduler = subprocess.Popen(
        [str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    worker = subprocess.Popen(
        [str(bin_dir / "dask"), "worker", f"tcp://127.0.0.1:{port}", "--nthreads", "1", "--host", "127.0.0.1",
         "--no-dashboard"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        start = time.monotonic()
        cmd = [
            sys.executable,
            "-m",
            "twinsim",
            "run",
            "rwanda_tpn",
            "-r",
            "2",
            "--scheduler",
            f"tcp://127.0.0.1:{port}",
        ]
        result = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=60)
        elapsed = time.monotonic() - start
    finally:
        for proc in (worker, scheduler):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot run twinsim" in lines[0], result.stderr
    assert elapsed < 30


def test_run_through_the_engine_keeps_its_summaries(tmp_path):
    batch = twinsim.run_replicates(RWANDA, 4, seed=2)
    stored = twinsim.run_replicates(RWANDA, 4, seed=2, store=tmp_path / "s")
    pd.testing.assert_frame_equal(batch.summaries, stored.summaries)
    assert np.isfinite(batch.summaries["mean_gain"]).all()


def test_posterior_runs_sharing_a_parameter_set_run_together_with_the_same_results():
    from twinsim.experiments.posterior import load_posterior
    from twinsim.scenario import resolve_posterior

    posterior = load_posterior(resolve_posterior("rwanda_tpn"), RWANDA)
    experiment = Experiment((Arm(RWANDA),), 60, 3, posterior=posterior)
    rows = {experiment.draw_row(r) for r in range(60)}
    assert len(rows) < 60  # some replicates share a posterior row, so they run as one model
    pd.testing.assert_frame_equal(run(experiment), run(experiment, chunk_size=1))


@pytest.mark.slow
def test_compare_decompose_sensitivity_calibrate_identical_on_a_dask_cluster_of_two_real_workers(tmp_path):
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1 give the tables of a serial run."""
    from twinsim.analysis.calibration import calibrate, load_targets
    from twinsim.analysis.sensitivity import sensitivity
    from twinsim.scenario import resolve_targets

    port = _free_port()
    bin_dir = Path(sys.executable).parent
    procs = [
        subprocess.Popen(
            [str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
    ]  # fmt: skip
    address = f"tcp://127.0.0.1:{port}"
    for _ in range(2):
        procs.append(
            subprocess.Popen(
                [str(bin_dir / "dask"), "worker", address, "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            )
        )  # fmt: skip
    try:
        scenarios = [_short(m) for m in MODELS]
        pd.testing.assert_frame_equal(
            compare(scenarios, 4, seed=3).table(), compare(scenarios, 4, seed=3, executor=address).table()
        )
        pd.testing.assert_frame_equal(
            decompose(RWANDA, 4, seed=5).replicates, decompose(RWANDA, 4, seed=5, executor=address).replicates
        )
        plain = {"learning.forgetting": (0.0, 0.05), "programme.mentor_load_cap": [1, 3]}
        serial = sensitivity(RWANDA, plain, method="morris", samples=4, outputs=["mean_gain"])
        cluster = sensitivity(RWANDA, plain, method="morris", samples=4, outputs=["mean_gain"], workers=address)
        np.testing.assert_array_equal(serial.y, cluster.y)
        spec = load_targets(resolve_targets("rwanda_tpn"))
        smc = spec.smc.model_copy(update={"particles": 20, "min_ess": 5, "max_generations": 2})
        spec = spec.model_copy(update={"smc": smc, "predictive_draws": 0, "check_replicates": 0})
        one = calibrate(RWANDA, spec, 40)
        two = calibrate(RWANDA, spec, 40, engine={"executor": address})
        pd.testing.assert_frame_equal(one.design, two.design)
        pd.testing.assert_frame_equal(one.posterior.samples, two.posterior.samples)
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_parameter_share_is_the_between_set_part_of_the_variance():
    from twinsim.experiments.engine import parameter_share

    sets = np.repeat(np.arange(6), 4)
    assert parameter_share(pd.Series(np.tile([0.0, 1.0, 2.0, 3.0], 6)), pd.Series(sets)) == 0.0  # noise only
    assert parameter_share(pd.Series(sets * 1.0), pd.Series(sets)) == 1.0  # parameters only (no within-set spread)
    mixed = sets + np.tile([0.0, 0.5, 0.0, 0.5], 6)
    assert 0.9 < parameter_share(pd.Series(mixed), pd.Series(sets)) < 1.0
    assert np.isnan(parameter_share(pd.Series(mixed), pd.Series(np.arange(24))))  # no repeated sets
