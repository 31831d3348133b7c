"""Every example a command's --help prints runs as printed and exits 0.

The examples are read from the help text itself (``twinsim <command> --help``, the lines under "Examples:"), not
from the table in the code, and run from an empty folder that holds only ``my_country.toml`` (the user's own file
in ``twinsim validate my_country.toml``). ``twinsim explore`` serves until interrupted: there the server's start
(uvicorn.run) is replaced by a stub once the scenario is checked, so the example's arguments are what is tested.
"""

import shlex

import pytest
from typer.testing import CliRunner

from twinsim.cli import EXAMPLES, app

runner = CliRunner()
MY_COUNTRY = """\
extends = "rwanda_tpn"
name = "my_country"
description = "A country's own network: the Rwanda TPN with two twins per chosen topic."

[programme]
twins_per_topic = 2
"""


def _help_examples(command: str) -> list[str]:
    res = runner.invoke(app, [command, "--help"], terminal_width=400)
    assert res.exit_code == 0, res.output
    lines = res.stdout.split("Examples:", 1)[1].splitlines()
    return [line.strip() for line in lines if line.strip().startswith("twinsim ")]


EXAMPLE_LINES = [(command, line) for command in sorted(EXAMPLES) for line in _help_examples(command)]


def test_the_help_prints_every_example_of_the_table_whole():
    for command, lines in EXAMPLES.items():
        assert [line for c, line in EXAMPLE_LINES if c == command] == lines


@pytest.mark.parametrize(("command", "line"), EXAMPLE_LINES, ids=[line for _, line in EXAMPLE_LINES])
def test_help_example_runs(command, line, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_country.toml").write_text(MY_COUNTRY, encoding="utf-8")
    served = []
    if command == "explore":
        pytest.importorskip("solara")
        import uvicorn
        from solara.server import settings

        from twinsim.viz.explorer import SCENARIO_ENV

        for key in (SCENARIO_ENV, "SOLARA_APP", "SOLARA_TELEMETRY_MIXPANEL_ENABLE", "SERVER_NAME", "SERVER_PORT"):
            monkeypatch.setenv(key, "")  # serve() sets them: restored after the test
        monkeypatch.setattr(settings.main, "mode", settings.main.mode)
        monkeypatch.setattr(settings.telemetry, "mixpanel_enable", settings.telemetry.mixpanel_enable)
        monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.append(kw))
    args = shlex.split(line, comments=True)
    assert args[0] == "twinsim" and args[1] == command
    res = runner.invoke(app, args[1:])
    assert res.exit_code == 0, f"{line}\n{res.output[-2000:]}"
    if command == "explore":
        port = int(args[args.index("--port") + 1]) if "--port" in args else 8765
        assert served == [{"host": "127.0.0.1", "port": port, "log_level": "warning"}]
