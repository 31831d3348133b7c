"""The result store keeps every column, proves what it holds, retries what can pass (issue 27)."""

from __future__ import annotations

import errno
import shutil
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool

import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import twinsim
from twinsim.cli import app
from twinsim.errors import TwinsimError
from twinsim.experiments import engine, read_panels
from twinsim.experiments.engine import ResourceError, run, run_points
from twinsim.experiments.executors import ExecutorHandle, SerialExecutor
from twinsim.experiments.experiment import Arm, Experiment
from twinsim.experiments.failures import WorkerLostError, retryable
from twinsim.experiments.store import ResultStore, StoreError, load_results
from twinsim.experiments.sweep import sweep
from twinsim.model.results import simulate_many

SHORT = {"simulation.followup_months": 2}
TPN = twinsim.load_scenario("rwanda_tpn", SHORT)
COMPARE = ["compare", "rwanda_no_program", "rwanda_tpn", "rwanda_pairs", "-r", "4", "--seed", "3"]


def _outputs(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# ------------------------------------------------------------------ every column, whatever finished first


def test_compare_writes_the_same_files_with_and_without_a_store_and_after_a_resume(tmp_path):
    runner = CliRunner()
    plain = runner.invoke(app, [*COMPARE, "--out", str(tmp_path / "plain")])
    assert plain.exit_code == 0, plain.output
    stored = runner.invoke(app, [*COMPARE, "--store", str(tmp_path / "S"), "--out", str(tmp_path / "stored")])
    assert stored.exit_code == 0, stored.output
    expected = _outputs(tmp_path / "plain")
    assert len(pd.read_csv(tmp_path / "plain" / "costs_by_activity.csv")) >= 5  # activities of two programmes
    assert _outputs(tmp_path / "stored") == expected

    # interrupted: only the parts of the arm without a programme survive (the narrowest part, as if it finished
    # first and the run was killed); the resume must neither lose columns nor rewrite that part
    parts = sorted((tmp_path / "S").rglob("part-*.parquet"))
    keep = [p for p in parts if "cost.kickoff_workshop.total_cost" not in _reported(p)]
    assert keep and len(keep) < len(parts)
    for part in set(parts) - set(keep):
        part.unlink()
    before = {p: p.read_bytes() for p in keep}
    resumed = runner.invoke(
        app, [*COMPARE, "--store", str(tmp_path / "S"), "--resume", "--out", str(tmp_path / "resumed")]
    )
    assert resumed.exit_code == 0, resumed.output
    assert _outputs(tmp_path / "resumed") == expected
    assert all(p.read_bytes() == data for p, data in before.items())  # never rewritten
    widths = {len(pq.read_schema(p).names) for p in (tmp_path / "S").rglob("part-*.parquet")}
    assert len(widths) == 1  # every part of a store has every declared column


def _reported(part) -> set[str]:
    import json

    return set(json.loads(pq.read_schema(part).metadata[b"twinsim"])["dtypes"])


def test_a_sweep_keeps_a_column_the_first_finished_part_lacks(tmp_path):
    params = ["programme.delivery_model=none,tpn_network"]
    sweep(TPN, params, out=tmp_path / "S", replicates=3, seed=2, chunk_size=1)  # part by part, 'none' first
    table = load_results(tmp_path / "S")
    assert table.loc[table["point"] == 1, "unmatched_share"].notna().all()
    assert table.loc[table["point"] == 0, "unmatched_share"].isna().all()
    plain = run_points(TPN, [{"programme.delivery_model": v} for v in ("none", "tpn_network")], 3, 2)
    pd.testing.assert_frame_equal(table.drop(columns="error"), plain.drop(columns="error"), check_dtype=True)
    dataset = ds.dataset(tmp_path / "S" / "parts", format="parquet").to_table()
    assert "unmatched_share" in dataset.column_names and dataset.num_rows == 6


def test_the_declared_columns_cover_what_every_family_reports():
    families = ("summary", "trajectory", "costs", "institution_cost", "evaluation", "measured")
    for name in ("rwanda_tpn", "rwanda_pairs", "rwanda_external_experts", "rwanda_north_south", "rwanda_hybrid"):
        scenario = twinsim.load_scenario(name, SHORT)
        experiment = Experiment((Arm(scenario),), 2, 1, outputs=families)
        declared = [c for c, _ in engine.store_columns(experiment)]
        table = run(experiment)
        assert set(table.columns) <= set(declared), name
        assert [c for c in declared if c in table.columns] == list(table.columns), name  # the same order


def test_a_column_the_declaration_missed_widens_the_store(tmp_path, monkeypatch):
    real = engine.run_outputs
    monkeypatch.setattr(engine, "run_outputs", lambda result, families: {**real(result, families), "extra": 1.5})
    experiment = Experiment((Arm(TPN),), 3, 1)
    table = run(experiment, store=tmp_path, chunk_size=1)
    assert table["extra"].tolist() == [1.5] * 3
    assert {"extra" in pq.read_schema(p).names for p in (tmp_path / "parts").glob("*.parquet")} == {True}


# ------------------------------------------------------------------ a store that proves what it holds


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "S"
    sweep(TPN, ["learning.gap_ceiling=0.4,0.8"], out=path, replicates=2, seed=1, chunk_size=2)
    return path


def test_every_single_byte_flip_of_a_part_is_one_error_naming_it(small_store, tmp_path):
    store = tmp_path / "S"
    shutil.copytree(small_store, store)
    expected = load_results(store)
    part = sorted((store / "parts").glob("part-*.parquet"))[0]
    data = part.read_bytes()
    offsets = sorted({0, 1, 3, 4, 8, 50, 200, len(data) // 3, len(data) // 2, len(data) - 200, len(data) - 9,
                      len(data) - 5, len(data) - 2, len(data) - 1})  # fmt: skip
    caught = 0
    for offset in offsets:
        flipped = bytearray(data)
        flipped[offset] ^= 0x01
        part.write_bytes(bytes(flipped))
        with pytest.raises(StoreError, match=part.name) as info:
            load_results(store)
        assert "damaged" in str(info.value) and "\n" not in str(info.value)
        caught += 1
    assert caught == len(offsets) == 14
    part.write_bytes(data)
    pd.testing.assert_frame_equal(load_results(store), expected)


def test_a_part_of_another_experiment_is_refused_by_name(small_store, tmp_path):
    store, other = tmp_path / "S", tmp_path / "other"
    shutil.copytree(small_store, store)
    sweep(TPN, ["learning.gap_ceiling=0.4,0.8"], out=other, replicates=2, seed=2, chunk_size=2)
    foreign = sorted((other / "parts").glob("part-*.parquet"))[0]
    shutil.copy(foreign, store / "parts" / foreign.name)
    with pytest.raises(StoreError, match=rf"{foreign.name}: a result part of another experiment \(seed 2, not 1\)"):
        load_results(store)
    res = CliRunner().invoke(
        app, ["sweep", "rwanda_tpn", "--param", "learning.gap_ceiling=0.4,0.8", "-r", "2", "--seed", "1",
              "--set", "simulation.followup_months=2", "--chunk-size", "2", "--out", str(store), "--resume"],
    )  # fmt: skip
    assert res.exit_code == 2 and foreign.name in res.output and "Traceback" not in res.output
    assert "bug" not in res.output


def test_a_changed_manifest_is_refused(small_store, tmp_path):
    store = tmp_path / "S"
    shutil.copytree(small_store, store)
    manifest = store / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"seed": 1', '"seed": 7', 1))
    with pytest.raises(StoreError, match=r"manifest\.json: damaged"):
        load_results(store)


# ------------------------------------------------------------------ retries for what can pass


def _failing(monkeypatch, exc, replicate=1):
    real = engine.simulate_many

    def flaky(scenario, *args, seeds=(), **kwargs):
        if any(seq.spawn_key[-1] == replicate for seq in seeds):
            raise exc
        return real(scenario, *args, seeds=seeds, **kwargs)

    monkeypatch.setattr(engine, "simulate_many", flaky)


def test_failures_are_classified():
    assert retryable(MemoryError()) and retryable(OSError(errno.ENOSPC, "No space left on device"))
    assert not retryable(ValueError("bad")) and not retryable(FileNotFoundError(errno.ENOENT, "x"))
    assert not retryable(FloatingPointError("overflow"))


@pytest.mark.parametrize("exc", [MemoryError("out of memory"), OSError(errno.ENOSPC, "No space left on device")])
def test_a_resource_failure_is_stored_as_retryable_and_rerun_on_resume(tmp_path, monkeypatch, exc):
    experiment = Experiment((Arm(TPN),), 4, 1)
    _failing(monkeypatch, exc)
    with pytest.raises(ResourceError, match=r"lack of resources.*--resume") as info:
        run(experiment, store=tmp_path, chunk_size=1)
    assert isinstance(info.value, TwinsimError)  # the CLI's one line and exit 2, never "a bug in twinsim"
    store = ResultStore(tmp_path)
    assert store.failed() == 1 and store.retryable() == 1 and (0, 1) not in store.done()
    monkeypatch.undo()
    table = run(experiment, store=tmp_path, resume=True)
    assert table["error"].isna().all() and len(table) == 4
    pd.testing.assert_frame_equal(table, run(experiment))
    assert ResultStore(tmp_path).failed() == 0


def test_an_input_error_stays_failed_on_resume(tmp_path, monkeypatch):
    experiment = Experiment((Arm(TPN),), 3, 1)
    _failing(monkeypatch, ValueError("no convergence"))
    table = run(experiment, store=tmp_path, chunk_size=1, errors="record")
    assert table["error"].tolist() == [None, "ValueError: no convergence", None]
    monkeypatch.undo()
    assert ResultStore(tmp_path).retryable() == 0 and (0, 1) in ResultStore(tmp_path).done()
    again = run(experiment, store=tmp_path, resume=True, errors="record")
    assert again["error"].tolist() == [None, "ValueError: no convergence", None]


def test_a_sweep_whose_runs_ran_out_of_memory_says_so_and_exits_2(tmp_path, monkeypatch):
    _failing(monkeypatch, MemoryError(), replicate=0)
    res = CliRunner().invoke(app, ["sweep", "rwanda_tpn", "--param", "learning.gap_ceiling=0.4,0.8", "-r", "1",
                                   "--out", str(tmp_path / "S")])  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "lack of resources" in res.output and "--resume" in res.output and "bug" not in res.output
    monkeypatch.undo()
    res = CliRunner().invoke(app, ["sweep", "rwanda_tpn", "--param", "learning.gap_ceiling=0.4,0.8", "-r", "1",
                                   "--out", str(tmp_path / "S"), "--resume"])  # fmt: skip
    assert res.exit_code == 0 and "2 runs done" in res.output and "0 failed" in res.output


def test_a_lost_worker_is_one_error_saying_to_resume(tmp_path):
    class Broken(SerialExecutor):
        def submit(self, fn, /, *args, **kwargs):
            future = Future()
            future.set_exception(BrokenProcessPool("A process in the process pool was terminated abruptly"))
            return future

    experiment = Experiment((Arm(TPN),), 2, 1)
    with pytest.raises(WorkerLostError, match=r"worker was lost.*--resume"):
        engine.execute(experiment, ExecutorHandle(Broken(), 1, "broken"), lambda rows: None, stored=True)


# ------------------------------------------------------------------ every run its own panel file


@pytest.mark.parametrize("streams", ["common", "independent"])
def test_every_run_streams_its_own_panel_file(tmp_path, streams):
    panels = tmp_path / "panels"
    scenario = TPN.with_overrides({"recording.panel_dir": str(panels)})
    points = [{"learning.gap_ceiling": v} for v in (0.4, 0.6, 0.8)]
    run_points(scenario, points, replicates=2, seed=5, streams=streams, executor=2)
    files = sorted(p.name for p in panels.iterdir())
    assert files == [f"panel_point{p}_rep{r}.parquet" for p in range(3) for r in range(2)]
    frame = read_panels(panels)
    runs = frame[["point", "replicate"]].drop_duplicates()
    assert list(runs.itertuples(index=False, name=None)) == [(p, r) for p in range(3) for r in range(2)]
    # one run's rows are the panel of that run alone
    one = frame[(frame["point"] == 2) & (frame["replicate"] == 1)].drop(columns="point").reset_index(drop=True)
    seq = engine.run_seed(5, 2, 1, streams)
    alone = simulate_many(TPN.with_overrides(points[2]), seeds=[seq])[0].panel
    assert len(one) == len(alone) and set(one["replicate"]) == {1}
    assert one["capacity"].to_numpy().tolist() == alone["capacity"].to_numpy().tolist()


def test_compare_gives_each_arm_and_replicate_its_own_panel(tmp_path):
    panels = tmp_path / "panels"
    res = CliRunner().invoke(app, ["compare", "rwanda_no_program", "rwanda_tpn", "-r", "2", "--set",
                                   f"recording.panel_dir={panels}", "--out", str(tmp_path / "out")])  # fmt: skip
    assert res.exit_code == 0, res.output
    frame = read_panels(panels)
    runs = frame[["arm", "replicate"]].drop_duplicates()
    assert len(runs) == len(list(panels.iterdir())) >= 2 * 2  # every (arm, replicate) a file of its own


def test_read_panels_names_an_unreadable_file(tmp_path):
    (tmp_path / "panel_point0_rep0.parquet").write_bytes(b"not parquet")
    with pytest.raises(TwinsimError, match=r"panel_point0_rep0\.parquet: an unreadable panel file"):
        read_panels(tmp_path)


# ------------------------------------------------------------------ checkpoints: at most one chunk per worker


def test_a_killed_sweep_loses_at_most_one_chunk(tmp_path, monkeypatch):
    total = 80
    real, started = engine.run_chunk, []

    def killed_at_90_percent(experiment, chunk):
        started.append(len(chunk))
        if sum(started) > 0.9 * total:
            raise KeyboardInterrupt  # the process is killed while computing this chunk
        return real(experiment, chunk)

    monkeypatch.setattr(engine, "run_chunk", killed_at_90_percent)
    with pytest.raises(KeyboardInterrupt):
        sweep(TPN, ["learning.gap_ceiling=0.5"], out=tmp_path, replicates=total, seed=1)
    chunk = -(-total // engine.STORE_CHUNKS_PER_WORKER)  # parts of 8 chunks per worker
    stored = len(ResultStore(tmp_path).done())
    assert set(started) == {chunk}
    assert total - stored <= chunk  # lost: only the chunk being computed
    assert stored >= 0.9 * total - chunk


def test_resuming_a_store_without_parts_runs_everything(tmp_path):
    experiment = Experiment((Arm(TPN),), 2, 1)
    ResultStore.create(tmp_path, engine.store_manifest(experiment)).close()
    assert ResultStore(tmp_path).done() == set() and ResultStore(tmp_path).failed() == 0
    assert len(run(experiment, store=tmp_path, resume=True)) == 2
