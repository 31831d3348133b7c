"""Experiments at scale: seeding, executors, the result store, designs, sweeps and failures."""

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import twinsim
from twinsim.cli import app
from twinsim.errors import ScenarioError
from twinsim.experiments import engine as experiments
from twinsim.experiments.designs import build_design, parse_param
from twinsim.experiments.engine import RunError, run_points, run_replicates, run_seed
from twinsim.experiments.executors import DaskCluster, LocalProcesses
from twinsim.experiments.store import ResultStore, StoreError, atomic_write, load_results
from twinsim.experiments.sweep import sweep
from twinsim.model.results import simulate

SCENARIO = twinsim.load_scenario("rwanda_tpn")
PARAMS = ["learning.gap_ceiling=0.4,0.8", "programme.delivery_model=none,tpn_network"]


# ------------------------------------------------------------------------------------------ seeding


def test_run_points_keeps_its_contract_and_common_random_numbers():
    points = [{"learning.gap_ceiling": 0.4}, {"learning.gap_ceiling": 0.8}]
    table = run_points(SCENARIO, points, replicates=2, seed=7)
    assert list(table[["point", "replicate"]].itertuples(index=False, name=None)) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    leading = ["point", "learning.gap_ceiling", "replicate", "seed", "entropy", "spawn_key", "mean_gain"]
    assert list(table.columns[:7]) == leading and table.columns[-1] == "error"
    # Replicate r of every point runs with SeedSequence(seed, spawn_key=(r,)): the documented convention.
    assert (table["entropy"] == 7).all() and list(table["spawn_key"]) == ["0", "1", "0", "1"]
    expected = simulate(SCENARIO.with_overrides(points[1]), 7, 1).summary()
    row = table.iloc[3]
    for key, value in expected.items():
        assert row[key] == pytest.approx(value, nan_ok=True), key
    assert table["error"].isna().all()


def test_finished_models_are_released_so_memory_does_not_grow_with_runs():
    import mesa

    before = len(mesa.Agent._ids)
    run_points(SCENARIO, [{}, {"learning.gap_ceiling": 0.6}], replicates=2)
    twinsim.run_replicates(SCENARIO, replicates=2)
    assert len(mesa.Agent._ids) == before


def test_independent_streams_give_each_point_its_own_seed():
    assert run_seed(5, 3, 2, "independent").spawn_key == (3, 2)
    assert run_seed(5, 3, 2).spawn_key == (2,)
    table = run_points(SCENARIO, [{}, {}], replicates=1, seed=5, streams="independent")
    assert list(table["spawn_key"]) == ["0,0", "1,0"]
    # The same scenario at two points: identical under common numbers, different under independent streams.
    assert table["mean_gain"].iloc[0] != table["mean_gain"].iloc[1]
    common = run_points(SCENARIO, [{}, {}], replicates=1, seed=5)
    assert common["mean_gain"].iloc[0] == common["mean_gain"].iloc[1]


def test_result_does_not_depend_on_chunking_or_completion_order():
    whole = run_points(SCENARIO, [{}, {"learning.gap_ceiling": 0.5}], replicates=3, seed=2, chunk_size=6)
    pieces = run_points(SCENARIO, [{}, {"learning.gap_ceiling": 0.5}], replicates=3, seed=2, chunk_size=1)
    pd.testing.assert_frame_equal(whole, pieces)
    with ThreadPoolExecutor(2) as pool:  # a caller's own executor: used, and left open
        borrowed = run_points(SCENARIO, [{}, {"learning.gap_ceiling": 0.5}], replicates=3, seed=2, executor=pool)
        assert pool.submit(int, "7").result() == 7
    pd.testing.assert_frame_equal(whole, borrowed)


# ------------------------------------------------------------------------------------------ executors


def test_serial_two_processes_and_a_dask_local_cluster_give_identical_tables(tmp_path):
    runs = {}
    for name, executor in [
        ("serial", None),
        ("processes", LocalProcesses(2)),
        ("dask", DaskCluster(workers=2)),
    ]:
        summary = sweep(SCENARIO, PARAMS, replicates=2, seed=11, out=tmp_path / name, executor=executor, chunk_size=1)
        assert summary.to_dict()["done"] == 8 and summary.failed == 0
        runs[name] = load_results(tmp_path / name)
    assert len(runs["serial"]) == 8
    pd.testing.assert_frame_equal(runs["serial"], runs["processes"])
    pd.testing.assert_frame_equal(runs["serial"], runs["dask"])


