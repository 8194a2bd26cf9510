"""`labkit flux up|down|status|get|reconcile`: the real Flux on the lab, from a terminal.

A thin layer over :class:`labkit.flux.Flux` (``lab.flux``). Flux's own CLI
cannot be built from its Go module (it embeds manifests that only Flux's
release script generates), so ``get`` and ``reconcile`` do what ``flux get``
and ``flux reconcile`` do, through the Kubernetes API, and ``reconcile``
echoes the ``kubectl annotate`` a learner could type instead. Objects are
created with plain ``kubectl apply``.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from labkit.cli.base import friendly_errors, main
from labkit.cli.lab_cmds import _progress
from labkit.flux.install import NAMESPACE
from labkit.flux.objects import KINDS, success_message, table
from labkit.settings import Settings

KIND = click.Choice(sorted(KINDS))


@main.group(name="flux", help="The real Flux on the lab: up, down, status, get, reconcile.")
def flux_group() -> None:
    pass


@flux_group.command(name="up")
@friendly_errors
def up_cmd() -> None:
    """Build (first time), install and start source-controller and kustomize-controller."""
    from labkit.lab import Lab

    lab = Lab.attach(Settings())
    with _progress("starting Flux…") as report:
        status = lab.flux.up(report)
    click.echo(json.dumps(status, indent=2))
    click.echo("next: kubectl apply -f a GitRepository and a Kustomization; labkit flux get")


@flux_group.command(name="down")
@friendly_errors
def down_cmd() -> None:
    """Delete Flux's objects (their finalizers run), then stop the controllers."""
    from labkit.lab import Lab

    with _progress("stopping Flux…") as report:
        Lab.attach(Settings()).flux.down(report)


@flux_group.command(name="status")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@friendly_errors
def status_cmd(as_json: bool) -> None:
    """Version and the state of each Flux controller."""
    from labkit.lab import Lab

    status = Lab.attach(Settings()).flux.status()
    if as_json:
        click.echo(json.dumps(status, indent=2))
    elif status is None:
        click.echo("Flux is not running on this lab; start it with: labkit flux up")
    else:
        click.echo(f"Flux controllers {status['version']}  namespace {status['namespace']}")
        for name, state in status["states"].items():
            click.echo(f"  {name:<22} {state:<10} pid {status['pids'][name]}")


@flux_group.command(name="get")
@click.argument("kind", type=KIND, required=False)
@click.option("-n", "--namespace", default=None, help="Only this namespace (default: all, like -A).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON (reason included).")
@friendly_errors
def get_cmd(kind: str | None, namespace: str | None, as_json: bool) -> None:
    """GitRepositories and Kustomizations with their Ready status, as `flux get all -A` shows them."""
    from labkit.lab import Lab

    rows = Lab.attach(Settings()).flux.get(kind, namespace)
    if as_json:
        click.echo(json.dumps([asdict(r) for r in rows], indent=2))
        return
    if not rows:
        click.echo("no GitRepositories or Kustomizations; create them with kubectl apply -f FILE")
        return
    lines = table(rows)
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]) - 1)]
    for line in lines:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=False)) + "  " + line[-1])


@flux_group.command(name="reconcile")
@click.argument("kind", type=KIND)
@click.argument("name")
@click.option("-n", "--namespace", default=NAMESPACE, show_default=True)
@click.option("--with-source", is_flag=True, help="Reconcile a Kustomization's source first.")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for the controller.")
@friendly_errors
def reconcile_cmd(kind: str, name: str, namespace: str, with_source: bool, timeout: float) -> None:
    """Ask Flux to reconcile now (the reconcile.fluxcd.io/requestedAt annotation) and wait for it."""
    from labkit.lab import Lab

    row = Lab.attach(Settings()).flux.reconcile(
        kind, name, namespace, with_source=with_source, timeout_s=timeout, progress=click.echo
    )
    if row.ready != "True":
        click.echo(f"✗ {row.kind} reconciliation failed ({row.reason}): {row.message}", err=True)
        raise SystemExit(1)
    click.echo(f"✔ {success_message(row)}")
