"""`labkit argocd up|down|status`: the real Argo CD on the lab, from a terminal.

A thin layer over :class:`labkit.argocd.ArgoCD` (``lab.argocd``). ``up``
builds Argo CD on first use (progress lines, the build log's path), installs
it and logs the learner's ``argocd`` CLI in; after ``eval "$(labkit env)"``
a plain ``argocd app list`` works.
"""

from __future__ import annotations

import json

import click

from labkit.cli.base import friendly_errors, main
from labkit.cli.lab_cmds import _progress
from labkit.settings import Settings


@main.group(name="argocd", help="The real Argo CD on the lab: up, down, status.")
def argocd_group() -> None:
    pass


@argocd_group.command(name="up")
@friendly_errors
def up_cmd() -> None:
    """Build (first time), install and start Argo CD; log the argocd CLI in."""
    from labkit.lab import Lab

    lab = Lab.attach(Settings())
    with _progress("starting Argo CD…") as report:
        status = lab.argocd.up(report)
    click.echo(json.dumps(status, indent=2))
    click.echo('next: eval "$(labkit env)"; argocd app list')


@argocd_group.command(name="down")
@friendly_errors
def down_cmd() -> None:
    """Delete Argo CD's Applications and stop its processes (labkit's agent keeps running)."""
    from labkit.lab import Lab

    with _progress("stopping Argo CD…") as report:
        Lab.attach(Settings()).argocd.down(report)


@argocd_group.command(name="status")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@friendly_errors
def status_cmd(as_json: bool) -> None:
    """Version, API server, and the state of each Argo CD process."""
    from labkit.lab import Lab

    status = Lab.attach(Settings()).argocd.status()
    if as_json:
        click.echo(json.dumps(status, indent=2))
    elif status is None:
        click.echo("Argo CD is not running on this lab; start it with: labkit argocd up")
    else:
        click.echo(f"Argo CD {status['version']}  API {status['server']}")
        for name, state in status["states"].items():
            click.echo(f"  {name:<32} {state:<10} pid {status['pids'][name]}")
