"""Conventions of the command line: version, help, quiet, readable tables, warnings, names instead of paths."""

import csv
import io
import re
from importlib.metadata import version

import pytest
from typer.testing import CliRunner

import twinsim
from twinsim.cli import EXAMPLES, app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_version_comes_from_the_package_metadata():
    res = invoke("--version")
    assert res.exit_code == 0
    assert res.stdout.strip() == f"twinsim {version('twinsim')}"
    assert twinsim.__version__ == version("twinsim")


@pytest.mark.parametrize("command", sorted(EXAMPLES))
def test_help_shows_examples_and_no_bool_metavar(command):
    res = invoke(command, "--help")
    assert res.exit_code == 0
    assert "Examples:" in res.stdout and EXAMPLES[command][0] in res.stdout.replace("\n    ", " ")
    assert "<bool>" not in res.stdout


def test_quiet_prints_no_progress_and_the_table_still():
    res = invoke("run", "rwanda_tpn", "-r", 2, "--quiet")
    assert res.exit_code == 0
    assert res.stderr == ""
    assert "accreditation" in res.stdout


def test_run_table_as_csv_and_markdown_is_complete():
    res = invoke("run", "rwanda_tpn", "-r", 3, "-q", "--table-format", "csv")
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert len(rows) == 9 and rows[0]["topic"] == "accreditation"
    assert rows[0]["published"] == "+5.6"
    md = invoke("run", "rwanda_tpn", "-r", 3, "-q", "--table-format", "md").stdout
    assert md.count("\n| ") == 10  # header + 9 topics
    assert invoke("run", "rwanda_tpn", "--table-format", "xls").exit_code == 2


def test_piped_compare_table_is_not_cut():
    res = invoke("compare", "rwanda_no_program", "rwanda_tpn", "-r", 2, "-q", "--uncertainty", "none")
    assert res.exit_code == 0
    assert "…" not in res.stdout
    cost = f"{twinsim.run_replicates(twinsim.load_scenario('rwanda_tpn'), 2).cost().mean:,.0f}"
    assert cost in res.stdout


def test_before_after_change_when_everyone_chooses_every_topic():
    res = invoke("run", "rwanda_tpn", "-r", 2, "-q", "--set", "programme.topics_per_institution=4")
    assert res.exit_code == 0
    assert not re.search(r"\bnan\b", res.stdout)
    assert "no comparison group" in res.stdout
    assert "warning: programme.topics_per_institution = 4" in res.stderr


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("programme.topics_per_institution=4", "no not-selected group"),
        ("learning.rates={}", "cost money and teach nothing"),
        ("learning.rates.provincial_learning_event=0", "transfers nothing"),
    ],
)
def test_validate_warns_about_results_that_cannot_mean_anything(override, expected):
    res = invoke("validate", "rwanda_tpn", "--set", override)
    assert res.exit_code == 0
    assert expected in res.stderr


def test_validate_warns_without_kickoff(tmp_path):
    text = (twinsim.bundled_scenarios()["rwanda_tpn"]).read_text()
    path = tmp_path / "no_kickoff.toml"
    path.write_text(
        text.replace(
            'activity = "kickoff_workshop"           # paper: 1 launch workshop (4 sessions)\nmonths = [1]',
            'activity = "exchange_visit"\nmonths = [2]',
        )
    )
    res = invoke("validate", path)
    assert res.exit_code == 0 and "no kickoff_workshop" in res.stderr


def test_bundled_scenarios_have_no_warnings():
    from twinsim.scenario import scenario_warnings

    for name in twinsim.bundled_scenarios():
        assert scenario_warnings(twinsim.load_scenario(name)) == [], name


def test_text_from_scenario_files_is_printed_literally(tmp_path):
    path = tmp_path / "markup.toml"
    path.write_text('extends = "rwanda_tpn.toml"\nname = "[bold]x[/bold]"\n')
    res = invoke("run", path, "-q")
    assert res.exit_code == 0
    assert "[bold]x[/bold]" in res.stdout


def test_names_resolve_posterior_targets_and_local_files(tmp_path, monkeypatch):
    assert invoke("run", "rwanda_tpn", "-r", 2, "-q", "--posterior", "rwanda_tpn").exit_code == 0
    bad = invoke("run", "rwanda_tpn", "--posterior", "rwanda_tnp")
    assert bad.exit_code == 2 and "did you mean 'rwanda_tpn'" in bad.stderr
    typo = invoke("run", "rwanda_tnp")
    assert typo.exit_code == 2 and "did you mean 'rwanda_tpn'" in typo.stderr
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.toml").write_text('extends = "rwanda_tpn.toml"\nname = "mine"\n')
    assert invoke("validate", "mine").exit_code == 0


def test_package_files_a_user_expects():
    from pathlib import Path

    root = Path(__file__).parent.parent
    assert "MIT License" in (root / "LICENSE").read_text()
    citation = (root / "CITATION.cff").read_text()
    assert f'version: "{version("twinsim")}"' in citation and "10.9745/GHSP-D-23-00280" in citation
    assert "## [Unreleased]" in (root / "CHANGELOG.md").read_text()
    assert (Path(twinsim.__file__).parent / "py.typed").is_file()
    ignored = (root / ".gitignore").read_text().split()
    for folder in ("/out/", "/results/", "/runs/", "/calibration/"):
        assert folder in ignored


def test_a_table_too_wide_for_the_terminal_leaves_columns_out_and_says_which(monkeypatch):
    from rich.console import Console

    from twinsim.cli import common

    buffer = io.StringIO()
    monkeypatch.setattr(common, "out_console", Console(width=60, file=buffer))
    table = common.new_table("wide", [f"column {i}" for i in range(8)], left=("column 0",), drop=("column 3",))
    common.add_row(table, "rwanda_tpn", *[f"{188_337 + i:,}" for i in range(7)])
    common.show_table(table)
    text = buffer.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 60
    assert "188,337" in text and "188,339" not in text and "188,341" in text  # whole numbers; column 3 went first
    assert "Left out to fit 60 columns: column 3, column 7" in " ".join(text.split())
    buffer.truncate(0)
    buffer.seek(0)
    monkeypatch.setattr(common, "out_console", Console(width=14, file=buffer))
    common.show_table(table)  # not even two columns fit: one block per row, titled with its label
    text = buffer.getvalue()
    assert "column 0:" in text and "rwanda_tpn" in text and "188," in text
