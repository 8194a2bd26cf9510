"""`labkit toolchain ensure|status`: the control-plane binaries from the command line.

`make binaries` calls `labkit toolchain ensure`; `status` shows where each
binary comes from without building anything. Both are thin layers over
:mod:`labkit.cluster.toolchain`.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict

import click

from labkit.cli.base import friendly_errors, main
from labkit.cluster import toolchain
from labkit.cluster.components import DEFAULT_GROUPS, GROUPS
from labkit.settings import Settings


@main.group(
    name="toolchain",
    help="Build, find and check the pinned binaries (control plane, helm, kustomize, Argo CD).",
)
def toolchain_group() -> None:
    pass


WITH = click.option(
    "--with",
    "extra",
    multiple=True,
    type=click.Choice([g for g in GROUPS if g not in DEFAULT_GROUPS]),
    help="Also the optional engines (repeatable): argocd, flux.",
)


@toolchain_group.command(name="ensure")
@click.option("--rebuild", is_flag=True, help="Rebuild (or re-download) even when the cache verifies.")
@WITH
@friendly_errors
def ensure_cmd(rebuild: bool, extra: tuple[str, ...]) -> None:
    """Make sure every binary is present: cache, else build with Go, else download."""
    start = time.monotonic()

    def progress(message: str) -> None:
        click.echo(f"[{time.monotonic() - start:6.1f}s] {message}")

    groups = DEFAULT_GROUPS + tuple(extra)
    tools = toolchain.ensure(Settings(), rebuild=rebuild, progress=progress, groups=groups)
    width = max(len(name) for name in tools.paths)
    for name, path in tools.paths.items():
        click.echo(f"  {name:<{width}}  {tools.sources[name]:<8} {path}")
    click.echo(f"toolchain ready in {time.monotonic() - start:.1f} s; next: labkit up")


@toolchain_group.command(name="status")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@WITH
@friendly_errors
def status_cmd(as_json: bool, extra: tuple[str, ...]) -> None:
    """Show where each binary comes from; exit 1 if ensure still has work to do."""
    rows = toolchain.status(Settings(), groups=DEFAULT_GROUPS + tuple(extra))
    if as_json:
        click.echo(json.dumps([asdict(r) for r in rows], indent=2))
    else:
        for r in rows:
            mark = "ok " if r.ok else "-- "
            if r.path:
                where = r.path
            elif r.source == "missing":
                where = f"(missing: {r.detail})"
            else:
                where = f"(ensure would {r.source} it: {r.detail})"
            click.echo(f"{mark}{r.binary:<24} {r.version:<9} {r.source:<8} {where}")
        if not all(r.ok for r in rows):
            click.echo("next step: labkit toolchain ensure")
    raise SystemExit(0 if all(r.ok for r in rows) else 1)