def test_an_unknown_executor_is_a_user_error():
    with pytest.raises(twinsim.TwinsimError, match="executor"):
        run_points(SCENARIO, [{}], executor="quantum")


# ------------------------------------------------------------------------------------------ the store


def test_an_interrupted_write_leaves_no_file(tmp_path):
    target = tmp_path / "part.parquet"

    def half_then_crash(tmp):
        tmp.write_bytes(b"PAR1 half a file")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, half_then_crash)
    assert list(tmp_path.iterdir()) == []


def test_store_refuses_to_mix_experiments(tmp_path):
    sweep(SCENARIO, ["learning.gap_ceiling=0.5"], out=tmp_path, seed=1)
    with pytest.raises(StoreError, match="--resume"):
        sweep(SCENARIO, ["learning.gap_ceiling=0.5"], out=tmp_path, seed=1)
    with pytest.raises(StoreError, match="seed differs"):
        sweep(SCENARIO, ["learning.gap_ceiling=0.5"], out=tmp_path, seed=2, resume=True)
    again = sweep(SCENARIO, ["learning.gap_ceiling=0.5"], out=tmp_path, seed=1, replicates=3, resume=True)
    assert (again.done, again.skipped, again.runs) == (2, 1, 3)
    store = ResultStore(tmp_path)
    assert list(store.runs()["replicate"]) == [0, 1, 2]
    assert store.points().to_dict("records") == [{"point": 0, "learning.gap_ceiling": 0.5}]
    assert store.manifest["spawn_key"] == "(replicate,)" and store.manifest["seed"] == 1


