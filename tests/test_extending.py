"""A user's own delivery model, written outside twinsim, runs through every command and analysis (docs/extending.md).

The examples of docs/extending.md run as written (as in a notebook); the mentoring cascade of examples/cascade/ is
loaded with ``twinsim --plugin`` and run through the command line on two worker processes.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import twinsim
from twinsim.analysis.compare import compare
from twinsim.analysis.sensitivity import sensitivity
from twinsim.errors import ScenarioError, TwinsimError
from twinsim.experiments.executors import LocalProcesses
from twinsim.programme.delivery import DeliveryModel
from twinsim.programme.matching import Ties
from twinsim.programme.registry import ACTIVITIES, DELIVERY_MODELS, load_plugin_file, register, unregister

ROOT = Path(__file__).resolve().parent.parent
CASCADE = ROOT / "examples" / "cascade" / "cascade.toml"
PLUGIN = ROOT / "examples" / "cascade" / "cascade.py"


def _docs_examples() -> dict:
    """The Python blocks of docs/extending.md, run as written (each registers its plug-in)."""
    namespace: dict = {"__name__": "extending_examples"}  # a module no worker can import: sent by value
    for block in re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "extending.md").read_text(), re.S):
        exec(compile(block, "docs/extending.md", "exec"), namespace)
    return namespace


@pytest.fixture
def hub():
    _docs_examples()  # registers regional_hub and peer_review
    yield
    unregister("regional_hub")
    unregister("peer_review")


def _hub_scenario(hubs: int = 1):
    return twinsim.load_scenario(
        "rwanda_tpn",
        {
            "name": "regional_hub",
            "programme.delivery_model": "regional_hub",
            "programme.settings": {"regional_hub": {"hubs": hubs}},
        },
    )


def test_the_docs_activity_runs_on_the_docs_delivery_model(hub):
    scenario = _hub_scenario().with_overrides(
        {
            "programme.schedule": [
                {"activity": "kickoff_workshop", "months": [1]},
                {"activity": "peer_review", "every": 3},
            ]
        }
    )
    run = twinsim.simulate(scenario, seed=2)
    ledger = run.ledger
    assert (
        "peer_review" in set(ledger["activity"])
        and ledger.loc[ledger.activity == "peer_review", "total_cost"].sum() > 0
    )
    assert run.summary()["mean_gain"] > 0


def test_a_registered_delivery_model_runs_and_reads_its_own_settings(hub):
    one, three = (twinsim.simulate(_hub_scenario(h), seed=3).summary() for h in (1, 3))
    assert one["ties"] > 0
    assert one["mean_gain"] != three["mean_gain"]  # the setting changes the run


def test_compare_on_two_workers_equals_one_process(hub):
    models = [_hub_scenario(), "rwanda_tpn", "rwanda_no_program"]
    serial = compare(models, replicates=6, seed=5, uncertainty="none")
    pooled = compare(models, replicates=6, seed=5, uncertainty="none", executor=LocalProcesses(2))
    assert serial.table()["effect"].tolist() == pooled.table()["effect"].tolist()
    assert serial.model("rwanda_tpn").name == "rwanda_tpn"
    assert serial.table().loc["regional_hub", "ties"] > 0 and serial.table().loc["regional_hub", "effect"] > 0


def test_sensitivity_on_two_workers_varies_a_setting_of_the_users_model(hub):
    key = "programme.settings.regional_hub.hubs"
    params = {key: [1, 2, 4], "learning.rates.exchange_visit": None}
    result = sensitivity(_hub_scenario(), params, ["mean_gain"], method="morris", samples=4, seed=2, workers=2)
    ranked = result.ranked()
    assert key in set(ranked["factor"]) and ranked.set_index("factor").loc[key, "mu_star"] > 0


def test_registering_checks_the_plugin():
    class Nameless(DeliveryModel):
        def form_ties(self, model):
            return Ties.empty()

    class Bundled(Nameless):
        name = "tpn_network"

    class Lazy(DeliveryModel):
        name = "lazy"

    with pytest.raises(TwinsimError, match="lower-case identifier"):
        register(Nameless)
    with pytest.raises(TwinsimError, match="bundled name"):
        register(Bundled)
    with pytest.raises(TwinsimError, match="must implement form_ties"):
        register(Lazy)
    with pytest.raises(TwinsimError, match="neither an Activity nor a DeliveryModel"):
        register(object)
    assert "lazy" not in DELIVERY_MODELS and "tpn_network" in DELIVERY_MODELS


def test_settings_are_checked_by_the_plugins_block(hub):
    with pytest.raises(ScenarioError, match=r"programme\.settings\.regional_hub\.hubs"):
        _hub_scenario(hubs=0)
    with pytest.raises(ScenarioError, match=r"programme\.settings\.nobody: no registered plug-in"):
        twinsim.load_scenario("rwanda_tpn", {"programme.settings": {"nobody": {"x": 1}}})


def _twinsim(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "twinsim", *args], check=False, capture_output=True, text=True, cwd=cwd
    )


def test_the_cascade_runs_through_compare_on_two_workers(tmp_path):
    args = ["compare", str(CASCADE), "rwanda_no_program", "-r", "10", "--workers", "2", "--json"]
    done = _twinsim("--plugin", str(PLUGIN), *args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)["models"]}
    assert rows["rwanda_cascade"]["effect"]["mean"] > 0 and rows["rwanda_cascade"]["cost"]["mean"] > 0


@pytest.fixture
def cascade():
    load_plugin_file(PLUGIN)
    yield
    unregister("cascade")


def test_the_cascade_keeps_the_load_cap_and_grows_its_mentors(cascade):
    from twinsim.model import TwinningSimulation

    model = TwinningSimulation(twinsim.load_scenario(CASCADE), seed=4)
    waves = []
    while model.running:
        model.step()
        if model.month in (1, 7, 13, 19):  # the kickoff and the waves (wave_every = 6)
            assert np.bincount(model.ties.mentor).max() <= model.params.programme.mentor_load_cap
            waves.append(model.ties)
    first, last = waves[0], waves[-1]
    assert [len(t) for t in waves] == sorted(len(t) for t in waves)  # ties, once formed, stay
    first_learners = set(zip(first.learner.tolist(), first.topic.tolist(), strict=True))
    later_mentors = set(zip(last.mentor.tolist(), last.topic.tolist(), strict=True))
    assert first_learners & later_mentors  # mentees of the first wave mentor a later one
    assert "cascade" in DELIVERY_MODELS and "cascade" not in ACTIVITIES


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("programme.settings.cascade.wave_every=0", "programme.settings.cascade.wave_every"),
        ("programme.settings.cascade.waves=3", "programme.settings.cascade.waves"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2(tmp_path, override, message):
    done = _twinsim("--plugin", str(PLUGIN), "validate", str(CASCADE), "--set", override, cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_a_missing_or_broken_plugin_file_is_one_line_and_exit_2(tmp_path):
    done = _twinsim("--plugin", "nowhere.py", "validate", "rwanda_tpn", cwd=tmp_path)
    assert done.returncode == 2 and "--plugin 'nowhere.py': no such file" in done.stderr
    (tmp_path / "broken.py").write_text("PLUGINS = [int]\n")
    done = _twinsim("--plugin", "broken.py", "validate", "rwanda_tpn", cwd=tmp_path)
    assert done.returncode == 2 and "neither an Activity nor a DeliveryModel" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_scenario_naming_an_unloaded_plugin_says_how_to_load_it(tmp_path):
    done = _twinsim("validate", str(CASCADE), cwd=tmp_path)
    assert done.returncode == 2 and "twinsim --plugin FILE.py" in done.stderr
