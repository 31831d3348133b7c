"""``twinsim explore``: the browser explorer (needs the ``viz`` extra)."""

from __future__ import annotations

from typing import Annotated

import typer

from twinsim.cli.common import err_console, user_errors


@user_errors
def explore(
    scenario: Annotated[str, typer.Argument(help="A scenario file, or the name of a bundled scenario.")] = "rwanda_tpn",
    host: Annotated[str, typer.Option(help="Address to listen on (default: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8765,
) -> None:
    """Serve the interactive explorer (sliders, play / step / reset, network, donor panel) in the browser."""
    from twinsim.viz.explorer import require_viz, serve

    require_viz()
    err_console.print(f"twinsim explore: http://{host}:{port}/ (Ctrl+C to stop)", markup=False, highlight=False)
    serve(scenario, host=host, port=port)
