"""Reliability (issue 16): a user's mistake is one line and exit 2 on every command, never a traceback, a hang or a
harmful result; outputs are never half-written; one writer per store; workers end with their main process.

Property tests mutate valid scenarios, overrides and command lines; their examples are derandomized (fixed), so a
failure reproduces; ``--runslow`` runs many more of them.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from twinsim.cli import app, main
from twinsim.errors import ScenarioError
from twinsim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
SMALL = (
    'extends = "rwanda_tpn"\nname = "small"\n[simulation]\nmonths = 8\nfollowup_months = 2\n'
    "[population.kinds.hospital]\ncounts = {North = 2, South = 2}\n"
    "[population.kinds.district]\ncounts = {North = 3, South = 3}\n"
    "[[programme.schedule]]\nactivity = 'kickoff_workshop'\nmonths = [1]\n"
    "[[programme.schedule]]\nactivity = 'exchange_visit'\nmonths = [3, 6]\n"
)


def _settings(default: int, slow: int) -> settings:
    many = "--runslow" in sys.argv
    return settings(
        max_examples=slow if many else default,
        derandomize=True,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


def one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line and not line.startswith("twinsim: warning:")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("twinsim: error: "), lines[0]
    return lines[0]


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(SMALL, encoding="utf-8")
    return path


# ------------------------------------------------------------------ the generator of bad inputs


def test_generated_bad_inputs_of_validate_all_end_clean():
    """A quick slice of benchmarks/bad_inputs.py: validate, --plugin, priors (every command: ``--runslow``)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bad_inputs
    finally:
        sys.path.pop(0)
    bad_inputs.warm()
    cases = [case for command in ("validate", "plugin", "priors") for case in bad_inputs.cases_for(command)]
    outcomes = {(case.args[0], case.name): bad_inputs.run_case(case, timeout=60).kind for case in cases}
    assert len(outcomes) >= 50
    assert {k: v for k, v in outcomes.items() if v != "clean"} == {}


@pytest.mark.slow
@pytest.mark.parametrize("command", ["run", "compare", "sweep", "sensitivity", "decompose", "power", "calibrate"])
def test_generated_bad_inputs_all_end_clean(command):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bad_inputs
    finally:
        sys.path.pop(0)
    bad_inputs.warm()
    outcomes = {case.seed: (case.name, bad_inputs.run_case(case).kind) for case in bad_inputs.cases_for(command)}
    assert {k: v for k, v in outcomes.items() if v[1] != "clean"} == {}


# ------------------------------------------------------------------ errors that help, and --debug


def test_an_unexpected_error_is_one_line_and_exit_1_and_a_traceback_with_debug(monkeypatch, capsys):
    import twinsim.cli.validate as validate

    def broken(*args, **kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(validate, "load_scenario", broken)
    with pytest.raises(SystemExit) as exit_:
        main(["validate", "rwanda_tpn"])
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert "internal error: KeyError" in err and "--debug" in err and "Traceback" not in err
    with pytest.raises(KeyError):
        main(["validate", "rwanda_tpn", "--debug"])


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("[population.kinds.hospital]\ncounts = {North = 1000000000000}\n", "at most 1,000,000"),
        ('[simulation]\nstart = "0000-01"\n', "1900 to 2200"),
        ('[simulation]\nstart = "99999-01"\n', "1900 to 2200"),
        ("[costs]\nstaff_day = 1e308\n", "staff_day"),
        ("[topics.accreditation]\nindicator_min = -1e308\nindicator_max = 1e308\n", "indicator_min"),
        ("[simulation]\nseed = " + "9" * 5000 + "\n", "cannot be read"),
        ("x = " + "[" * 3000 + "]" * 3000 + "\n", "nested"),
        ('description = "a\\u001b[2Jb"\n', "control character"),
    ],
)
def test_scenario_files_refused_with_the_reason(tmp_path, text, word):
    path = tmp_path / "s.toml"
    path.write_text('extends = "rwanda_tpn"\n' + text, encoding="utf-8")
    with pytest.raises(ScenarioError, match=None) as err:
        load_scenario(path)
    assert word in str(err.value)


