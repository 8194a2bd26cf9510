"""`labkit git-http run`: serve the lab's Git repository over smart HTTP on 127.0.0.1.

Registered on the root group by ``labkit.cli``. The lab's supervisor runs the
command line :func:`labkit.githttp.argv` gives; a learner can run it by hand
too. It calls :func:`labkit.githttp.run`, which serves until SIGTERM.
"""

from __future__ import annotations

from pathlib import Path

import click

from labkit import githttp, ports
from labkit.cli.base import friendly_errors, main
from labkit.git import HTTP_PORT_NAME
from labkit.settings import Settings


@main.group(
    "git-http", help="The lab's Git server over HTTP: anonymous clone, push with the lab's credential."
)
def git_http() -> None:
    pass


@git_http.command("run", help="Serve the lab's repository on 127.0.0.1 until stopped (SIGTERM or Ctrl-C).")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The lab's state directory (default: the current lab's).",
)
@click.option("--port", type=int, default=None, help="Port on 127.0.0.1 (default: the lab's git-http port).")
@friendly_errors
def run(state_dir: Path | None, port: int | None) -> None:
    state_dir = state_dir or Settings().state_dir
    githttp.run(state_dir, port if port is not None else ports.port(state_dir, HTTP_PORT_NAME))
