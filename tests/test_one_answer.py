"""One door, one default: the same question through the command line and the Python API gives the same numbers.

Each command runs with ``--json`` through typer's CliRunner, and the library function it calls runs with the same
arguments and its defaults; the JSON the command prints must be the JSON of the API's result, number for number.
The defaults matter: replicates draw their parameters from the scenario's posterior (``simulation.posterior``)
through both doors, and ``--no-posterior`` is ``posterior=None``.
"""

import json

import pytest
from typer.testing import CliRunner

import twinsim
from twinsim.analysis.compare import compare
from twinsim.analysis.decomposition import decompose
from twinsim.analysis.power import power_analysis
from twinsim.cli import app

SCENARIO = "rwanda_tpn"
SEED = 7
R = 4


def cli_json(*args: str) -> dict:
    res = CliRunner().invoke(app, [*args, "--json", "-q"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def api_json(result) -> dict:
    return json.loads(json.dumps(result.to_dict()))


def test_run_gives_the_numbers_of_run_replicates():
    by_cli = cli_json("run", SCENARIO, "-r", str(R), "--seed", str(SEED))
    by_api = api_json(twinsim.run_replicates(SCENARIO, R, seed=SEED))
    assert by_cli == by_api
    assert by_api["posterior"] is not None  # both drew from the scenario's posterior
    acc = by_api["evaluation"]["selected_vs_not"]["accreditation"]["estimate"]
    assert by_cli["evaluation"]["selected_vs_not"]["accreditation"]["estimate"] == acc

    point_cli = cli_json("run", SCENARIO, "-r", str(R), "--seed", str(SEED), "--no-posterior")
    point_api = api_json(twinsim.run_replicates(SCENARIO, R, seed=SEED, posterior=None))
    assert point_cli == point_api and point_api.get("posterior") is None
    assert point_api["evaluation"]["selected_vs_not"]["accreditation"]["estimate"] != acc


def test_compare_gives_the_numbers_of_compare():
    models = ["rwanda_no_program", SCENARIO]
    by_cli = cli_json("compare", *models, "-r", str(R), "--seed", str(SEED))
    by_api = json.loads(compare(models, replicates=R, seed=SEED).to_json())
    assert by_cli == by_api
    assert by_api["uncertainty"]["mode"] == "full"
    effect = {m["name"]: m["effect"]["mean"] for m in by_api["models"]}
    assert {m["name"]: m["effect"]["mean"] for m in by_cli["models"]} == effect and effect[SCENARIO] > 0


def test_decompose_gives_the_numbers_of_decompose():
    by_cli = cli_json("decompose", SCENARIO, "-r", str(R), "--seed", str(SEED))
    by_api = api_json(decompose(SCENARIO, R, SEED))
    assert by_cli == by_api
    twinning = by_api["decomposition"]["accreditation"]["twinning"]["estimate"]
    point = api_json(decompose(SCENARIO, R, SEED, posterior=None))
    assert cli_json("decompose", SCENARIO, "-r", str(R), "--seed", str(SEED), "--no-posterior") == point
    assert point["decomposition"]["accreditation"]["twinning"]["estimate"] != twinning


def test_power_gives_the_numbers_of_power_analysis():
    by_cli = cli_json("power", SCENARIO, "--institutions", "20", "-r", str(R), "--seed", str(SEED))
    by_api = api_json(power_analysis(SCENARIO, [20], R, SEED))
    assert by_cli == by_api
    assert by_api["posterior"] is not None
    assert [row["power"] for row in by_cli["power"]] == [row["power"] for row in by_api["power"]]


@pytest.mark.parametrize("command", ["run", "decompose", "power", "sensitivity"])
def test_every_help_names_the_default_and_the_opt_out(command):
    res = CliRunner().invoke(app, [command, "--help"], terminal_width=200)
    text = " ".join(res.stdout.split())
    assert "--no-posterior" in text and "posterior=None" in text
    assert "default: the scenario's simulation.posterior" in text