def test_a_long_extends_chain_is_refused(tmp_path):
    for i in range(40):
        (tmp_path / f"c{i}.toml").write_text(f'extends = "c{i + 1}.toml"\n', encoding="utf-8")
    (tmp_path / "c40.toml").write_text('extends = "rwanda_tpn"\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match="a chain of more than 32 files"):
        load_scenario(tmp_path / "c0.toml")


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (["compare", "rwanda_no_program", "rwanda_tpn", "--budget", "inf"], "--budget"),
        (["compare", "rwanda_no_program", "rwanda_tpn", "--budget", "nan"], "--budget"),
        (["compare", "rwanda_no_program", "rwanda_tpn", "--wtp", "0:inf:5"], "--wtp"),
        (["compare", "rwanda_no_program", "rwanda_tpn", "--wtp", "0:1000:300000000"], "--wtp"),
        (["run", "rwanda_tpn", "--replicates", "99999999999999999999999"], "--replicates"),
        (["power", "rwanda_tpn", "--institutions", "1000000000000"], "--institutions"),
        (["sweep", "rwanda_tpn", "--param", "learning.forgetting=0:0.05:20000000", "--out", "s"], "--param"),
    ],
)
def test_sizes_and_non_finite_values_refused(tmp_path, monkeypatch, args, word):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert word in one_error_line(result)


def test_memory_estimate_refuses_and_force_overrides(small, monkeypatch):
    import twinsim.experiments.resources as resources

    monkeypatch.setattr(resources, "available_memory", lambda: 10 * 2**20)
    result = runner.invoke(app, ["run", str(small), "-q"])
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "--replicates" in line and "memory" in line and "--force" in line
    assert runner.invoke(app, ["run", str(small), "-q", "--force"]).exit_code == 0


def test_scenario_text_is_printed_literally(tmp_path):
    path = tmp_path / "m[b].toml"
    path.write_text(SMALL.replace('"small"', '"[/]x[red]"') + '[costs]\ncurrency = "[/]"\n', encoding="utf-8")
    result = runner.invoke(app, ["run", str(path), "-q"])
    assert result.exit_code == 0, result.output
    assert "[/]x[red]" in result.stdout and "USD" not in result.stdout and " [/]" in result.stdout


# ------------------------------------------------------------------ outputs never half-written


def test_run_out_replaces_an_earlier_run_and_refuses_a_folder_of_other_files(small, tmp_path):
    out = tmp_path / "o"
    assert runner.invoke(app, ["run", str(small), "-q", "--out", str(out), "--format", "csv"]).exit_code == 0
    assert (out / "panel.csv").is_file()
    assert runner.invoke(app, ["run", str(small), "-q", "--out", str(out)]).exit_code == 0
    assert (out / "panel.parquet").is_file() and not (out / "panel.csv").exists()  # nothing of the earlier run
    other = tmp_path / "mine"
    other.mkdir()
    (other / "thesis.docx").write_text("x")
    result = runner.invoke(app, ["run", str(small), "-q", "--out", str(other)])
    assert result.exit_code == 2 and "--out" in one_error_line(result) and "--force" in result.stderr
    assert runner.invoke(app, ["run", str(small), "-q", "--out", str(other), "--force"]).exit_code == 0
    assert (other / "thesis.docx").is_file() and (other / "summary.json").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_failed_write_leaves_no_partial_output(small, tmp_path, monkeypatch):
    import pandas as pd

    def full_disk(self, path, *args, **kwargs):
        Path(path).write_bytes(b"PAR1 partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full_disk)
    out = tmp_path / "o"
    result = runner.invoke(app, ["run", str(small), "-q", "--out", str(out)])
    assert result.exit_code == 2
    assert "No space left on device" in one_error_line(result)
    assert not out.exists() and list(tmp_path.iterdir()) == [small]


@pytest.mark.parametrize("option", ["--out", "--store"])
def test_output_locations_that_cannot_be_written(small, tmp_path, option):
    (tmp_path / "f.txt").write_text("x")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        for where in (tmp_path / "f.txt", tmp_path / "f.txt" / "sub", ro / "sub"):
            if os.geteuid() == 0 and where.parent == ro:  # root writes anywhere
                continue
            result = runner.invoke(app, ["run", str(small), "-q", option, str(where)])
            assert result.exit_code == 2, result.output
            assert option in one_error_line(result)
    finally:
        ro.chmod(0o700)


# ------------------------------------------------------------------ result stores: one writer, damaged parts, failures


def _sweep(small: Path, out: Path, *extra: str):
    args = ["sweep", str(small), "--param", "learning.gap_ceiling=0.3,0.6", "--out", str(out), "-q", *extra]
    return runner.invoke(app, args)


def test_one_writer_per_store_and_a_stale_lock_is_taken_over(small, tmp_path):
    out = tmp_path / "store"
    out.mkdir()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / "writer.lock").write_text(f"{alive.pid}\n")
        result = _sweep(small, out)
        assert result.exit_code == 2
        assert f"another twinsim process (pid {alive.pid})" in one_error_line(result)
        assert not (out / "parts").exists() or not any((out / "parts").iterdir())
    finally:
        alive.kill()
        alive.wait()
    (out / "writer.lock").write_text(f"{alive.pid}\n")  # its writer has ended: the lock is stale
    assert _sweep(small, out).exit_code == 0
    assert not (out / "writer.lock").exists()


