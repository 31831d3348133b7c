"""``twinsim explore``: the browser explorer (needs the ``viz`` extra)."""

from __future__ import annotations

from typing import Annotated

import typer

from twinsim.cli.common import err_console, user_errors


def loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (a loopback address, or ``localhost``)."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@user_errors
def explore(
    scenario: Annotated[str, typer.Argument(help="A scenario file, or the name of a bundled scenario.")] = "rwanda_tpn",
    host: Annotated[str, typer.Option(help="Address to listen on (default: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8765,
) -> None:
    """Serve the interactive explorer (sliders, play / step / reset, network, donor panel) in the browser."""
    from twinsim.viz.explorer import require_viz, serve

    require_viz()
    if not loopback(host):
        err_console.print(
            f"twinsim: warning: --host {host} serves the explorer beyond this machine: anyone who can reach"
            f" {host}:{port} can use it and run simulations on this computer (the default, 127.0.0.1, serves only"
            " this machine)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    err_console.print(f"twinsim explore: http://{host}:{port}/ (Ctrl+C to stop)", markup=False, highlight=False)
    serve(scenario, host=host, port=port)