def test_a_sweep_killed_part_way_and_resumed_equals_an_uninterrupted_sweep(tmp_path):
    args = ["learning.gap_ceiling=0.2:0.9:8", "programme.delivery_model=none,tpn_network"]
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "twinsim", "sweep", "rwanda_tpn", "--replicates", "5", "--seed", "3"]
    cmd += [f"--param={a}" for a in args] + ["--out", str(out), "--workers", "1", "--chunk-size", "1", "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(list((out / "parts").glob("part-*.parquet"))) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    stored = len(ResultStore(out).done())
    assert 3 <= stored < 80, "the sweep should be killed part-way"
    resumed = sweep("rwanda_tpn", args, replicates=5, seed=3, out=out, resume=True)
    assert (resumed.skipped, resumed.done, resumed.failed) == (stored, 80 - stored, 0)
    whole = sweep("rwanda_tpn", args, replicates=5, seed=3, out=tmp_path / "whole")
    pd.testing.assert_frame_equal(load_results(out), whole.table())
    assert not list((out / "parts").glob(".*"))


# ------------------------------------------------------------------------------------------ failures


def test_a_failing_run_is_recorded_and_the_others_go_on(tmp_path, monkeypatch):
    real = experiments.simulate_many

    def flaky(scenario, *args, seeds=(), **kwargs):
        hit = scenario.learning.gap_ceiling == 0.8 and scenario.programme.delivery_model != "none"
        if hit and any(seq.spawn_key[-1] == 1 for seq in seeds):
            raise FloatingPointError("boom")
        return real(scenario, *args, seeds=seeds, **kwargs)

    monkeypatch.setattr(experiments, "simulate_many", flaky)
    summary = sweep(SCENARIO, PARAMS, replicates=2, seed=4, out=tmp_path / "s")
    assert (summary.done, summary.failed) == (8, 1)
    table = summary.table()
    bad = table[table["error"].notna()]
    assert list(bad["error"]) == ["FloatingPointError: boom"]
    assert bad[["replicate", "seed", "spawn_key"]].to_dict("records") == [{"replicate": 1, "seed": 4, "spawn_key": "1"}]
    assert np.isnan(bad["mean_gain"].iloc[0]) and table["mean_gain"].notna().sum() == 7
    with pytest.raises(RunError, match="1 run\\(s\\) raised; first: point 3, replicate 1, seed 4"):
        run_points(SCENARIO, build_design(SCENARIO, PARAMS), replicates=2, seed=4, store=tmp_path / "p")
    assert len(load_results(tmp_path / "p")) == 8


# ------------------------------------------------------------------------------------------ designs


def test_values_and_ranges_parse():
    assert parse_param("learning.gap_ceiling=0.02:0.2:5").values == (0.02, 0.065, 0.11, 0.155, 0.2)
    assert parse_param("programme.delivery_model=none,tpn_network").values == ("none", "tpn_network")
    assert parse_param("a.b=1,2").values == (1, 2)
    assert parse_param("a.b=0:1").bounds == (0.0, 1.0)
    grid = build_design(SCENARIO, ["programme.twins_per_topic=1:3:3", "learning.gap_ceiling=0.5,0.9"])
    assert len(grid) == 6 and grid[-1] == {"programme.twins_per_topic": 3, "learning.gap_ceiling": 0.9}
    assert all(isinstance(p["programme.twins_per_topic"], int) for p in grid)
    with pytest.raises(ScenarioError, match="each key once"):
        build_design(SCENARIO, ["learning.gap_ceiling=0.5", "learning.gap_ceiling=0.6"])


def test_latin_hypercube_and_sobol_fill_their_bounds():
    lhs = build_design(SCENARIO, ["learning.gap_ceiling=0.2:0.6", "learning.forgetting"], "lhs", 10, seed=1)
    x = np.array([p["learning.gap_ceiling"] for p in lhs])
    # A Latin hypercube puts exactly one point in each of the N equal strata of every dimension.
    assert sorted(np.floor((x - 0.2) / 0.04).astype(int)) == list(range(10))
    lo, hi = twinsim.scenario.plausible_range("learning.forgetting")
    assert all(lo <= p["learning.forgetting"] <= hi for p in lhs)
    assert lhs == build_design(SCENARIO, ["learning.gap_ceiling=0.2:0.6", "learning.forgetting"], "lhs", 10, seed=1)
    sobol = build_design(SCENARIO, ["learning.gap_ceiling=0.2:0.6"], "sobol", 8, seed=1)
    assert len(sobol) == 8 and len({p["learning.gap_ceiling"] for p in sobol}) == 8


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--param", "learning.nope=1"), "unknown key 'learning.nope'"),
        (("--param", "learning.gap_ceiling=20"), "learning.gap_ceiling: Input should be less than or equal to 10"),
        (("--param", "learning.gap_ceiling=a:b:3"), "a range is LO:HI:N"),
        (("--param", "learning.gap_ceiling"), "a grid needs values"),
        (("--param", "learning.gap_ceiling=0.2:0.5", "--design", "sobol", "--samples", "6"), "power of two"),
        (("--param", "learning.gap_ceiling=0.5", "--design", "halton"), "--design"),
        (("--param", "learning.gap_ceiling=0.5", "--streams", "shared"), "--streams"),
        (("--param", "learning.gap_ceiling=0.5", "--seed", "-1"), "--seed"),
        (("--param", "learning.gap_ceiling=0.5", "--scheduler", "tcp://127.0.0.1:1", "--workers", "2"), "--workers"),
    ],
)
def test_sweep_mistakes_give_one_line_and_exit_2(tmp_path, args, expected):
    res = CliRunner().invoke(app, ["sweep", "rwanda_tpn", "--out", str(tmp_path / "s"), *args])
    assert res.exit_code == 2, res.output
    assert expected in res.stderr
    assert "Traceback" not in res.output and len(res.stderr.strip().splitlines()) == 1


def test_sweep_json_summary(tmp_path):
    args = ["sweep", "rwanda_tpn", "--param", "learning.gap_ceiling=0.5,0.7", "-r", "2", "--workers", "1"]
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {
        "store": str(tmp_path),
        "design_points": 2,
        "replicates": 2,
        "runs": 4,
        "done": 4,
        "skipped": 0,
        "failed": 0,
        "retryable": 0,
    }
    again = CliRunner().invoke(app, [*args, "--out", str(tmp_path), "--resume", "--json"])
    assert json.loads(again.stdout)["skipped"] == 4 and json.loads(again.stdout)["done"] == 0
    assert Path(tmp_path / "manifest.json").is_file()