def test_a_damaged_part_is_one_line_on_resume(small, tmp_path):
    out = tmp_path / "store"
    assert _sweep(small, out).exit_code == 0
    part = next((out / "parts").glob("part-*.parquet"))
    part.write_bytes(part.read_bytes()[:100])
    result = _sweep(small, out, "--resume")
    assert result.exit_code == 2
    assert part.name in one_error_line(result)


def test_a_sweep_whose_every_run_failed_exits_2(small, tmp_path, monkeypatch):
    import twinsim.experiments.engine as engine

    def fails(*args, **kwargs):
        raise RuntimeError("a run broke")

    monkeypatch.setattr(engine, "simulate_many", fails)
    result = _sweep(small, tmp_path / "store")
    assert result.exit_code == 2
    assert "every run of the sweep raised" in one_error_line(result)


def test_workers_end_when_the_main_process_is_killed(small, tmp_path):
    import psutil

    # not a per-replicate parameter: every point is a model of its own, so the sweep lasts
    args = [sys.executable, "-m", "twinsim", "sweep", str(small), "--param", "learning.ownership_retention=0.2:0.9:400"]
    args += ["--out", str(tmp_path / "store"), "--workers", "2", "-q"]
    main_process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parent = psutil.Process(main_process.pid)
    deadline = time.monotonic() + 60
    parts = tmp_path / "store" / "parts"
    helpers: list[psutil.Process] = []
    while time.monotonic() < deadline and not (len(helpers) >= 3 and parts.is_dir() and any(parts.iterdir())):
        time.sleep(0.2)  # wait for the forkserver, two workers and a first finished chunk
        helpers = parent.children(recursive=True)
    assert len(helpers) >= 3, "the pool's workers did not start"
    main_process.send_signal(signal.SIGKILL)
    main_process.wait()
    _gone, alive = psutil.wait_procs(helpers, timeout=15)
    for process in alive:
        process.kill()
    assert alive == []


# ------------------------------------------------------------------ properties: mutated scenarios and command lines

NUMERIC_KEYS = [
    "simulation.months",
    "simulation.followup_months",
    "simulation.seed",
    "population.kinds.hospital.budget_median",
    "population.kinds.hospital.leadership_mean",
    "population.kinds.district.counts.North",
    "topics.accreditation.indicator_min",
    "topics.accreditation.indicator_max",
    "topics.accreditation.baseline_mean",
    "programme.topics_per_institution",
    "programme.twins_per_topic",
    "programme.mentor_load_cap",
    "programme.min_gap",
    "programme.volume",
    "learning.gap_ceiling",
    "learning.forgetting",
    "learning.peer_contact_rate",
    "learning.rates.exchange_visit",
    "costs.staff_day",
    "costs.activities.exchange_visit.per_event",
    "evaluation.measurement_sd",
]
VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, 1, -1, 1e308, -1e308, 10**7, 10**12, 2**63, "x", "[/]", True, None, [1, 2]]),
)


@_settings(default=150, slow=2000)
@given(key=st.sampled_from(NUMERIC_KEYS), value=VALUES)
def test_an_override_validates_or_is_refused_with_one_line(key, value):
    try:
        scenario = load_scenario("rwanda_tpn", {key: value})
    except ScenarioError as exc:
        assert "\n" not in str(exc)
        return
    assert scenario.n_institutions >= 1


