"""The twinsim command: exit codes, key output, JSON shape."""

import json

import pytest
from typer.testing import CliRunner

from twinsim.cli import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_run_json_has_the_documented_shape():
    res = invoke("run", "scenarios/rwanda_tpn.toml", "--replicates", 3, "--seed", 4, "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert {"scenario", "seed", "replicates", "months", "institutions", "evaluation", "costs"} <= set(data)
    assert data["seed"] == 4 and data["replicates"] == 3 and data["months"] == 19 and data["institutions"] == 40
    acc = data["evaluation"]["selected_vs_not"]["accreditation"]
    assert set(acc) == {"estimate", "ci95", "n_selected", "n_not_selected"}
    assert acc["ci95"][0] <= acc["estimate"] <= acc["ci95"][1]
    assert data["costs"]["total"] > 0 and data["costs"]["currency"] == "USD"


def test_run_by_bundled_name_writes_tables_and_figure(tmp_path):
    res = invoke("run", "rwanda_tpn", "--replicates", 2, "--out", tmp_path, "--format", "csv")
    assert res.exit_code == 0, res.output
    assert "accreditation" in res.stdout and "Programme cost" in res.stdout
    for name in ("panel.csv", "ledger.csv", "summaries.csv", "summary.json", "trajectories.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_validate_and_scenarios():
    ok = invoke("validate", "scenarios/rwanda_tpn.toml")
    assert ok.exit_code == 0 and "valid" in ok.stdout
    listing = invoke("scenarios")
    assert listing.exit_code == 0
    assert any(line.startswith("rwanda_tpn ") for line in listing.stdout.splitlines())


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("run", "nope.toml"), "nope.toml: no such scenario file"),
        (("run", "rwanda_tpn", "--set", "programme.twins_per_topic=0"), "programme.twins_per_topic"),
        (("validate", "rwanda_tpn", "--set", "learning.nope=1"), "unknown key 'learning.nope'"),
        (("run", "rwanda_tpn", "--format", "xls"), "--format"),
    ],
)
def test_user_mistakes_give_one_line_and_exit_2(args, expected):
    res = invoke(*args)
    assert res.exit_code == 2
    assert expected in res.stderr
    assert "Traceback" not in res.output + res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
