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


def test_the_mentor_load_cap_binds_in_the_cli_and_the_unmatched_share_is_reported():
    runs = {}
    for cap in (1, 6):
        res = invoke("run", "rwanda_tpn", "-r", 2, "-q", "--json", "--set", f"programme.mentor_load_cap={cap}")
        assert res.exit_code == 0, res.output
        runs[cap] = json.loads(res.stdout)
    one, six = runs[1], runs[6]
    assert one["matching"]["mentor_load_cap"] == 1 and six["matching"]["mentor_load_cap"] == 6
    assert one["matching"]["ties"] < six["matching"]["ties"] and one["costs"]["total"] < six["costs"]["total"]
    assert one["matching"]["unmatched_share"] > six["matching"]["unmatched_share"] >= 0
    assert 0 < one["matching"]["unmatched_led_share"] <= one["matching"]["unmatched_share"]
    text = invoke("run", "rwanda_tpn", "-r", 2, "-q", "--set", "programme.mentor_load_cap=1")
    share = f"{one['matching']['unmatched_share']:.1%} of chosen topics got no twin"
    assert "at most 1 mentee(s) per mentor" in text.stdout.replace("\n", " ") and share in text.stdout


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


NARROW = {
    "run": ["run", "rwanda_tpn", "-r", "3", "-q"],
    "decompose": ["decompose", "rwanda_tpn", "--replicates", "4", "-q"],
    "power": ["power", "rwanda_tpn", "--institutions", "10,20", "--replicates", "6", "--topic", "accreditation", "-q"],
    "compare": ["compare", "rwanda_no_program", "rwanda_tpn", "rwanda_pairs", "-r", "4", "-q"],
}


@pytest.mark.parametrize("command", sorted(NARROW))
def test_tables_fit_an_80_column_terminal_and_md_and_csv_do_not_change(command):
    args = NARROW[command]
    narrow = runner.invoke(app, args, env={"COLUMNS": "80"})
    assert narrow.exit_code == 0, narrow.output
    lines = narrow.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert not any(line.startswith(("topic: ", "model: ", "institutions: ")) for line in lines)  # no cards
    assert not any(line.strip().startswith(("┏", "┃")) for line in lines)  # compact: no box to pay for
    left_out = " ".join(lines[i] + " " + lines[i + 1] for i, line in enumerate(lines[:-1]) if "Left out" in line)
    if command != "power":  # power's table fits with its estimates above their intervals
        assert "Left out to fit 80 columns:" in left_out
    for fmt in ("md", "csv"):
        wide = runner.invoke(app, [*args, "--table-format", fmt])
        assert runner.invoke(app, [*args, "--table-format", fmt], env={"COLUMNS": "80"}).stdout == wide.stdout