def _check_run(result, scenario) -> None:
    m = result.model
    assert np.isfinite(m.capacity).all()
    assert (m.capacity >= 0).all() and (m.capacity <= 1).all()
    ledger = result.ledger
    costs = ledger[[c for c in ledger.columns if c.endswith(("_cost", "_days"))]].to_numpy(float)
    assert np.isfinite(costs).all() and (costs >= 0).all()
    assert math.isclose(result.total_cost, float(ledger["total_cost"].sum()), rel_tol=1e-9, abs_tol=1e-6)
    ties = result.ties
    assert (ties["learner"] != ties["mentor"]).all()
    if scenario.programme.delivery_model == "tpn_network":  # the cap binds, keeping the promise or not (ODD 7.18)
        assert (np.bincount(ties["mentor"].to_numpy(int), minlength=m.n) <= scenario.programme.mentor_load_cap).all()
    summary = result.summary()
    numbers = [v for v in summary.values() if isinstance(v, float)]
    assert all(not math.isinf(v) for v in numbers)


BOUNDED = {
    "programme.topics_per_institution": st.integers(1, 9),
    "programme.twins_per_topic": st.integers(1, 10),
    "programme.mentor_load_cap": st.integers(1, 100),
    "programme.min_gap": st.floats(0, 1),
    "programme.volume": st.floats(0.01, 100),
    "learning.gap_ceiling": st.floats(0.01, 10),
    "learning.forgetting": st.floats(0, 5),
    "learning.peer_contact_rate": st.floats(0, 1),
    "learning.rates.exchange_visit": st.floats(0, 10),
    "costs.staff_day": st.floats(0, 1e7),
    "costs.activities.exchange_visit.per_event": st.floats(0, 1e9),
    "topics.accreditation.indicator_max": st.floats(1, 1e9),
    "population.kinds.hospital.leadership_mean": st.floats(0.01, 0.99),
}


@_settings(default=12, slow=300)
@given(data=st.dictionaries(st.sampled_from(sorted(BOUNDED)), st.none(), min_size=1, max_size=4), draw=st.data())
def test_mutated_valid_scenarios_give_valid_results(tmp_path_factory, data, draw):
    from twinsim.model.results import simulate

    folder = tmp_path_factory.mktemp("s")
    (folder / "small.toml").write_text(SMALL, encoding="utf-8")
    overrides = {key: draw.draw(BOUNDED[key], label=key) for key in data}
    overrides["mechanisms.keep_promise"] = draw.draw(st.booleans(), label="keep_promise")
    try:
        scenario = load_scenario(folder / "small.toml", overrides)
    except ScenarioError:
        return
    _check_run(simulate(scenario, seed=7), scenario)


COMMAND_LINES = {
    "run": ["run", "{sc}", "-q", "--json"],
    "validate": ["validate", "{sc}"],
    "compare": ["compare", "rwanda_no_program", "{sc}", "-r", "2", "-q", "--json"],
    "sweep": ["sweep", "{sc}", "--param", "learning.gap_ceiling=0.3,0.6", "--out", "{tmp}/s", "-q", "--json"],
    "decompose": ["decompose", "{sc}", "-r", "2", "-q", "--json"],
    "power": ["power", "{sc}", "--institutions", "10", "-r", "2", "-q", "--json"],
}
MUTATIONS = {
    "--seed": st.one_of(st.integers(-(2**70), 2**70).map(str), st.sampled_from(["x", "", "1e3", "nan"])),
    "--replicates": st.sampled_from(["0", "-1", "1", "2", "x", "99999999999999999999999", "1e2"]),
    "--set": st.sampled_from(
        [
            "costs.staff_day=1e308",
            "costs.staff_day=nan",
            "simulation.months=0",
            "simulation.start=0000-01",
            "population.kinds.hospital.counts.North=1000000000000",
            "learning.gap_ceiling=0.7",
            "name=[/]",
            "x=1",
            "=",
        ]
    ),
    "--scheduler": st.sampled_from(["tcp://", "nonsense", "tcp://127.0.0.1:99999", "[::1"]),
    "--table-format": st.sampled_from(["md", "csv", "[/]", ""]),
}