def test_errors_record_returns_failed_rows_in_memory(monkeypatch):
    def broken(scenario, *args, **kwargs):
        raise ValueError("no convergence")

    monkeypatch.setattr(experiments, "simulate_many", broken)
    table = run_points(SCENARIO, [{}], replicates=2, seed=9, errors="record")
    assert list(table["error"]) == ["ValueError: no convergence"] * 2
    assert list(table["spawn_key"]) == ["0", "1"] and (table["seed"] == 9).all()


@pytest.mark.slow
def test_sweep_on_an_existing_dask_scheduler(tmp_path):
    from dask.distributed import LocalCluster

    args = ["sweep", "rwanda_tpn", "--param", "learning.gap_ceiling=0.5,0.7", "-r", "2", "--json"]
    with LocalCluster(n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster:
        res = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "d"), "--scheduler", cluster.scheduler_address])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["done"] == 4
    serial = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "s"), "--workers", "1"])
    assert serial.exit_code == 0, serial.output
    pd.testing.assert_frame_equal(load_results(tmp_path / "d"), load_results(tmp_path / "s"))


def test_replicates_without_a_store_raise_naming_the_first_failed_run(monkeypatch):
    real = experiments.simulate_many

    def flaky(scenario, *args, seeds=(), **kwargs):
        if any(seq.spawn_key[-1] in {3, 5} for seq in seeds):
            raise FloatingPointError("boom")
        return real(scenario, *args, seeds=seeds, **kwargs)

    monkeypatch.setattr(experiments, "simulate_many", flaky)
    with pytest.raises(RunError, match=r"2 run\(s\) raised; first: point 0, replicate 3, seed 4 .*boom"):
        run_replicates(SCENARIO, 6, 4)


def test_an_out_of_range_design_point_is_named_before_any_run():
    points = [{"learning.gap_ceiling": 0.5, "learning.forgetting": 0.01} for _ in range(3)]
    points[2] = {"learning.gap_ceiling": -7.0, "learning.forgetting": 0.01}
    with pytest.raises(ScenarioError, match=r"design point 2: learning\.gap_ceiling: .*greater than 0 \(got -7\.0\)"):
        run_points(SCENARIO, points, replicates=1, seed=1)
    points[2] = {"learning.gap_ceiling": 0.5, "learning.forgetting": 2.0}
    with pytest.raises(ScenarioError, match=r"design point 2: learning\.forgetting"):
        run_points(SCENARIO, points, replicates=1, seed=1)


def test_the_local_dask_cluster_lets_no_other_process_in():
    """--scheduler local: TLS with a temporary certificate authority; another client (own certificates, or none) is
    refused, so it cannot run code on the workers (issue 27)."""
    import subprocess
    import sys

    with DaskCluster(workers=1).open() as handle:
        address = handle.label.rsplit(" ", 1)[1]
        assert address.startswith("tls://127.0.0.1:")
        assert handle.executor.submit(pow, 2, 5).result() == 32  # our own client works
        intruder = (
            "import sys\n"
            "from dask.distributed import Client\n"
            "from dask.distributed import Security\n"
            "tries = ((sys.argv[1], Security.temporary()), (sys.argv[1].replace('tls', 'tcp'), None))\n"
            "for address, security in tries:\n"
            "    try:\n"
            "        Client(address, timeout='3s', security=security).submit(pow, 2, 5).result(timeout=5)\n"
            "        print('CONNECTED', address)\n"
            "    except Exception as exc:\n"
            "        print('refused', type(exc).__name__)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", intruder, address], check=False, capture_output=True, text=True, timeout=60
        )
    assert "CONNECTED" not in out.stdout and out.stdout.count("refused") == 2, out.stdout + out.stderr