@_settings(default=12, slow=200)
@given(
    command=st.sampled_from(sorted(COMMAND_LINES)),
    changes=st.dictionaries(st.sampled_from(sorted(MUTATIONS)), st.none(), min_size=1, max_size=2),
    draw=st.data(),
)
def test_mutated_command_lines_end_valid_or_clean(tmp_path_factory, command, changes, draw):
    folder = tmp_path_factory.mktemp("c")
    (folder / "small.toml").write_text(SMALL, encoding="utf-8")
    args = [a.replace("{sc}", str(folder / "small.toml")).replace("{tmp}", str(folder)) for a in COMMAND_LINES[command]]
    if command == "validate":
        changes = {k: v for k, v in changes.items() if k == "--set"} or {"--set": None}
    if command == "sweep":
        changes.pop("--table-format", None)
    for option in changes:
        args += [option, draw.draw(MUTATIONS[option], label=option)]
    result = runner.invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
    assert result.exit_code in {0, 2}, (args, result.output)
    if result.exit_code == 2:
        assert "Traceback" not in result.stderr
        assert result.stderr.strip(), args


def test_an_error_line_shows_escape_sequences_as_text(tmp_path):
    result = runner.invoke(app, ["validate", str(tmp_path / "a\x1b[31mb.toml")])
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "\x1b" not in result.stderr and "\\x1b[31m" in line


def test_no_user_file_is_evaluated_or_unpickled():
    """Scenario, targets, posterior and store files are read as data (TOML, CSV, Parquet, JSON), never as code."""
    import re

    pattern = re.compile(
        r"\b(eval|exec|pickle|cloudpickle\.loads|marshal|shelve|yaml\.load|read_pickle|allow_pickle=True)\b"
    )
    hits = [
        f"{path.relative_to(ROOT)}"
        for path in (ROOT / "src" / "twinsim").rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line.split("#")[0])
    ]
    # The one unpickling: a worker registers the user's plug-ins that the user's own process pickled into the
    # experiment in memory (ensure_plugins); no file is read. Plug-in files run as code only when the user names
    # them with --plugin (load_plugin_file), never because a scenario names them.
    assert hits == ["src/twinsim/programme/registry.py"]


def test_two_sweeps_into_one_store_at_once_one_is_refused(small, tmp_path):
    """Two real processes race for the same --out: one writes, the other is refused; no rows are mixed."""
    out = tmp_path / "store"
    args = [sys.executable, "-m", "twinsim", "sweep", str(small), "--param", "learning.gap_ceiling=0.2:0.9:6"]
    args += ["--out", str(out), "-q", "--replicates", "40"]
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / "writer.lock").exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)  # the second starts while the first holds the store
    second = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = [(p.wait(timeout=300), p.stderr.read()) for p in (first, second)]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, err in results if code == 2)
    assert refused.startswith("twinsim: error: --out") and len(refused.strip().splitlines()) == 1
    from twinsim.experiments.store import load_results

    table = load_results(out)
    assert len(table) == 240 and not table.duplicated(["point", "replicate"]).any()
    assert not (out / "writer.lock").exists()


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        (MemoryError(), "out of memory"),
        (OSError(28, "No space left on device", "/data/out"), "no space left on the disk (/data/out)"),
        (OSError(13, "Permission denied", "/data/out"), "permission denied"),
    ],
)
def test_failures_of_the_machine_are_one_line_and_exit_2(monkeypatch, capsys, failure, words):
    import twinsim.cli.validate as validate_cli
    from twinsim.cli import main

    def broken(*args, **kwargs):
        raise failure

    monkeypatch.setattr(validate_cli, "load_scenario", broken)
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", "rwanda_tpn"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and words in err and "a bug in twinsim" not in err
    assert len([line for line in err.splitlines() if line]) == 1


def test_an_oversized_posterior_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    from twinsim.experiments import posterior

    monkeypatch.setattr(posterior, "MAX_POSTERIOR_BYTES", 100)
    path = tmp_path / "big.csv"
    path.write_text("learning.forgetting,weight\n" + "0.02,1\n" * 50)
    with pytest.raises(ScenarioError, match=r"bytes; a posterior file holds at most 100"):
        posterior.load_posterior(path)