def test_a_cluster_without_workers_ends_the_run_with_one_error(monkeypatch):
    """Every worker lost (or the scheduler): not a wait without end but WorkerLostError (exit 2) in a stated time."""
    import concurrent.futures as cf
    import time

    from twinsim.experiments import executors
    from twinsim.experiments.failures import WorkerLostError

    class Abandoned(cf.Executor):
        def submit(self, fn, /, *args, **kwargs):
            return cf.Future()  # never runs: its worker is gone

        def workers_alive(self):
            return False

    monkeypatch.setattr(executors, "WATCH_SECONDS", 0.05)
    monkeypatch.setattr(executors, "WORKER_LOSS_SECONDS", 0.3)
    start = time.monotonic()
    with pytest.raises(WorkerLostError, match=r"no worker \(or no scheduler\) for 0.3 s"):
        list(executors.imap_unordered(Abandoned(), pow, [(2, 3)], 2))
    assert time.monotonic() - start < 2


_LONG_SWEEP = ["sweep", "rwanda_tpn", "--param", "learning.gap_ceiling=0.2:0.9:400", "-r", "20", "-q"]


def _sweep_until_killed(tmp_path, address, kill):
    """Start a long sweep on the cluster at ``address``; once a part is on disk, ``kill()``; (exit code, stderr, s)."""
    import subprocess
    import sys
    import time

    sweep = subprocess.Popen(
        [sys.executable, "-m", "twinsim", *_LONG_SWEEP, "--out", "out", "--scheduler", address],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    while not list((tmp_path / "out" / "parts").glob("*")) and sweep.poll() is None:
        time.sleep(0.2)
    kill()
    started = time.monotonic()
    _, err = sweep.communicate(timeout=120)
    return sweep.returncode, err, time.monotonic() - started


_SCHEDULER = """
import time
from dask.distributed import LocalCluster
if __name__ == "__main__":
    cluster = LocalCluster(n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address=None)
    print(cluster.scheduler_address, flush=True)
    time.sleep(600)
"""


@pytest.mark.slow
def test_a_lost_scheduler_is_one_line_exit_2_and_the_finished_runs_resume(tmp_path):
    """Kill the scheduler mid-sweep: one line naming it, exit 2, after the client's 10 s reconnect; --resume ends it."""
    import subprocess
    import sys

    (tmp_path / "scheduler.py").write_text(_SCHEDULER)
    scheduler = subprocess.Popen([sys.executable, "scheduler.py"], cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    address = scheduler.stdout.readline().strip()
    code, err, waited = _sweep_until_killed(tmp_path, address, scheduler.kill)
    assert code == 2, err
    assert waited < 40
    lines = [line for line in err.splitlines() if line]
    assert lines == [lines[0]] and "the Dask scheduler was lost" in lines[0] and "--resume" in lines[0]
    done = subprocess.run(
        [sys.executable, "-m", "twinsim", *_LONG_SWEEP, "--out", "out", "--resume", "--workers", "2", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    table = load_results(tmp_path / "out")
    assert len(table) == 8000 and not table.duplicated(["point", "replicate"]).any()
    assert json.loads(done.stdout)["done"] < 8000  # the runs finished before the loss were kept, not run again


_SCHEDULER_ONLY = """
import asyncio
from distributed import Scheduler
async def main():
    async with Scheduler(host="127.0.0.1", port=0, dashboard_address=None) as scheduler:
        print(scheduler.address, flush=True)
        await scheduler.finished()
if __name__ == "__main__":
    asyncio.run(main())
"""


@pytest.mark.slow
def test_a_cluster_whose_only_worker_is_killed_ends_in_one_line_within_the_stated_time(tmp_path):
    """A real scheduler and a worker without a nanny; kill the worker mid-sweep: one line, exit 2, within 30 s + 15."""
    import subprocess
    import sys

    (tmp_path / "scheduler.py").write_text(_SCHEDULER_ONLY)
    scheduler = subprocess.Popen([sys.executable, "scheduler.py"], cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    address = scheduler.stdout.readline().strip()
    worker = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1", "--no-nanny"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        code, err, waited = _sweep_until_killed(tmp_path, address, worker.kill)
    finally:
        scheduler.kill()
        worker.kill()
    assert code == 2, err
    assert waited < 45
    lines = [line for line in err.splitlines() if line]
    assert len(lines) == 1 and "no worker (or no scheduler) for 30 s" in lines[0] and "--resume" in lines[0]
